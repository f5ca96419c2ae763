"""One step of beam search: TFA's scores and penalties, over `(B, K)` beams.

`beam_search` calls `beam_step` inside its loop, and
`keras_seq2seq.tfa.BeamSearchDecoder.step` calls it once per decoder step:
both searches score, freeze and select with this one function. The beam
state is a dict of tensors:

- `log_probs`: float32 `(B, K)`, the sum of each beam's token log-probs
  (float64 in a float64 model of TFA's `BeamSearchDecoder`: the step's
  sums and scores take its dtype).
- `finished`: bool `(B, K)`, True once a beam has chosen `eos_id`.
- `lengths`: int32 `(B, K)`, each beam's tokens, eos counted.
- `coverage`: `(B, K, Ts)` of that dtype, each beam's attention weights
  summed over its unfinished steps; present only with a coverage penalty.
"""

import keras
from keras import ops

from keras_seq2seq.decoding.step import stable_top_k
from keras_seq2seq.ops import SCORE_FILL


def initial_beams(batch_size, beam_size, coverage=None, dtype="float32"):
    """The beam state before step 0: one live beam per entry.

    Beam 0 has log-prob 0; the others have `-inf` and count as finished, so
    the first step expands one beam per entry (TFA's start).

    Args:
        batch_size: int or int32 scalar `B`.
        beam_size: int `K`.
        coverage: optional float `(B, K, Ts)`, the coverage sums to start
            from (TFA starts from the mechanism's initial weights). `None`:
            no coverage entry.
        dtype: the float dtype of the log-probs and the coverage.
            Defaults to `"float32"`.

    Returns:
        dict, the beam state (module docstring).
    """
    first = ops.arange(beam_size)[None, :] == 0  # (1, K)
    shape = (batch_size, beam_size)
    # `dtype` whatever floatx (Python floats would take floatx: float64
    # log-probs met the float32 buffers).
    start = ops.where(first, 0.0, float("-inf"))
    beams = {
        "log_probs": ops.broadcast_to(ops.cast(start, dtype), shape),
        "finished": ops.broadcast_to(ops.logical_not(first), shape),
        "lengths": ops.zeros(shape, dtype="int32"),
    }
    if coverage is not None:
        beams["coverage"] = ops.cast(coverage, dtype)
    return beams


def beam_step(
    beams,
    log_probs,
    weights,
    eos_id,
    length_penalty=0.0,
    coverage_penalty=0.0,
    one_per_beam=False,
):
    """Extends every beam by every token and keeps the `K` best candidates.

    TFA's `_beam_search_step`:

    - A finished beam can only be extended by `eos_id`, at log-prob 0: its
      log-prob and length stay fixed.
    - A candidate (beam, token) has log-prob `beam log-prob + log p(token)`
      and score `log-prob / lp`, with the GNMT length penalty (Wu et al.
      2016, arXiv:1609.08144, eq. 14) `lp = ((5 + length) / 6) **
      length_penalty`. The length counts the tokens, eos included, except
      in the score of the candidate that adds the eos (TFA's rule).
    - With `coverage_penalty = c > 0`, a beam finished before the step adds
      `c * sum_j log(min(acc_j, 1))` over the source positions `j` where
      `acc_j > 0`, `acc` being its coverage after this step.
    - The `K` best candidates of each entry (ties: lower `beam * V + token`
      first) become the new beams.
    - With `one_per_beam`, each beam first keeps only its best candidate
      (ties: lower token), so the new beams extend `K` distinct ones.

    Args:
        beams: dict, the beam state before the step (module docstring);
            needs `coverage` when `coverage_penalty > 0`.
        log_probs: float `(B, K, V)`, this step's log-probs per beam.
        weights: float `(B, K, Ts)`, this step's attention weights per beam
            (read only for the coverage penalty; may be `None` without it).
        eos_id: int or int32 scalar. The token that ends a beam.
        length_penalty: float >= 0. Defaults to `0.0`.
        coverage_penalty: float >= 0. Defaults to `0.0`.
        one_per_beam: bool, or bool scalar tensor. Defaults to `False`.

    Returns:
        `(beams, chosen)`: the beam state after the step, beams in their new
        order, and a dict: `token_ids`, `parent_ids` int32 `(B, K)` (the
        token each new beam added and the beam it extended), `scores`
        `(B, K)` (their penalised scores) and `all_scores` `(B, K, V)`
        (every candidate's score), of the dtype of `beams["log_probs"]`.
    """
    beam_size, vocab_size = log_probs.shape[1], log_probs.shape[2]
    totals, scores, coverage = candidate_scores(
        beams, log_probs, weights, eos_id, length_penalty, coverage_penalty
    )
    if one_per_beam is not False:
        tokens = ops.arange(vocab_size, dtype="int32")
        best = ops.cast(ops.argmax(scores, axis=-1), "int32")  # (B, K)
        keep = ops.logical_or(
            tokens == best[:, :, None], ops.logical_not(one_per_beam)
        )
        scores = ops.where(keep, scores, ops.cast(SCORE_FILL, scores.dtype))
    flat = ops.reshape(scores, (-1, beam_size * vocab_size))  # (B, K*V)
    top_scores, index = stable_top_k(flat, beam_size)  # (B, K)
    parents = index // vocab_size
    token = index % vocab_size
    parent_finished = ops.take_along_axis(beams["finished"], parents, axis=1)
    new = {
        "log_probs": ops.take_along_axis(
            ops.reshape(totals, (-1, beam_size * vocab_size)), index, axis=1
        ),
        "finished": ops.logical_or(parent_finished, token == eos_id),
        "lengths": ops.take_along_axis(beams["lengths"], parents, axis=1)
        + ops.cast(ops.logical_not(parent_finished), "int32"),
    }
    if coverage is not None:
        new["coverage"] = ops.take_along_axis(
            coverage, parents[:, :, None], axis=1
        )
    chosen = {
        "token_ids": token,
        "parent_ids": parents,
        "scores": top_scores,
        "all_scores": scores,
    }
    return new, chosen


def candidate_scores(
    beams, log_probs, weights, eos_id, length_penalty, coverage_penalty
):
    """Every candidate's log-prob and penalised score; see `beam_step`.

    Returns:
        `(totals, scores, coverage)`: `(B, K, V)` log-probs and scores in
        the dtype of `beams["log_probs"]`, and the coverage `(B, K, Ts)`
        after the step (`None` when `beams` has none).
    """
    vocab_size = log_probs.shape[-1]
    dtype = beams["log_probs"].dtype
    finished = beams["finished"]
    # A finished beam may only add eos, at log-prob 0 (TFA's `_mask_probs`).
    # int32 whatever floatx (a float64 floatx makes a Python int int64).
    is_eos = ops.arange(vocab_size, dtype="int32") == eos_id  # (V,)
    eos_only = ops.cast(ops.where(is_eos, 0.0, SCORE_FILL), dtype)
    log_probs = ops.where(
        finished[:, :, None], eos_only, ops.cast(log_probs, dtype)
    )
    totals = beams["log_probs"][:, :, None] + log_probs  # (B, K, V)
    running = ops.logical_not(finished)
    coverage = beams.get("coverage")
    if coverage is not None and coverage_penalty != 0:
        running_weights = (
            ops.cast(weights, dtype) * ops.cast(running, dtype)[:, :, None]
        )
        coverage = coverage + running_weights
    scores = totals
    if length_penalty != 0:
        # TFA scores an eos candidate at the beam's length without the eos
        # (the beam's stored length counts it, from the next step on).
        grows = ops.logical_and(running[:, :, None], ops.logical_not(is_eos))
        lengths = beams["lengths"][:, :, None] + ops.cast(grows, "int32")
        # In float32 as TFA's, then the scores' dtype.
        penalty = length_penalty_of(lengths, length_penalty)
        scores = scores / ops.cast(penalty, dtype)
    if coverage_penalty != 0:
        penalty = coverage_penalty_of(coverage, finished, coverage_penalty)
        scores = scores + penalty[:, :, None]
    return totals, scores, coverage


def length_penalty_of(lengths, alpha):
    """The GNMT penalty `((5 + length) / 6) ** alpha`, float32."""
    lengths = ops.cast(lengths, "float32")
    # TFA divides `(5 + length) ** alpha` by `6 ** alpha`.
    return ops.power(5.0 + lengths, alpha) / 6.0**alpha


def coverage_penalty_of(coverage, finished, weight):
    """TFA's coverage term `(B, K)`: 0 for beams not finished before the step.

    Positions never attended (masked source steps) count as covered.
    """
    covered = ops.where(coverage == 0, 1.0, ops.minimum(coverage, 1.0))
    penalty = ops.sum(ops.log(covered), axis=-1)  # (B, K)
    return weight * penalty * ops.cast(finished, penalty.dtype)


def reorder_beams(state, parent_ids):
    """Rows `(B*K, ...)` of every leaf of `state` taken from their parents.

    Row `b*K + j` of the result is row `b*K + parent_ids[b, j]` of `state`
    (`tile_beams` layout): one gather per leaf.

    Args:
        state: nested structure of tensors `(B*K, ...)`.
        parent_ids: int32 `(B, K)`.

    Returns:
        the structure of `state`, rows reordered.
    """
    beam_size = parent_ids.shape[1]
    offsets = ops.arange(ops.shape(parent_ids)[0], dtype="int32") * beam_size
    rows = ops.reshape(offsets[:, None] + parent_ids, (-1,))  # (B*K,)
    return keras.tree.map_structure(lambda x: ops.take(x, rows, axis=0), state)
