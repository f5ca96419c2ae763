"""Beam search helpers: tiling the batch into beams, backtracking the beams.

Both follow `tfa.seq2seq`'s layouts, so that TFA-era code and numbers port:
beams of one batch entry are consecutive rows (`tile_batch`), and the
per-step arrays of a beam search are time-major `(T, B, K)` (`gather_tree`).
"""

import keras
from keras import ops

from keras_seq2seq.decoding.step import check_int
from keras_seq2seq.ops import sequence_mask, tile_beams


def tile_batch(x, multiplier):
    """Repeats every batch entry `multiplier` times, in nested structures.

    Each tensor `(B, ...)` becomes `(B * K, ...)` with the copies of entry
    `b` in rows `b*K ... b*K + K-1` (`np.repeat(x, K, axis=0)`, not
    `np.tile`), the layout beam search expects for memories, lengths and
    states. Dtypes are kept.

    Args:
        x: tensor `(B, ...)` or a nested structure (tuple, list, dict) of
            them.
        multiplier: int `K >= 1`.

    Returns:
        the structure of `x` with tensors `(B * K, ...)`.

    Raises:
        ValueError: for `multiplier < 1` or a scalar (rank-0) tensor.

    Example:

    >>> ops.convert_to_numpy(tile_batch(np.array([1, 2]), 3)).tolist()
    [1, 1, 1, 2, 2, 2]
    """
    multiplier = check_int("multiplier", multiplier, 1)

    def tile(tensor):
        tensor = ops.convert_to_tensor(tensor)
        if len(tensor.shape) == 0:
            raise ValueError(
                "`tile_batch` needs tensors with a batch axis. "
                f"Received a scalar: shape={tuple(tensor.shape)}"
            )
        return tile_beams(tensor, multiplier)

    return keras.tree.map_structure(tile, x)


def gather_tree(step_ids, parent_ids, max_sequence_lengths, end_token):
    """Backtracks beam search pointers into full sequences, time-major.

    A beam search records, at each step `t`, the id each beam chose
    (`step_ids`) and the beam it extended (`parent_ids`). The sequence that
    ends in beam `j` is read backwards from its last valid step
    `t = min(max_sequence_lengths[b], T) - 1`: `beams[t, b, j] =
    step_ids[t, b, k]`, then `k = parent_ids[t, b, k]`, starting from
    `k = j`. Steps `t >= max_sequence_lengths[b]` get `end_token`, and so
    does every step after the first `end_token` of a sequence (TFA's
    `gather_tree`).

    A reverse `ops.scan` over the steps with fixed shapes: compilable.

    Args:
        step_ids: int tensor `(T, B, K)`.
        parent_ids: int tensor `(T, B, K)`, values in `[0, K)` at the valid
            steps (ignored past `max_sequence_lengths`).
        max_sequence_lengths: int tensor `(B,)`.
        end_token: int or scalar int tensor.

    Returns:
        tensor `(T, B, K)` of the dtype of `step_ids`.

    Example:

    >>> step_ids = np.array([[[1, 2]], [[3, 4]]])  # (T=2, B=1, K=2)
    >>> parent_ids = np.array([[[0, 0]], [[1, 0]]])
    >>> beams = gather_tree(step_ids, parent_ids, np.array([2]), end_token=9)
    >>> ops.convert_to_numpy(beams)[:, 0].T.tolist()  # one row per beam
    [[2, 3], [1, 4]]
    """
    step_ids = ops.convert_to_tensor(step_ids)
    parent_ids = ops.convert_to_tensor(parent_ids)
    max_sequence_lengths = ops.convert_to_tensor(max_sequence_lengths)
    _check_tree_shapes(step_ids, parent_ids, max_sequence_lengths)
    if step_ids.shape[0] == 0:  # nothing to walk (a scan of no steps fails)
        return step_ids
    parent_ids = ops.cast(parent_ids, "int32")
    steps, batch, beam_size = ops.shape(step_ids)
    end_token = ops.cast(end_token, step_ids.dtype)
    lengths = ops.minimum(ops.cast(max_sequence_lengths, "int32"), steps)
    valid = ops.transpose(sequence_mask(lengths, steps))  # (T, B)
    valid = valid[:, :, None]  # (T, B, 1)

    # Parents past a row's length become -1: "stay on this beam". One
    # scanned tensor, because Keras 3.15's TensorFlow `scan` fails on
    # several `xs` whose number of steps is unknown.
    parent_ids = ops.where(valid, parent_ids, -1)

    def backtrack(beam, parents):
        # `beam` (B, K): the beam that sequence `j` occupies at this step.
        # The scan yields it; the ids are gathered once, after the scan.
        parent = ops.take_along_axis(parents, beam, axis=1)
        return ops.where(parent < 0, beam, parent), beam

    # The carry stays `j` until a row's last valid step, so that row's walk
    # starts there from beam `j`.
    start = ops.broadcast_to(
        ops.arange(beam_size, dtype="int32")[None, :], (batch, beam_size)
    )
    _, path = ops.scan(backtrack, start, parent_ids, reverse=True)  # (T, B, K)
    beams = ops.take_along_axis(step_ids, path, axis=2)  # (T, B, K)
    beams = ops.where(valid, beams, end_token)
    # Everything after the first end token is an end token.
    ended = ops.cumsum(ops.cast(ops.equal(beams, end_token), "int32"), axis=0)
    return ops.where(ended > 0, end_token, beams)


def _check_tree_shapes(step_ids, parent_ids, max_sequence_lengths):
    """Raises `ValueError` (TFA's op: InvalidArgumentError) for ids that
    are not integers, and for shapes that do not fit: ids `(T, B, K)` both,
    lengths `(B,)`."""
    for name, ids in (("step_ids", step_ids), ("parent_ids", parent_ids)):
        dtype = keras.backend.standardize_dtype(ids.dtype)
        if "int" not in dtype:
            raise ValueError(
                f"`{name}` must be integer ids. Received: dtype={dtype}"
            )
    if len(step_ids.shape) != 3 or tuple(step_ids.shape) != tuple(
        parent_ids.shape
    ):
        raise ValueError(
            "step_ids.shape must match parent_ids.shape, both (T, B, K). "
            f"Received: step_ids.shape={tuple(step_ids.shape)}, "
            f"parent_ids.shape={tuple(parent_ids.shape)}"
        )
    lengths_shape = tuple(max_sequence_lengths.shape)
    batch = tuple(step_ids.shape)[1]
    rows = lengths_shape[0] if len(lengths_shape) == 1 else None
    if len(lengths_shape) != 1 or (
        isinstance(rows, int) and isinstance(batch, int) and rows != batch
    ):
        raise ValueError(
            "max_sequence_lengths must be (B,), one length per batch row of "
            f"step_ids (T, B, K). Received: max_sequence_lengths.shape="
            f"{lengths_shape}, step_ids.shape={tuple(step_ids.shape)}"
        )
