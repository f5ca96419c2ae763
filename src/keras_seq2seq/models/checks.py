"""The checks of `Seq2Seq`'s arguments and of the loss it is compiled with."""

import math
import numbers

import keras
from keras import ops

from keras_seq2seq.decoding.compile import is_traced


def expects_probabilities(loss):
    """Whether `loss` is a Keras cross-entropy on probabilities."""
    names = ("sparse_categorical_crossentropy", "categorical_crossentropy")
    if isinstance(loss, str):
        return loss in names
    losses = keras.losses
    if loss in (
        losses.sparse_categorical_crossentropy,
        losses.categorical_crossentropy,
    ):
        return True
    if isinstance(
        loss,
        (losses.SparseCategoricalCrossentropy, losses.CategoricalCrossentropy),
    ):
        return not loss.get_config().get("from_logits", False)
    return False


def is_per_token(loss):
    """Whether `loss` is Keras' sparse cross-entropy, a loss per position."""
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        return True
    if isinstance(loss, str):
        return loss == "sparse_categorical_crossentropy"
    return loss is keras.losses.sparse_categorical_crossentropy


def loss_reduction(loss):
    """The reduction Keras applies with `loss` as compiled: a `Loss`'s own,
    else `"sum_over_batch_size"` (Keras wraps a name or a function in a
    `LossFunctionWrapper`); a list or dict of one loss is that loss."""
    if isinstance(loss, (list, tuple, dict)) and len(loss) == 1:
        (loss,) = loss.values() if isinstance(loss, dict) else loss
    if isinstance(loss, keras.losses.Loss):
        return loss.reduction
    return "sum_over_batch_size"


def check_bool(name, value, optional=False):
    """Raises `ValueError` unless `value` is a bool (or `None`, `optional`)."""
    if not isinstance(value, bool) and not (optional and value is None):
        allowed = "True, False or None" if optional else "True or False"
        raise ValueError(
            f"`{name}` must be {allowed}. Received: {name}={value!r}"
        )


def check_choice(name, value, choices):
    """Raises `ValueError` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {tuple(choices)}. "
            f"Received: {name}={value!r}"
        )


def check_bridge(bridge, encoder_units, bidirectional, decoder_units):
    """Raises `ValueError` when `bridge="last"` would hand the decoder an
    encoder state (`encoder_units`, twice when `bidirectional`) of another
    depth than `decoder_units`."""
    encoder_depth = encoder_units * (2 if bidirectional else 1)
    if bridge == "last" and encoder_depth != decoder_units:
        raise ValueError(
            "bridge='last' needs the encoder state depth "
            f"({encoder_depth}) to equal decoder_units ({decoder_units})."
        )


def check_dropout(dropout):
    """Raises `ValueError` unless `0 <= dropout < 1`."""
    if not 0 <= dropout < 1:
        raise ValueError(
            f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
        )


def check_ratio(name, value, width):
    """Raises `ValueError` unless the float `value` is finite and > 0 and
    the source `width` it multiplies is known (not `None`, as in a graph
    traced for ids of any width)."""
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"A float `{name}` is a ratio of the source width and must be "
            f"finite and > 0. Received: {name}={value!r}"
        )
    if width is None:
        raise ValueError(
            f"A float `{name}` is a ratio of the source width, unknown "
            f"here (ids traced for any width): pass an int `{name}`, the "
            f"number of steps. Received: {name}={value!r}"
        )


def check_hypotheses(n_best, max_length, vocab_size, pad_id, eos_id):
    """Raises `ValueError` when beam search is asked for more hypotheses
    than `max_length` tokens can make: no search chooses `pad_id` (unless
    it is `eos_id`), so a beam as wide as the vocabulary keeps a
    hypothesis of padding scored -inf after its first step, and one-token
    hypotheses (`max_length=1`) returned it as an answer. With `m` tokens
    besides `eos_id` and `pad_id`, there are `m ** (l - 1)` hypotheses
    ended at `l` tokens and `m ** T` cut at `T = max_length`."""
    integers = [isinstance(n, numbers.Integral) for n in (n_best, max_length)]
    bools = [isinstance(n, bool) for n in (n_best, max_length)]
    if not all(integers) or any(bools) or max_length < 1:
        return  # The search's own checks refuse these.
    tokens = vocab_size - (pad_id != eos_id)
    count, length = 0, 0
    while count < n_best and length < max_length:
        count += (tokens - 1) ** length  # the hypotheses ended at length + 1
        length += 1
    count += (tokens - 1) ** max_length if length == max_length else 0
    if n_best > count:
        raise ValueError(
            f"`n_best` must be <= {count}: {tokens} of the {vocab_size} "
            f"tokens can be chosen (no search chooses pad_id={pad_id}), "
            f"which make {count} hypotheses of at most "
            f"max_length={max_length} tokens. Received: n_best={n_best}"
        )


def check_pair(inputs):
    """Raises `ValueError` unless `inputs` is a pair `(source_ids,
    target_in_ids)`: a single tensor of two rows would unpack as one, and
    reach the encoder as ids of the wrong rank."""
    if isinstance(inputs, (list, tuple)) and len(inputs) == 2:
        return
    if isinstance(inputs, (list, tuple)):
        received = f"a {type(inputs).__name__} of {len(inputs)}"
    elif isinstance(inputs, dict):  # Keras' named inputs: no shape
        received = f"a dict with keys {sorted(inputs, key=str)}"
    else:
        received = f"shape={tuple(ops.shape(inputs))}"
    raise ValueError(
        "Seq2Seq is called on a pair (source_ids, target_in_ids), the "
        "teacher-forced call of training; to translate source ids, use "
        "generate(source_ids); a dataset or generator for predict yields "
        "((source_ids, target_in_ids),), since Keras reads a pair it "
        f"yields as (x, y). Received: {received}"
    )


def check_source_ids(source_ids, vocab_size=None):
    """`source_ids` as an int32 tensor; `ValueError` unless integer ids of
    shape `(B, Ts)` with `B, Ts >= 1` (a float id would be truncated, and
    a rank or an empty axis the encoder cannot run gave its own error) in
    `[0, vocab_size)` (an id outside it failed in the embedding's gather on
    TensorFlow and PyTorch and was silently clipped on JAX). The range of
    traced ids (a user's `tf.function` or `jax.jit`, an export) is not
    read: their values do not exist yet. Rows of other lengths (a
    tokenizer's, not padded) are refused in one line, where each backend
    gave its own error about the conversion."""
    if isinstance(source_ids, (list, tuple)):
        widths = sorted(
            {len(row) for row in source_ids if hasattr(row, "__len__")},
            reverse=True,
        )
        if len(widths) > 1:
            raise ValueError(
                "`source_ids` must be padded to one width: received rows "
                f"of {' and '.join(map(str, widths))} tokens: pad them with "
                "the model's pad_id, e.g. keras.utils.pad_sequences(rows, "
                "padding='post', value=pad_id)"
            )
    source_ids = ops.convert_to_tensor(source_ids)
    dtype = keras.backend.standardize_dtype(source_ids.dtype)
    shape = tuple(source_ids.shape)
    if (
        "int" not in dtype
        or len(shape) != 2
        or any(isinstance(n, int) and n < 1 for n in shape)
    ):
        raise ValueError(
            "`source_ids` must be integer token ids of shape (B, Ts), "
            "with B >= 1 and Ts >= 1. Received: "
            f"shape={shape}, dtype={dtype}"
        )
    if vocab_size is not None and not is_traced(source_ids):
        ids = ops.convert_to_numpy(source_ids)
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(
                "`source_ids` must be in [0, source_vocab_size="
                f"{vocab_size}). Received: ids from {low} to {high}"
            )
    return ops.cast(source_ids, "int32")
