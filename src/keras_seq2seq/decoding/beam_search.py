"""Beam search over a step function, with TFA's scores and penalties."""

import keras
from keras import ops

from keras_seq2seq.decoding.beam_ops import gather_tree
from keras_seq2seq.decoding.step import (
    batch_size_of,
    call_step,
    check_int,
    probe_step,
    run_loop,
    stable_top_k,
    start_tokens,
    write,
)
from keras_seq2seq.ops import SCORE_FILL, tile_beams


def beam_search(
    step_fn,
    initial_state,
    bos_id,
    eos_id,
    max_length,
    beam_size,
    length_penalty=0.0,
    coverage_penalty=0.0,
    n_best=1,
    stop_early=True,
    return_raw=False,
):
    """Keeps the `beam_size` best hypotheses of each row, step by step.

    The search of `tfa.seq2seq.BeamSearchDecoder` (checked against TFA's
    numbers), in one `ops.while_loop` with fixed-size buffers:

    - Each entry starts with one live beam: log-probs `[0, -inf, ...]`.
    - A finished beam (one that chose `eos_id`) can only be extended by
      `eos_id`, at log-prob 0: its log-prob and length stay fixed.
    - A candidate (beam, token) has log-prob `beam log-prob + log p(token)`
      and score `log-prob / lp`, with the GNMT length penalty (Wu et al.
      2016, arXiv:1609.08144, eq. 14) `lp = ((5 + length) / 6) **
      length_penalty`. The length counts the tokens, eos included, except
      in the score of the candidate that adds the eos (TFA's rule): a
      finished beam's score thus changes once, at the step after it ended,
      and never again.
    - With `coverage_penalty = c > 0`, a beam finished before the step adds
      `c * sum_j log(min(acc_j, 1))` over the source positions `j` where
      `acc_j > 0`, `acc` being the sum of the beam's attention weights over
      its unfinished steps (from zeros; TFA starts from the mechanism's
      initial weights, which are zeros but for monotonic attention).
    - The `beam_size` best candidates of each entry (ties: lower
      `beam * V + token` first) become the new beams.

    The search stops when every beam has finished (with `stop_early`) or
    after `max_length` steps. The hypotheses come back distinct, in the
    order of the last step's scores, best first. As in TFA, a beam that
    ended at the last step has no coverage term yet.

    Args:
        step_fn: the step function of `keras_seq2seq.decoding.step`, called
            on `N = B * K` rows.
        initial_state: nested structure of tensors `(B, ...)`, untiled: the
            search repeats it `beam_size` times itself.
        bos_id: int, or int `(B,)` (one per entry, TFA's `start_tokens`):
            the first input token.
        eos_id: int. The token that ends a hypothesis.
        max_length: int. The most tokens per hypothesis, eos included: `T`.
        beam_size: int. Beams per batch entry: `K`.
        length_penalty: float >= 0. `alpha` of the length penalty; 0 turns
            it off. Defaults to `0.0`.
        coverage_penalty: float >= 0. Weight of the coverage penalty; 0
            turns it off. Defaults to `0.0`.
        n_best: int in `[1, K]`. Hypotheses returned per entry. Defaults to
            `1`.
        stop_early: bool. Stop once every beam has finished; else run
            exactly `max_length` steps. Defaults to `True`.
        return_raw: bool. Also return the per-step arrays and the final beam
            state (TFA's outputs). Defaults to `False`.

    Returns:
        dict of tensors, hypotheses sorted best first:
        `ids` int32 `(B, n_best, T)`: tokens, eos included; `eos_id` after
        the end.
        `scores` float32 `(B, n_best)`: the penalised scores they were
        ranked by.
        `log_probs` float32 `(B, n_best)`: sum of their tokens' log-probs.
        `lengths` int32 `(B, n_best)`: tokens, eos counted.
        `weights` float32 `(B, n_best, T, Ts)`: each hypothesis' attention
        weights per step (following its parent beams); zeros after the end.
        `steps` int32 scalar: steps run.
        With `return_raw`, batch-major like TFA's outputs, all `K` beams:
        `step_ids`, `parent_ids`, `step_scores` `(B, T, K)` (token, parent
        beam and score chosen at each step), `predicted_ids` `(B, T, K)`
        (`gather_tree` of the step ids), `final_log_probs`, `final_lengths`,
        `final_finished` `(B, K)`, `accumulated_weights` `(B, K, Ts)` (the
        coverage sums). Steps at and after `steps` hold `eos_id`, parent
        `k` and score 0.

    Raises:
        ValueError: for a bad size or penalty, or `beam_size > V`.
    """
    check_int("max_length", max_length, 1)
    check_int("beam_size", beam_size, 1)
    check_int("n_best", n_best, 1)
    if n_best > beam_size:
        raise ValueError(
            "`n_best` must be <= `beam_size`. "
            f"Received: n_best={n_best}, beam_size={beam_size}"
        )
    for name, value in [
        ("length_penalty", length_penalty),
        ("coverage_penalty", coverage_penalty),
    ]:
        if not value >= 0:
            raise ValueError(
                f"`{name}` must be >= 0. Received: {name}={value!r}"
            )
    batch_size = batch_size_of(initial_state)
    state = keras.tree.map_structure(
        lambda x: tile_beams(x, beam_size), initial_state
    )
    tokens = tile_beams(start_tokens(bos_id, batch_size), beam_size)
    log_probs, _, weights = probe_step(step_fn, tokens, state)
    if beam_size > log_probs.shape[-1]:
        raise ValueError(
            "`beam_size` must be <= the vocabulary size. Received: "
            f"beam_size={beam_size}, log_probs.shape={tuple(log_probs.shape)}"
        )
    beams = initial_beams(batch_size, beam_size, max_length, weights, eos_id)
    options = (eos_id, length_penalty, coverage_penalty)

    def advance(t, carry):
        beams, state, tokens = carry
        log_probs, state, weights = call_step(step_fn, tokens, state)
        beams, state = extend(t, beams, log_probs, state, weights, *options)
        tokens = ops.reshape(ops.take(beams["step_ids"], t, axis=0), (-1,))
        return beams, state, tokens

    steps, (beams, _, _) = run_loop(
        advance,
        (beams, state, tokens),
        max_length,
        stop_early,
        lambda carry: carry[0]["finished"],
    )
    return finalize(beams, steps, eos_id, n_best, return_raw)


def initial_beams(batch_size, beam_size, max_length, weights, eos_id):
    """The beam state before step 0, and the empty per-step buffers."""
    first = ops.arange(beam_size)[None, :] == 0  # (1, K)
    shape = (batch_size, beam_size)
    steps_shape = (max_length, batch_size, beam_size)
    return {
        # Only beam 0 is live, so step 0 expands one beam per entry.
        "log_probs": ops.broadcast_to(
            ops.where(first, 0.0, float("-inf")), shape
        ),
        "finished": ops.broadcast_to(ops.logical_not(first), shape),
        "lengths": ops.zeros(shape, dtype="int32"),
        "coverage": ops.zeros(shape + (weights.shape[-1],), dtype="float32"),
        "scores": ops.zeros(shape, dtype="float32"),
        "step_ids": ops.full(steps_shape, eos_id, dtype="int32"),
        "parent_ids": ops.broadcast_to(
            ops.arange(beam_size, dtype="int32"), steps_shape
        ),
        "step_scores": ops.zeros(steps_shape, dtype="float32"),
        "step_weights": ops.zeros(
            steps_shape + (weights.shape[-1],), dtype="float32"
        ),
    }


def extend(t, beams, log_probs, state, weights, eos_id, alpha, coverage_weight):
    """One step of TFA's `_beam_search_step`: score, select, reorder.

    Args:
        t: int or int32 scalar, the step.
        beams: dict, the beam state (see `initial_beams`).
        log_probs: float32 `(B*K, V)` of this step; `state`: the state after
            it, rows `(B*K, ...)`; `weights`: float32 `(B*K, Ts)`.

    Returns:
        `(beams, state)` after the step, rows reordered by parent.
    """
    beam_size = beams["log_probs"].shape[1]
    vocab_size = log_probs.shape[-1]
    log_probs = ops.reshape(log_probs, (-1, beam_size, vocab_size))  # (B, K, V)
    weights = ops.reshape(weights, (-1, beam_size, weights.shape[-1]))
    finished = beams["finished"]
    running = ops.cast(ops.logical_not(finished), "int32")  # (B, K)

    # A finished beam may only add eos, at log-prob 0 (TFA's `_mask_probs`).
    is_eos = ops.arange(vocab_size) == eos_id  # (V,)
    eos_only = ops.where(is_eos, 0.0, SCORE_FILL)
    log_probs = ops.where(finished[:, :, None], eos_only, log_probs)
    totals = beams["log_probs"][:, :, None] + log_probs  # (B, K, V)
    coverage = (
        beams["coverage"] + weights * ops.cast(running, "float32")[:, :, None]
    )
    # TFA scores an eos candidate at the beam's length without the eos (the
    # beam's stored length counts it, from the next step on).
    grows = running[:, :, None] * ops.cast(ops.logical_not(is_eos), "int32")
    lengths = beams["lengths"][:, :, None] + grows  # (B, K, V)
    scores = penalised_scores(
        totals, lengths, finished, coverage, alpha, coverage_weight
    )

    flat = ops.reshape(scores, (-1, beam_size * vocab_size))
    top_scores, index = stable_top_k(flat, beam_size)  # (B, K)
    parents = index // vocab_size
    token = index % vocab_size
    parent_finished = ops.take_along_axis(finished, parents, axis=1)
    rows = ops.arange(ops.shape(parents)[0])[:, None] * beam_size + parents
    state = keras.tree.map_structure(
        lambda x: ops.take(x, ops.reshape(rows, (-1,)), axis=0), state
    )
    step_weights = ops.take_along_axis(weights, parents[:, :, None], axis=1)
    new = {
        "log_probs": ops.take_along_axis(
            ops.reshape(totals, (-1, beam_size * vocab_size)), index, axis=1
        ),
        "finished": ops.logical_or(parent_finished, token == eos_id),
        "lengths": ops.take_along_axis(beams["lengths"], parents, axis=1)
        + ops.cast(ops.logical_not(parent_finished), "int32"),
        "coverage": ops.take_along_axis(coverage, parents[:, :, None], axis=1),
        "scores": top_scores,
        "step_ids": write(beams["step_ids"], t, token),
        "parent_ids": write(beams["parent_ids"], t, parents),
        "step_scores": write(beams["step_scores"], t, top_scores),
        "step_weights": write(beams["step_weights"], t, step_weights),
    }
    return new, state


def penalised_scores(totals, lengths, finished, coverage, alpha, weight):
    """TFA's `_get_scores`: log-probs over the length penalty, + coverage.

    Args:
        totals: float32 `(B, K, V)` candidate log-probs.
        lengths: int32 `(B, K, V)` candidate lengths.
        finished: bool `(B, K)`, beams finished before this step.
        coverage: float32 `(B, K, Ts)` accumulated attention weights.
        alpha: float, the length penalty weight; `weight`: the coverage one.
    """
    scores = totals
    if alpha != 0:
        # TFA divides `(5 + length) ** alpha` by `6 ** alpha`.
        lengths = ops.cast(lengths, "float32")
        scores = scores / (ops.power(5.0 + lengths, alpha) / 6.0**alpha)
    if weight != 0:
        # Positions never attended (masked source steps) count as covered.
        covered = ops.where(coverage == 0, 1.0, ops.minimum(coverage, 1.0))
        penalty = ops.sum(ops.log(covered), axis=-1)  # (B, K)
        penalty = weight * penalty * ops.cast(finished, "float32")
        scores = scores + penalty[:, :, None]
    return scores


def finalize(beams, steps, eos_id, n_best, return_raw):
    """Backtracks the beams into hypotheses; see `beam_search`'s Returns."""
    lengths = beams["lengths"]  # (B, K)
    longest = ops.max(lengths, axis=1)
    predicted = gather_tree(
        beams["step_ids"], beams["parent_ids"], longest, eos_id
    )  # (T, B, K)
    # The beam each final hypothesis occupied at each step: backtrack the
    # beam indices themselves (-1 past the entry's longest hypothesis).
    beam_size = lengths.shape[1]
    slots = ops.broadcast_to(
        ops.arange(beam_size, dtype="int32"), ops.shape(beams["step_ids"])
    )
    path = gather_tree(slots, beams["parent_ids"], longest, -1)  # (T, B, K)
    weights = ops.take_along_axis(
        beams["step_weights"], ops.maximum(path, 0)[..., None], axis=2
    )  # (T, B, K, Ts)
    max_length = path.shape[0]
    alive = ops.arange(max_length)[:, None, None] < lengths[None]  # (T, B, K)
    weights = weights * ops.cast(alive, "float32")[..., None]
    result = {
        "ids": ops.transpose(predicted, (1, 2, 0))[:, :n_best],
        "scores": beams["scores"][:, :n_best],
        "log_probs": beams["log_probs"][:, :n_best],
        "lengths": lengths[:, :n_best],
        "weights": ops.transpose(weights, (1, 2, 0, 3))[:, :n_best],
        "steps": steps,
    }
    if return_raw:
        result.update(
            step_ids=batch_major(beams["step_ids"]),
            parent_ids=batch_major(beams["parent_ids"]),
            step_scores=batch_major(beams["step_scores"]),
            predicted_ids=batch_major(predicted),
            final_log_probs=beams["log_probs"],
            final_lengths=lengths,
            final_finished=beams["finished"],
            accumulated_weights=beams["coverage"],
        )
    return result


def batch_major(x):
    """`(T, B, K)` -> `(B, T, K)`."""
    return ops.transpose(x, (1, 0, 2))
