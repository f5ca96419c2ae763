"""TFA's free functions with TFA's signatures, over the library's.

`keras_seq2seq.ops`, `keras_seq2seq.decoding.beam_ops` and
`keras_seq2seq.losses` compute these; TFA programs call them with TFA's
arguments, which differ in two places (`sequence_loss` is in
`sequence_losses.py`):

- `safe_cumprod` is called as `tf.math.cumprod`: `axis` defaults to 0 (the
  library's to 1), and `reverse` is accepted;
- `hardmax` and `tile_batch` take TFA's `name`, which names a TensorFlow
  op scope and has no effect here; `tile_batch` also tiles the batch axis
  of an `AlignmentHistory` (axis 1), and takes an int scalar tensor as
  `multiplier`, as TFA's did.

`gather_tree` adds the checks and reads of TFA's kernel to the library's:
a scalar `end_token`, parent ids in `[0, K]` wherever its walk reads them
(`K` reads the entry that follows beam `K - 1`).
`monotonic_attention` has TFA's signature already; `gather_tree_from_array`
is TFA's, over the library's `gather_tree`.
"""

import keras
import numpy as np
from keras import ops

from keras_seq2seq import ops as seq2seq_ops
from keras_seq2seq.decoding import beam_ops
from keras_seq2seq.decoding.step import check_int
from keras_seq2seq.tfa.alignment_history import AlignmentHistory
from keras_seq2seq.tfa.tensor_values import known_value


def hardmax(logits, name=None):
    """One-hot of the first maximum over the last axis (TFA's `hardmax`)."""
    del name
    return seq2seq_ops.hardmax(logits)


def safe_cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """`tf.math.cumprod(x, axis, exclusive, reverse)` as `exp(cumsum(log))`.

    TFA's `safe_cumprod`: `x` is clipped to `[tiny, 1]` before the log, so
    long products of probabilities neither underflow to 0 nor give NaN
    gradients.

    Args:
        x: float tensor with values in `[0, 1]`.
        axis: int. Defaults to `0`, as `tf.math.cumprod`.
        exclusive: bool. Each product leaves its own entry out (starts
            from 1). Defaults to `False`.
        reverse: bool. Products from the end of `axis`. Defaults to `False`.
        name: accepted for TFA compatibility; no effect.

    Returns:
        tensor of the shape and dtype of `x`.
    """
    del name
    x = ops.convert_to_tensor(x)
    if reverse:
        x = ops.flip(x, axis=axis)
    products = seq2seq_ops.safe_cumprod(x, axis=axis, exclusive=exclusive)
    return ops.flip(products, axis=axis) if reverse else products


def tile_batch(t, multiplier, name=None):
    """Each batch entry repeated `multiplier` times (TFA's `tile_batch`).

    An `AlignmentHistory` in `t` (a whole `AttentionWrapperState` tiled for
    beam search) stays one, its batch axis repeated: it is time-major
    `(steps, B, Ts)`, so its entries are repeated along axis 1, not 0.
    `multiplier` is an int >= 1, or an int scalar tensor with a value
    (eagerly).
    """
    del name
    multiplier = check_int("multiplier", _int_value(multiplier), 1)

    def tile(x):
        if isinstance(x, AlignmentHistory):
            stacked = ops.swapaxes(x.stack(), 0, 1)  # (B, steps, Ts)
            tiled = beam_ops.tile_batch(stacked, multiplier)
            return AlignmentHistory(ops.swapaxes(tiled, 0, 1))
        return beam_ops.tile_batch(x, multiplier)

    return keras.tree.map_structure(tile, t)


def _int_value(multiplier):
    """An int scalar tensor's value (TFA converted `multiplier` to a
    tensor, so `tile_batch(x, tf.constant(3))` or a beam width read from a
    tensor worked); any other value unchanged, for `check_int`.

    Raises:
        ValueError: for a traced int scalar (inside a compiled function):
            the number of copies sets the result's shape.
    """
    shape = getattr(multiplier, "shape", None)
    if shape is None or tuple(shape) != () or not hasattr(multiplier, "dtype"):
        return multiplier
    if "int" not in keras.backend.standardize_dtype(multiplier.dtype):
        return multiplier
    value = known_value(multiplier)
    if value is None:
        raise ValueError(
            "Inside a compiled function `multiplier` must be a Python int "
            "(a traced tensor has no value to size the result). "
            f"Received: multiplier={multiplier!r}"
        )
    return value


def gather_tree(step_ids, parent_ids, max_sequence_lengths, end_token):
    """TFA's `gather_tree`: `keras_seq2seq.decoding.beam_ops.gather_tree`,
    with the checks and the reads of TFA's kernel.

    TFA's kernel raised (InvalidArgumentError; here ValueError) for an
    `end_token` that is not a scalar, and for a parent id below 0 or above
    `K` that its walk reads: beam `j` of row `b` is walked back from step
    `length - 1`, and the parents of steps `length - 1` down to 1 along
    its path are read; those of step 0, past the length or off every
    path are not. A parent id of exactly `K` passed its check and read the
    entry that follows beam `K - 1` in the `(T, B, K)` layout: beam 0 of
    row `b + 1` at the same step (of row 0 at the next step for the last
    row); so does this function. (TFA's pure-TensorFlow fallback refused
    it.) The parents are checked where their values are known (eagerly);
    in a compiled function they are not.

    Args:
        step_ids: int tensor `(T, B, K)`.
        parent_ids: int tensor `(T, B, K)`.
        max_sequence_lengths: int tensor `(B,)`.
        end_token: int or scalar int tensor.

    Returns:
        tensor `(T, B, K)` of the dtype of `step_ids`.

    Raises:
        ValueError: for a non-scalar `end_token`, a parent id its walk
            reads outside `[0, K]`, or the shapes and dtypes the library's
            `gather_tree` refuses.
    """
    end_shape = tuple(ops.shape(ops.convert_to_tensor(end_token)))
    if end_shape:
        raise ValueError(f"end_token must be a scalar, saw shape: {end_shape}")
    parents = _known_values(parent_ids)
    lengths = _known_values(max_sequence_lengths)
    shapes_fit = (
        parents is not None
        and lengths is not None
        and parents.dtype.kind in "iu"
        and parents.ndim == 3
        and lengths.shape == parents.shape[1:2]
    )
    if shapes_fit:  # else the library's `gather_tree` says what is wrong
        _check_walked_parents(_with_following_entry(parents), lengths)
    step_ids = ops.convert_to_tensor(step_ids)
    parent_ids = ops.convert_to_tensor(parent_ids)
    shape = step_ids.shape
    if len(shape) != 3 or shape != parent_ids.shape or 0 in shape:
        return beam_ops.gather_tree(
            step_ids, parent_ids, max_sequence_lengths, end_token
        )
    beams = beam_ops.gather_tree(
        _with_following_entry(step_ids),
        _with_following_entry(parent_ids),
        max_sequence_lengths,
        end_token,
    )
    return beams[:, :, :-1]


def _with_following_entry(x):
    """`x` `(T, B, K)` with a beam `K` more: at step `t` of row `b` the
    entry that follows beam `K - 1` in the `(T, B, K)` layout (where TFA's
    kernel read a parent id `K`); zeros at the last step of the last row,
    which no walk reads. A NumPy array stays one."""
    xp = np if isinstance(x, np.ndarray) else ops
    steps, batch, beam = x.shape
    rows = xp.reshape(x, (-1, beam))  # (T*B, K), in layout order
    following = xp.pad(rows[1:, :1], [[0, 1], [0, 0]])
    following = xp.reshape(following, (-1, batch or ops.shape(x)[1], 1))
    return xp.concatenate([x, following], axis=2)


def _known_values(x):
    """`x` as a NumPy array, or `None` inside a compiled function (a
    traced tensor has no value: TensorFlow raises NotImplementedError, JAX
    a TypeError)."""
    try:
        return np.asarray(ops.convert_to_numpy(x))
    except (NotImplementedError, TypeError):
        return None


def _check_walked_parents(parents, lengths):
    """Raises TFA's "Saw invalid parent id" for a parent outside `[0, K]`
    that the backward walk of `gather_tree` reads.

    `parents` `(T, B, K + 1)` (`_with_following_entry`'s) and `lengths`
    `(B,)` are NumPy arrays; the walk runs over every beam at once, from
    the last step down to step 1.
    """
    steps, batch_size, beam_size = parents.shape
    beam_size -= 1
    rows = np.arange(batch_size)[:, None]
    beam = np.broadcast_to(np.arange(beam_size), (batch_size, beam_size))
    lengths = lengths.astype("int64")[:, None]
    for t in range(steps - 1, 0, -1):
        read = parents[t, rows, beam]  # (B, K): the parents walked into
        walked = np.broadcast_to(t < lengths, read.shape)
        bad = walked & ((read < 0) | (read > beam_size))
        if bad.any():
            b, j = np.argwhere(bad)[0]
            raise ValueError(
                f"Saw invalid parent id {read[b, j]} at parent_ids[{t}, {b}, "
                f"{beam[b, j]}] (time, batch, beam), walking back beam {j}: "
                f"parent ids must be in [0, {beam_size}) (the beam width; "
                f"TFA's kernel also read {beam_size}) at the steps "
                "gather_tree walks back through."
            )
        beam = np.where(walked, read, beam)


def gather_tree_from_array(t, parent_ids, sequence_length):
    """A beam search's stacked per-step tensors in each final beam's order.

    TFA's `gather_tree_from_array`, which reorders the `TensorArray`s of a
    beam search's cell state: final beam `j`'s slots are backtracked
    through `parent_ids` (with `gather_tree`, from the batch's longest
    beam), step `t` of row `j` takes the entry of the slot beam `j`
    occupied after step `t`, and steps at and after `sequence_length[b,
    j]` keep row `j`'s own entry.

    Args:
        t: tensor `(T, B*K, ...)` or `(T, B, K, ...)`.
        parent_ids: int tensor `(T, B, K)`.
        sequence_length: int tensor `(B, K)`.

    Returns:
        tensor of the shape and dtype of `t`.
    """
    t = ops.convert_to_tensor(t)
    parent_ids = ops.cast(parent_ids, "int32")
    lengths = ops.cast(sequence_length, "int32")
    # `ops.shape`: in a TensorFlow graph the steps may be known at run time
    # only (`dynamic_decode`'s while loop); the beam width is always static.
    steps, batch_size, _ = ops.shape(parent_ids)
    beam_size = parent_ids.shape[2]
    slots = ops.broadcast_to(
        ops.arange(beam_size, dtype="int32"), ops.shape(parent_ids)
    )
    # An end token that no slot equals: nothing is cut after it.
    path = beam_ops.gather_tree(
        slots, parent_ids, ops.max(lengths, axis=1), beam_size + 1
    )
    steps_so_far = ops.arange(steps, dtype="int32")[:, None, None]
    in_bounds = steps_so_far < lengths[None]  # (T, B, K)
    path = ops.where(in_bounds, path, slots)
    grouped = ops.reshape(t, (steps, batch_size, beam_size, -1))
    ordered = ops.take_along_axis(grouped, path[..., None], axis=2)
    return ops.reshape(ordered, ops.shape(t))
