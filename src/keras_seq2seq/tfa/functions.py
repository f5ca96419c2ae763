"""TFA's free functions with TFA's signatures, over the library's.

`keras_seq2seq.ops`, `keras_seq2seq.decoding.beam_ops` and
`keras_seq2seq.losses` compute these; TFA programs call them with TFA's
arguments, which differ in three places:

- `safe_cumprod` is called as `tf.math.cumprod`: `axis` defaults to 0 (the
  library's to 1), and `reverse` is accepted;
- `hardmax`, `tile_batch` and `sequence_loss` take TFA's `name`, which names
  a TensorFlow op scope and has no effect here; `tile_batch` also tiles the
  batch axis of an `AlignmentHistory` (axis 1);
- `sequence_loss` takes TFA's arguments in TFA's order, then the
  library's `label_smoothing`.

`monotonic_attention` and `gather_tree` have TFA's signatures already;
`gather_tree_from_array` is TFA's, over `gather_tree`.
"""

import keras
from keras import ops

from keras_seq2seq import losses
from keras_seq2seq import ops as seq2seq_ops
from keras_seq2seq.decoding import beam_ops
from keras_seq2seq.decoding.step import check_int
from keras_seq2seq.tfa.alignment_history import AlignmentHistory


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
    """
    del name
    multiplier = check_int("multiplier", multiplier, 1)

    def tile(x):
        if isinstance(x, AlignmentHistory):
            stacked = ops.swapaxes(x.stack(), 0, 1)  # (B, steps, Ts)
            tiled = beam_ops.tile_batch(stacked, multiplier)
            return AlignmentHistory(ops.swapaxes(tiled, 0, 1))
        return beam_ops.tile_batch(x, multiplier)

    return keras.tree.map_structure(tile, t)


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
    in_bounds = ops.arange(steps)[:, None, None] < lengths[None]  # (T, B, K)
    path = ops.where(in_bounds, path, slots)
    grouped = ops.reshape(t, (steps, batch_size, beam_size, -1))
    ordered = ops.take_along_axis(grouped, path[..., None], axis=2)
    return ops.reshape(ordered, ops.shape(t))


def sequence_loss(
    logits,
    targets,
    weights,
    average_across_timesteps=True,
    average_across_batch=True,
    sum_over_timesteps=False,
    sum_over_batch=False,
    softmax_loss_function=None,
    name=None,
    label_smoothing=0.0,
):
    """TFA's `sequence_loss` (and the library's `label_smoothing`): see
    `keras_seq2seq.losses.sequence_loss`."""
    del name
    return losses.sequence_loss(
        logits,
        targets,
        weights,
        average_across_timesteps=average_across_timesteps,
        average_across_batch=average_across_batch,
        sum_over_timesteps=sum_over_timesteps,
        sum_over_batch=sum_over_batch,
        softmax_loss_function=softmax_loss_function,
        label_smoothing=label_smoothing,
    )
