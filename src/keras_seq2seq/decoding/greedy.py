"""Greedy search: the most probable token at every step."""

from keras_seq2seq.decoding.step import check_int, decode, stable_top_k


def greedy_search(
    step_fn,
    initial_state,
    bos_id,
    eos_id,
    max_length,
    stop_early=True,
    constants=None,
):
    """Decodes each row by taking its most probable next token, until eos.

    Rows run in parallel in one `ops.while_loop` with fixed-size buffers, so
    the search compiles (`compiled`). A row that has emitted `eos_id` keeps
    emitting it at log-prob 0: its score, length and weights stop changing.
    Equal log-probs go to the lower token id, on every backend.

    Args:
        step_fn: the step function of `keras_seq2seq.decoding.step`:
            `(token_ids (B,), state) -> (log_probs (B, V), state,
            weights (B, Ts))`.
        initial_state: nested structure of tensors `(B, ...)`, the state
            before the first step.
        bos_id: int, or int `(B,)` (one per row, TFA's `start_tokens`): the
            first input token.
        eos_id: int. The token that ends a row.
        max_length: int. The most tokens per row, eos included: `T`.
        stop_early: bool. Stop once every row has ended; else run exactly
            `max_length` steps (same results, more work). Defaults to
            `True`.
        constants: optional nested structure of tensors `(B, ...)` that
            every step reads and none changes (the prepared memory), passed
            to `step_fn` as its third argument. Defaults to `None` (a
            two-argument `step_fn`).

    Returns:
        dict of tensors:
        `ids` int32 `(B, T)`: the tokens, eos included; positions after a
        row's eos hold `eos_id`.
        `scores` float32 `(B,)`: sum of the tokens' log-probs, eos included.
        `token_log_probs` float32 `(B, T)`: each token's log-prob (the
        terms of `scores`); zeros after a row's end.
        `lengths` int32 `(B,)`: tokens up to and including eos (`T` for a
        row that never emitted it).
        `weights` float32 `(B, T, Ts)`: the attention weights of each step;
        zeros after a row's end.
        `steps` int32 scalar: steps run.
        A row whose step gives every token log-prob -inf (a step function
        that masks them all) ends at that step without a token: `eos_id`
        in its place, not counted in `lengths`, its token log-prob and
        score -inf.

    Raises:
        ValueError: for a `max_length` that is not an int >= 1.

    Example:

    >>> # Tokens: 0 = eos, 1 = bos, 2 = "a"; row = previous token.
    >>> table = ops.log([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.7, 0.1, 0.2]])
    >>> def step_fn(token_ids, state):
    ...     log_probs = ops.take(table, token_ids, axis=0)
    ...     return log_probs, state, ops.ones((2, 1))
    >>> result = greedy_search(
    ...     step_fn, ops.zeros((2, 1)), bos_id=1, eos_id=0, max_length=4)
    >>> ops.convert_to_numpy(result["ids"]).tolist()
    [[2, 0, 0, 0], [2, 0, 0, 0]]
    >>> ops.convert_to_numpy(result["lengths"]).tolist()
    [2, 2]
    """
    max_length = check_int("max_length", max_length, 1)

    def choose(t, log_probs):
        return stable_top_k(log_probs, 1)[1][:, 0]

    return decode(
        step_fn,
        initial_state,
        bos_id,
        eos_id,
        max_length,
        choose,
        stop_early,
        constants,
    )
