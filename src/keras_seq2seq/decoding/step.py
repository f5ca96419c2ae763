"""The step-function contract, and the loop of greedy search and sampling.

Every decoding function (`greedy_search`, `sample`, `beam_search`) drives a
model through one callable, the *step function*:

    log_probs, new_state, weights = step_fn(token_ids, state)
    log_probs, new_state, weights = step_fn(token_ids, state, constants)

- `token_ids`: int32 `(N,)`, the previous token of each row (`bos_id` at the
  first step).
- `state`: a nested structure (tuple, list, dict, namedtuple) of tensors,
  each with leading axis `N`: what changes from step to step, such as the
  decoder's recurrent state.
- `constants`: given only when the search is called with `constants=`: a
  nested structure of tensors with leading axis `N` that every step reads
  and none changes, such as the prepared encoder memory (keys, values,
  mask). Beam search repeats them once, before the first step, and never
  reorders them: the beams of one entry share one source.
- `log_probs`: float `(N, V)`, log-probabilities of the next token (for
  example `ops.log_softmax(logits)`); the searches use them in float32.
- `new_state`: the structure of `state`, with the same shapes and dtypes.
- `weights`: float `(N, Ts)`, the attention weights of this step over the
  `Ts` source positions (returned for plotting, and read by beam search's
  coverage penalty). A model without attention returns zeros `(N, 1)`.

`N` is the batch size `B` for greedy search and sampling, and `B * K` for
beam search with `beam_size=K`. Beam search repeats every leaf of the initial
state and of the constants itself, in `tile_beams` layout (the beams of entry
`b` are rows `b*K ... b*K + K-1`), and reorders the rows of the state (only)
between steps, so the caller passes untiled `(B, ...)` tensors and never
tiles anything.

A step function must be traceable: `keras.ops` only, no Python `if` on tensor
values, no `.numpy()`. The searches call it inside `ops.while_loop`, and
`compiled` (in `compile.py`) compiles the whole search.

`attention_step` builds the step function of an `AttentionRNNCell` model.
"""

import collections
import math
import numbers

import keras
from keras import ops

from keras_seq2seq.decoding.compile import loops_run_eagerly, top_k_is_stable


def attention_step(cell, output_layer, embedding):
    """The step function of an attention decoder: embed, step, project.

    Its state is the `DecoderState` from `cell.get_initial_state(memory,
    cell_state)`, and its constants the `AttentionMemory` from
    `cell.prepare(value, value_mask)`: pass it to the search as
    `constants=memory`, so that the keys are computed once per source and
    beam search tiles them once and never reorders them.

    Args:
        cell: an `AttentionRNNCell`, built.
        output_layer: callable mapping the cell output `(N, O)` to logits
            `(N, V)`, e.g. `keras.layers.Dense(V)`.
        embedding: callable mapping token ids `(N,)` to `(N, E)`, e.g.
            `keras.layers.Embedding(V, E)`.

    Returns:
        `step_fn(token_ids, state, memory) -> (log_probs, state, weights)`.
    """

    def step_fn(token_ids, state, memory):
        output, state = cell(embedding(token_ids), state, memory)
        log_probs = ops.log_softmax(ops.cast(output_layer(output), "float32"))
        return log_probs, state, state.weights

    return step_fn


def python_int(value):
    """A NumPy integer (`lengths.max()`) as a Python int, which is what
    shapes, configs and compiled searches take; any other value (a bool,
    a tensor, a string) unchanged, for the caller to accept or refuse."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def check_int(name, value, minimum, limit=None):
    """`value` as a Python int (`python_int`); `ValueError` unless an
    integer in `[minimum, limit)` (no upper bound when `limit` is `None`).
    """
    value = python_int(value)
    bad = isinstance(value, bool) or not isinstance(value, int)
    if bad or value < minimum or (limit is not None and value >= limit):
        bound = f" and < {limit}" if limit is not None else ""
        raise ValueError(
            f"`{name}` must be an int >= {minimum}{bound}. "
            f"Received: {name}={value!r}"
        )
    return value


def batch_size_of(state):
    """The leading dimension of the first tensor in `state`."""
    leaves = keras.tree.flatten(state)
    if not leaves:
        raise ValueError(
            "`initial_state` must hold at least one tensor with a batch "
            f"axis. Received: initial_state={state!r}"
        )
    return ops.shape(leaves[0])[0]


def to_tensors(structure):
    """`structure` with every leaf a tensor; `None` stays `None`."""
    if structure is None:
        return None
    return keras.tree.map_structure(ops.convert_to_tensor, structure)


def start_tokens(bos_id, batch_size):
    """int32 `(B,)`: `bos_id` for every row, or the given ids, one per row.

    Raises:
        ValueError: for `bos_id=None`.
    """
    if bos_id is None:
        raise ValueError(
            "`bos_id` must be an int, or int ids `(B,)`, one per row. "
            "Received: bos_id=None"
        )
    return ops.broadcast_to(ops.cast(bos_id, "int32"), (batch_size,))


def call_step(step_fn, token_ids, state, constants=None):
    """Calls `step_fn` and checks its outputs against the contract.

    `constants` is passed on only when it is not `None`.

    Returns:
        `(log_probs, new_state, weights)`: float32 `(N, V)`, the state,
        float32 `(N, Ts)`.
    """
    if constants is None:
        outputs = step_fn(token_ids, state)
    else:
        outputs = step_fn(token_ids, state, constants)
    if not isinstance(outputs, (tuple, list)) or len(outputs) != 3:
        raise ValueError(
            "`step_fn` must return three values `(log_probs, new_state, "
            "weights)`. Received: "
            f"{type(outputs).__name__} of {_count(outputs)} values"
        )
    log_probs, new_state, weights = outputs
    log_probs = ops.cast(log_probs, "float32")
    weights = ops.cast(weights, "float32")
    if len(log_probs.shape) != 2 or len(weights.shape) != 2:
        raise ValueError(
            "`step_fn` must return log_probs (N, V) and weights (N, Ts). "
            f"Received: log_probs.shape={tuple(log_probs.shape)}, "
            f"weights.shape={tuple(weights.shape)}"
        )
    # The loop needs a state of fixed dtypes: keep the caller's.
    new_state = keras.tree.map_structure(
        lambda new, old: ops.cast(new, old.dtype), new_state, state
    )
    return log_probs, new_state, weights


def _count(outputs):
    return len(outputs) if isinstance(outputs, (tuple, list)) else 1


StepList = collections.namedtuple("StepList", ["fill", "steps"])
StepList.__doc__ = """A per-step buffer of a Python loop: what it holds
before the loop, and the steps written so far, as a tuple.

On eager PyTorch, where the search loop is a Python loop (`run_loop`),
Keras' `slice_update` copies the whole buffer at every write (S2S-M
greedy: the `(T, B, Ts)` weights, 30 times a call); a write there appends
the step instead, and `stacked` builds the buffer once, after the loop.
"""


def step_buffer(buffer):
    """`buffer` `(T, ...)` as the loop writes it: itself in a traced loop,
    a `StepList` in a Python loop."""
    return StepList(buffer, ()) if loops_run_eagerly() else buffer


def write(buffer, t, value):
    """Writes `value` `(...)` at step `t` of time-major `buffer` `(T, ...)`.

    A `StepList` is written in order, step after step (`t` is its length).
    """
    if isinstance(buffer, StepList):
        return StepList(buffer.fill, (*buffer.steps, value))
    start = [t] + [0] * (len(buffer.shape) - 1)
    return ops.slice_update(buffer, start, ops.expand_dims(value, 0))


def read(buffer, t):
    """Step `t` `(...)` of a buffer that `write` wrote."""
    if isinstance(buffer, StepList):
        return buffer.steps[t]
    return ops.take(buffer, t, axis=0)


def stacked(buffer):
    """The buffer `(T, ...)`: a `StepList`'s steps, then its fill."""
    if not isinstance(buffer, StepList):
        return buffer
    written = len(buffer.steps)
    if written == 0:
        return buffer.fill
    steps = ops.stack(buffer.steps)
    if written == buffer.fill.shape[0]:
        return steps
    return ops.concatenate([steps, buffer.fill[written:]], axis=0)


def run_loop(advance, carry, max_length, stop_early, is_finished, first=0):
    """Runs `carry = advance(t, carry)` for `t = first, ...` below `max_length`.

    With `stop_early`, the loop also stops once `is_finished(carry)` is all
    True.

    Returns:
        `(steps, carry)`: the int32 number of steps run (the `first` steps
        before the loop included), and the carry.
    """

    def cond(t, carry):
        more = t < max_length
        if stop_early:
            done = ops.all(is_finished(carry))
            more = ops.logical_and(more, ops.logical_not(done))
        return more

    def body(t, carry):
        return t + 1, advance(t, carry)

    if loops_run_eagerly():
        # Keras' PyTorch `while_loop` is this Python loop, with the step
        # as a tensor: reading the condition back at every step (a wait
        # for the device on a GPU), and each `write` at a tensor index
        # cost ~22 operations where a Python int costs 2 (S2S-M greedy:
        # 1,313 of a call's 5,214 operations were its 60 writes).
        t = first
        while bool(cond(t, carry)):
            t, carry = body(t, carry)
        return ops.convert_to_tensor(t, dtype="int32"), carry
    start = ops.convert_to_tensor(first, dtype="int32")
    return ops.while_loop(cond, body, (start, carry))


def stable_top_k(x, k):
    """The `k` largest entries along the last axis, equal values by index.

    `ops.top_k` leaves the order of equal values to the backend (PyTorch's
    differs from TensorFlow's and JAX's); TFA's beam search, and this one,
    take the lower index first. Where the backend documents that order
    (`top_k_is_stable`), this is `ops.top_k`; elsewhere the backend's
    `top_k` chooses the entries, and they are put in order by value, then
    index; a row where it may have left out an entry equal to the k-th
    value has its entries chosen again, lower index first.

    Args:
        x: float tensor `(..., n)` with `n >= k`.
        k: int.

    Returns:
        `(values, indices)`: `(..., k)`, by value descending, then index
        ascending; indices int32.
    """
    if top_k_is_stable():
        values, indices = ops.top_k(x, k)
        return values, ops.cast(indices, "int32")
    n = x.shape[-1]
    if k == 1:
        # `torch.argmax` documents the first position of the maximum (as
        # NumPy's does): one pass, where comparing with the maximum took
        # four (30 ms of a 0.55 s greedy batch of S2S-M).
        first = ops.cast(ops.argmax(x, axis=-1), "int32")[..., None]
        return ops.take_along_axis(x, first, axis=-1), first
    # The backend's `top_k` chose the right entries unless the k-th value
    # ties with an entry it left out, which the (k+1)-th value shows; then
    # only the order of equal values within the k may be off, and k x k
    # comparisons fix it. Rows with such a tie take the general path,
    # which makes several passes over them (at S2S-M's 64 x 40,000 beam
    # candidates, all rows through it: 13-14 ms a step; this: 2 ms).
    # Python branches on values: only eager PyTorch comes here.
    values, indices = ops.top_k(x, min(k + 1, n))
    positions = ops.cast(indices[..., :k], "int32")
    if k < n:
        tied = ops.reshape(values[..., k] == values[..., k - 1], (-1,))
        if bool(ops.any(tied)):
            rows = ops.nonzero(tied)[0]
            flat = ops.reshape(positions, (-1, k))
            fixed = _ties_by_index(
                ops.take(ops.reshape(x, (-1, n)), rows, 0), k
            )
            flat = ops.scatter_update(flat, rows[:, None], fixed)
            positions = ops.reshape(flat, ops.shape(positions))
    return _by_value_then_index(x, positions)


def _ties_by_index(x, k):
    """Positions `(..., k)` of the k largest, equal values by lower index.

    Only the chosen set: `_by_value_then_index` orders it.
    """
    n = x.shape[-1]
    kth = ops.top_k(x, k)[0][..., -1:]  # the k-th largest value
    # One integer `top_k` over distinct keys: the entries above the k-th
    # value (fewer than k) first, then those equal to it, each group by
    # increasing position.
    position = ops.arange(n, dtype="int32")
    keys = ops.where(x > kth, 2 * n - position, 0)
    keys = ops.where(x == kth, n - position, keys)
    chosen = ops.top_k(keys, k)[0]  # (..., k)
    return ops.where(chosen > n, 2 * n - chosen, n - chosen)


def _by_value_then_index(x, positions):
    """`positions` `(..., k)` of `x` reordered by value desc., index asc."""
    values = ops.take_along_axis(x, positions, axis=-1)
    v_i, v_j = values[..., :, None], values[..., None, :]
    p_i, p_j = positions[..., :, None], positions[..., None, :]
    before = ops.logical_or(
        v_j > v_i, ops.logical_and(v_j == v_i, p_j < p_i)
    )  # [i, j]: j goes before i
    rank = ops.sum(ops.cast(before, "int32"), axis=-1)  # (..., k)
    slot = ops.arange(positions.shape[-1], dtype="int32")
    at_rank = rank[..., :, None] == slot  # [i, r]
    ordered = ops.sum(ops.where(at_rank, positions[..., :, None], 0), -2)
    return ops.take_along_axis(x, ordered, axis=-1), ordered


def decode(
    step_fn,
    initial_state,
    bos_id,
    eos_id,
    max_length,
    choose,
    stop_early,
    constants=None,
):
    """One hypothesis per row, token by token: greedy search and sampling.

    Args:
        step_fn: the step function (module docstring), `N = B`.
        initial_state: the state before the first step, leading axis `B`.
        bos_id: int, or int `(B,)`: the first input token of each row.
        eos_id: int. The token that ends a row.
        max_length: int. The most tokens per row, eos included.
        choose: `choose(t, log_probs)` -> int32 `(B,)`, the token of step `t`
            from float32 `log_probs` `(B, V)`.
        stop_early: bool. Stop once every row has emitted eos.
        constants: optional structure of tensors `(B, ...)` for `step_fn`.

    Returns:
        dict: `ids` int32 `(B, T)` (eos included; every position after a
        row's eos is `eos_id`), `scores` float32 `(B,)` (sum of the chosen
        tokens' log-probs, eos included), `token_log_probs` float32
        `(B, T)` (each chosen token's log-prob; zeros after a row's end),
        `lengths` int32 `(B,)` (eos counted), `weights` float32
        `(B, T, Ts)` (zeros after a row's end), `steps` int32 scalar
        (steps run). `T = max_length`. A row whose step gives every token
        log-prob -inf ends at that step without a token: `eos_id` there
        (not counted in `lengths`), token log-prob and score -inf, weights
        zero.
    """
    state = keras.tree.map_structure(ops.convert_to_tensor, initial_state)
    constants = to_tensors(constants)
    batch_size = batch_size_of(state)
    tokens = start_tokens(bos_id, batch_size)
    # Step 0, run here, gives the buffers' shapes (the source length).
    log_probs, next_state, weights = call_step(
        step_fn, tokens, state, constants
    )
    rows = {
        "finished": ops.zeros((batch_size,), dtype="bool"),
        "scores": ops.zeros((batch_size,), dtype="float32"),
        "lengths": ops.zeros((batch_size,), dtype="int32"),
        "ids": step_buffer(
            ops.full((max_length, batch_size), eos_id, dtype="int32")
        ),
        "token_log_probs": step_buffer(
            ops.zeros((max_length, batch_size), dtype="float32")
        ),
        "weights": step_buffer(
            # `ops.shape`: the source length is unknown (None) in a graph
            # traced for sources of any length.
            ops.zeros(
                (max_length, batch_size, ops.shape(weights)[-1]),
                dtype="float32",
            )
        ),
    }

    def record(t, rows, log_probs, weights):
        running = ops.logical_not(rows["finished"])
        token = ops.where(
            running, ops.cast(choose(t, log_probs), "int32"), eos_id
        )
        token_log_prob = ops.take_along_axis(log_probs, token[:, None], 1)[:, 0]
        token_log_prob = ops.where(running, token_log_prob, 0.0)
        # The best (or drawn) token at -inf: the step gave every token -inf
        # (a step function that masks them all). The row ends there, with
        # no token: eos_id in its place, uncounted, and the score -inf.
        stuck = ops.logical_and(running, ops.equal(token_log_prob, -math.inf))
        token = ops.where(stuck, eos_id, token)
        emitted = ops.logical_and(running, ops.logical_not(stuck))
        weights = weights * ops.cast(emitted, "float32")[:, None]
        rows = {
            "finished": ops.logical_or(rows["finished"], token == eos_id),
            "scores": rows["scores"] + token_log_prob,
            "lengths": rows["lengths"] + ops.cast(emitted, "int32"),
            "ids": write(rows["ids"], t, token),
            "token_log_probs": write(
                rows["token_log_probs"], t, token_log_prob
            ),
            "weights": write(rows["weights"], t, weights),
        }
        return rows, token

    def advance(t, carry):
        rows, state, tokens = carry
        log_probs, state, weights = call_step(step_fn, tokens, state, constants)
        rows, tokens = record(t, rows, log_probs, weights)
        return rows, state, tokens

    first = 0  # traced, step 0 above is dead code; the loop runs it
    if loops_run_eagerly():  # there it cost a whole step: keep it
        rows, tokens = record(0, rows, log_probs, weights)
        state, first = next_state, 1
    steps, (rows, _, _) = run_loop(
        advance,
        (rows, state, tokens),
        max_length,
        stop_early,
        lambda carry: carry[0]["finished"],
        first,
    )
    return {
        "ids": ops.transpose(stacked(rows["ids"])),
        "scores": rows["scores"],
        "token_log_probs": ops.transpose(stacked(rows["token_log_probs"])),
        "lengths": rows["lengths"],
        "weights": ops.transpose(stacked(rows["weights"]), (1, 0, 2)),
        "steps": steps,
    }
