"""Beam search over a step function, with TFA's scores and penalties."""

import numbers

import keras
from keras import ops

from keras_seq2seq.decoding.beam_ops import gather_tree
from keras_seq2seq.decoding.beam_step import (
    beam_step,
    initial_beams,
    reorder_beams,
)
from keras_seq2seq.decoding.compile import loops_run_eagerly
from keras_seq2seq.decoding.step import (
    batch_size_of,
    call_step,
    check_int,
    read,
    run_loop,
    stacked,
    start_tokens,
    step_buffer,
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
    constants=None,
    one_per_beam_at_end=False,
):
    """Keeps the `beam_size` best hypotheses of each row, step by step.

    The search of `tfa.seq2seq.BeamSearchDecoder` (checked against TFA's
    numbers), in one `ops.while_loop` with fixed-size buffers; each step is
    `beam_step` (in `beam_step.py`, shared with
    `keras_seq2seq.tfa.BeamSearchDecoder`):

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
      `beam * V + token` first) become the new beams; the rows of the state
      follow their parents, the constants stay as they are.

    The search stops when every beam has finished (with `stop_early`) or
    after `max_length` steps. The hypotheses come back distinct, in the
    order of the last step's scores, best first. As in TFA, a beam that
    ended at the last step has no coverage term yet.

    A step function that gives tokens log-prob `-inf` (a vocabulary it
    masks) may leave an entry fewer finite candidates than beams: with
    `max_length=1`, `n_best` above its unmasked tokens. Its last beams
    then hold no hypothesis, and come back empty, after the real ones:
    score and log-prob `-inf`, length 0, ids all `eos_id`, zero weights.
    An empty beam counts as finished: `stop_early` stops once every real
    one has ended (TFA's search ran on to `max_length`).
    The search cannot know this before it runs the step function (and a
    compiled search cannot raise on values), so a caller that must have
    `n_best` real hypotheses checks `lengths > 0` (`Seq2Seq.generate`,
    whose step masks only `pad_id`, refuses such requests up front).

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
        constants: optional nested structure of tensors `(B, ...)`,
            untiled, that every step reads and none changes (the prepared
            memory): repeated `beam_size` times once, never reordered, and
            passed to `step_fn` as its third argument. Defaults to `None`
            (a two-argument `step_fn`).
        one_per_beam_at_end: bool. At the last step (`max_length`, if
            `max_length > 1`), each beam adds only its best token, so the
            hypotheses that reach `max_length` differ in their first
            `max_length - 1` tokens: a caller that cuts them there (the
            room for an eos it keeps past its own limit) finds no two
            alike. Defaults to `False` (TFA's search).

    Returns:
        dict of tensors, hypotheses sorted best first:
        `ids` int32 `(B, n_best, T)`: tokens, eos included; `eos_id` after
        the end.
        `scores` float32 `(B, n_best)`: the penalised scores they were
        ranked by.
        `log_probs` float32 `(B, n_best)`: sum of their tokens' log-probs.
        `token_log_probs` float32 `(B, n_best, T)`: each token's log-prob
        (the terms of `log_probs`); zeros after the end.
        `lengths` int32 `(B, n_best)`: tokens, eos counted; 0 for an empty
        hypothesis (above).
        `weights` float32 `(B, n_best, T, Ts)`: each hypothesis' attention
        weights per step (following its parent beams); zeros after the end.
        `steps` int32 scalar: steps run.
        With `return_raw`, batch-major like TFA's outputs, all `K` beams:
        `step_ids`, `parent_ids`, `step_scores` `(B, T, K)` (token, parent
        beam and score chosen at each step), `predicted_ids` `(B, T, K)`
        (`gather_tree` of the step ids), `final_log_probs`, `final_lengths`,
        `final_finished` `(B, K)`, `accumulated_weights` `(B, K, Ts)` (the
        coverage sums; zeros without a coverage penalty). Steps at and after
        `steps` hold `eos_id`, parent `k` and score 0.

    Raises:
        ValueError: for a bad size, penalty or flag, or `beam_size > V`.
    """
    max_length = check_int("max_length", max_length, 1)
    beam_size = check_int("beam_size", beam_size, 1)
    n_best = check_int("n_best", n_best, 1)
    if n_best > beam_size:
        raise ValueError(
            "`n_best` must be <= `beam_size`. "
            f"Received: n_best={n_best}, beam_size={beam_size}"
        )
    for name, value in [
        ("length_penalty", length_penalty),
        ("coverage_penalty", coverage_penalty),
    ]:
        # A string (from a config file) failed the comparison itself; a
        # bool is no weight.
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(
                f"`{name}` must be a number >= 0. Received: {name}={value!r}"
            )
        if not value >= 0:
            raise ValueError(
                f"`{name}` must be >= 0. Received: {name}={value!r}"
            )
    if not isinstance(one_per_beam_at_end, bool):
        raise ValueError(
            "`one_per_beam_at_end` must be a bool. "
            f"Received: one_per_beam_at_end={one_per_beam_at_end!r}"
        )
    batch_size = batch_size_of(initial_state)
    state = tile_structure(initial_state, beam_size)
    if constants is not None:
        constants = tile_structure(constants, beam_size)
    tokens = tile_beams(start_tokens(bos_id, batch_size), beam_size)
    # Step 0, run here, gives the vocabulary size and the source length.
    log_probs, next_state, weights = call_step(
        step_fn, tokens, state, constants
    )
    if beam_size > log_probs.shape[-1]:
        raise ValueError(
            "`beam_size` must be <= the vocabulary size. Received: "
            f"beam_size={beam_size}, log_probs.shape={tuple(log_probs.shape)}"
        )
    # Unknown (None) in a graph traced for sources of any length.
    source_steps = ops.shape(weights)[-1]
    beams = start(batch_size, beam_size, max_length, source_steps, eos_id)
    if coverage_penalty == 0:
        del beams["coverage"]
    options = (eos_id, length_penalty, coverage_penalty)
    if one_per_beam_at_end and max_length > 1:
        options += (max_length - 1,)

    def advance(t, carry):
        beams, state, tokens = carry
        log_probs, state, weights = call_step(step_fn, tokens, state, constants)
        beams, state = extend(t, beams, log_probs, state, weights, *options)
        tokens = ops.reshape(read(beams["step_ids"], t), (-1,))
        return beams, state, tokens

    first = 0  # traced, step 0 above is dead code; the loop runs it
    if loops_run_eagerly():  # there it cost a whole step: keep it
        beams, state = extend(
            0, beams, log_probs, next_state, weights, *options
        )
        tokens = ops.reshape(read(beams["step_ids"], 0), (-1,))
        first = 1
    steps, (beams, _, _) = run_loop(
        advance,
        (beams, state, tokens),
        max_length,
        stop_early,
        lambda carry: carry[0]["finished"],
        first,
    )
    beams.update((name, stacked(beams[name])) for name in STEP_BUFFERS)
    return finalize(beams, steps, eos_id, n_best, return_raw)


# The beam state's per-step buffers, `(T, B, K, ...)`.
STEP_BUFFERS = (
    "step_ids",
    "parent_ids",
    "step_scores",
    "step_log_probs",
    "step_weights",
)


def tile_structure(structure, beam_size):
    """Every leaf `(B, ...)` repeated into `(B*K, ...)`, `tile_beams` layout."""
    return keras.tree.map_structure(
        lambda x: tile_beams(ops.convert_to_tensor(x), beam_size), structure
    )


def start(batch_size, beam_size, max_length, source_steps, eos_id):
    """The beam state before step 0, and the empty per-step buffers."""
    coverage = ops.zeros((batch_size, beam_size, source_steps), "float32")
    steps_shape = (max_length, batch_size, beam_size)
    buffers = {
        "step_ids": ops.full(steps_shape, eos_id, dtype="int32"),
        "parent_ids": ops.broadcast_to(
            ops.arange(beam_size, dtype="int32"), steps_shape
        ),
        "step_scores": ops.zeros(steps_shape, dtype="float32"),
        "step_log_probs": ops.zeros(steps_shape, dtype="float32"),
        "step_weights": ops.zeros(
            steps_shape + (source_steps,), dtype="float32"
        ),
    }
    return {
        **initial_beams(batch_size, beam_size, coverage),
        "scores": ops.zeros((batch_size, beam_size), dtype="float32"),
        **{name: step_buffer(buffers[name]) for name in STEP_BUFFERS},
    }


def extend(
    t,
    beams,
    log_probs,
    state,
    weights,
    eos_id,
    alpha,
    coverage_weight,
    last_step=None,
):
    """One `beam_step`, the state reordered, the step written to the buffers.

    Args:
        t: int or int32 scalar, the step.
        last_step: optional int: at step `t == last_step` each beam adds
            only its best token (`beam_step`'s `one_per_beam`).
        beams: dict, the beam state and buffers (see `start`).
        log_probs: float32 `(B*K, V)` of this step; `state`: the state after
            it, rows `(B*K, ...)`; `weights`: float32 `(B*K, Ts)`.

    Returns:
        `(beams, state)` after the step, rows reordered by parent.
    """
    beam_size = beams["log_probs"].shape[1]
    vocab_size = log_probs.shape[-1]
    log_probs = ops.reshape(log_probs, (-1, beam_size, vocab_size))
    weights = ops.reshape(weights, (-1, beam_size, ops.shape(weights)[-1]))
    new, chosen = beam_step(
        beams,
        log_probs,
        weights,
        eos_id,
        alpha,
        coverage_weight,
        one_per_beam=False if last_step is None else t == last_step,
    )
    parents = chosen["parent_ids"]
    # The token's own log-prob, 0 for the eos that extends a finished beam.
    token_log_probs = ops.take_along_axis(
        ops.reshape(log_probs, (-1, beam_size * vocab_size)),
        parents * vocab_size + chosen["token_ids"],
        axis=1,
    )
    parent_finished = ops.take_along_axis(beams["finished"], parents, axis=1)
    token_log_probs = ops.where(
        parent_finished, 0.0, ops.cast(token_log_probs, "float32")
    )
    scores = drop_empty(chosen, new, parent_finished, eos_id)
    state = reorder_beams(state, parents)
    step_weights = ops.take_along_axis(weights, parents[:, :, None], axis=1)
    new.update(
        scores=scores,
        step_ids=write(beams["step_ids"], t, chosen["token_ids"]),
        parent_ids=write(beams["parent_ids"], t, parents),
        step_scores=write(beams["step_scores"], t, scores),
        step_log_probs=write(beams["step_log_probs"], t, token_log_probs),
        step_weights=write(beams["step_weights"], t, step_weights),
    )
    return new, state


def drop_empty(chosen, new, parent_finished, eos_id):
    """Sets to `-inf` the log-prob of each new beam that holds no
    hypothesis, and counts it finished; returns the step's scores, those
    beams' `-inf`.

    With fewer finite candidates than beams (a step function that gives
    tokens log-prob `-inf`), the last beams took what is no candidate: a
    parent of log-prob `-inf`; a finished parent extended by another token
    than eos, scored `SCORE_FILL` below it (TFA's `_mask_probs`), a copy
    alike its parent; or, at a `one_per_beam` step, a token other than its
    parent's best, scored `SCORE_FILL`. As `-inf`, each comes back empty
    (see `finalize`). `parent_finished`: bool `(B, K)`, whether each new
    beam's parent had finished before the step.
    """
    copies = ops.logical_and(parent_finished, chosen["token_ids"] != eos_id)
    empty = ops.logical_or(copies, chosen["scores"] <= SCORE_FILL)
    empty = ops.logical_or(empty, new["log_probs"] == float("-inf"))
    new["log_probs"] = ops.where(empty, float("-inf"), new["log_probs"])
    # No token changes its -inf: it waits for no end (`stop_early`).
    new["finished"] = ops.logical_or(new["finished"], empty)
    return ops.where(empty, float("-inf"), chosen["scores"])


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
    # A beam of log-prob -inf holds no hypothesis: the step function left
    # fewer finite candidates than beams. It comes back empty.
    empty = beams["log_probs"] == float("-inf")  # (B, K)
    lengths = ops.where(empty, 0, lengths)
    ids = ops.where(
        empty[:, :, None], eos_id, ops.transpose(predicted, (1, 2, 0))
    )
    ids, lengths = ops.cast(ids, "int32"), ops.cast(lengths, "int32")
    max_length = path.shape[0]
    alive = ops.arange(max_length, dtype="int32")[:, None, None] < lengths[None]
    weights = weights * ops.cast(alive, "float32")[..., None]
    token_log_probs = ops.take_along_axis(
        beams["step_log_probs"], ops.maximum(path, 0), axis=2
    )  # (T, B, K)
    token_log_probs = ops.where(alive, token_log_probs, 0.0)
    result = {
        "ids": ids[:, :n_best],
        "scores": beams["scores"][:, :n_best],
        "log_probs": beams["log_probs"][:, :n_best],
        "token_log_probs": ops.transpose(token_log_probs, (1, 2, 0))[
            :, :n_best
        ],
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
            final_lengths=beams["lengths"],
            final_finished=beams["finished"],
            accumulated_weights=beams.get(
                "coverage", ops.zeros_like(weights[0, :, :, :])
            ),
        )
    return result


def batch_major(x):
    """`(T, B, K)` -> `(B, T, K)`."""
    return ops.transpose(x, (1, 0, 2))
