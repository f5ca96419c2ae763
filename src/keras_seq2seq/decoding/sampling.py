"""Sampling: each next token drawn from the model's distribution."""

import math
import numbers

import keras
from keras import ops

from keras_seq2seq.decoding.step import (
    batch_size_of,
    check_int,
    decode,
    stable_top_k,
)
from keras_seq2seq.ops import masked_softmax


def sample(
    step_fn,
    initial_state,
    bos_id,
    eos_id,
    max_length,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=None,
    stop_early=True,
    constants=None,
):
    """Decodes each row by drawing every next token at random, until eos.

    At each step the log-probs are divided by `temperature`, cut to the
    `top_k` most probable tokens (ties: the lower ids), then to the nucleus
    (Holtzman et al. 2020, arXiv:1904.09751): the most probable tokens whose
    probabilities, summed in decreasing order, first reach `top_p` (tokens
    as probable as the last one kept are kept too). The token is drawn from
    the renormalised rest, by inverting its cumulative distribution at one
    uniform number per row and step. All the uniform numbers are drawn
    once, before the loop, from `seed`: the same integer seed gives the same
    tokens.

    Args:
        step_fn: the step function of `keras_seq2seq.decoding.step`:
            `(token_ids (B,), state) -> (log_probs (B, V), state,
            weights (B, Ts))`.
        initial_state: nested structure of tensors `(B, ...)`.
        bos_id: int, or int `(B,)` (one per row, TFA's `start_tokens`): the
            first input token.
        eos_id: int. The token that ends a row.
        max_length: int. The most tokens per row, eos included: `T`.
        temperature: finite float > 0. Below 1 sharpens, above 1 flattens.
            Defaults to `1.0`.
        top_k: optional int >= 1. Keep only the `top_k` most probable
            tokens. Defaults to `None` (all).
        top_p: optional float in `(0, 1]`. Keep only the nucleus of mass
            `top_p`. Defaults to `None` (all).
        seed: optional int in `[0, 2**32)` (NumPy's too) or
            `keras.random.SeedGenerator`. Under `compiled` on JAX, pass an
            int. Defaults to `None` (Keras' global seed).
        stop_early: bool. Stop once every row has ended; else run exactly
            `max_length` steps. Defaults to `True`.
        constants: optional nested structure of tensors `(B, ...)` passed
            to `step_fn` as its third argument (see `greedy_search`).
            Defaults to `None`.

    Returns:
        dict as `greedy_search`: `ids` `(B, T)`, `scores` `(B,)` (sum of the
        drawn tokens' log-probs under the model, before temperature and
        filtering), `token_log_probs` `(B, T)` (its terms), `lengths`
        `(B,)`, `weights` `(B, T, Ts)`, `steps`; a row whose step masks
        every token ends there, scored -inf, as in `greedy_search`.

    Raises:
        ValueError: for a bad `max_length`, `temperature`, `top_k`, `top_p`
            or `seed`.
    """
    seed = check_seed(seed)
    max_length = check_int("max_length", max_length, 1)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, numbers.Real)
        or not 0 < temperature < math.inf
    ):
        # An infinite one would make every logit 0 (NaN at a -inf
        # log-prob), and `top_k` keep the lowest ids.
        raise ValueError(
            "`temperature` must be a finite number > 0. Received: "
            f"temperature={temperature!r}"
        )
    if top_k is not None:
        top_k = check_int("top_k", top_k, 1)
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, numbers.Real)
    ):
        raise ValueError(
            f"`top_p` must be a number in (0, 1]. Received: top_p={top_p!r}"
        )
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(
            f"`top_p` must be in (0, 1]. Received: top_p={top_p!r}"
        )
    batch_size = batch_size_of(initial_state)
    uniforms = keras.random.uniform((max_length, batch_size), seed=seed)

    def choose(t, log_probs):
        # Shifted so that the best token's logit is 0 at any temperature:
        # divided as they came, at a temperature close to 0 every log-prob
        # overflowed to -inf, the best one too (and TensorFlow and JAX drew
        # the pad id).
        best = ops.max(log_probs, axis=-1, keepdims=True)
        logits = (log_probs - best) / temperature
        keep = ops.ones_like(logits, dtype="bool")
        if top_k is not None and top_k < logits.shape[-1]:
            keep = top_k_mask(logits, top_k)
        if top_p is not None:
            probs = masked_softmax(logits, keep)
            keep = ops.logical_and(keep, nucleus_mask(probs, top_p))
        probs = masked_softmax(logits, keep)
        return inverse_cdf(probs, ops.take(uniforms, t, axis=0))

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


def check_seed(seed):
    """`seed` as a Python int, or as given if `None` or a generator.

    `ValueError` unless an integer in `[0, 2**32)` (JAX's keys take no
    other; a NumPy integer is an int here) or a `SeedGenerator`.
    """
    if seed is None or isinstance(seed, keras.random.SeedGenerator):
        return seed
    if not isinstance(seed, bool) and isinstance(seed, numbers.Integral):
        if 0 <= int(seed) < 2**32:
            return int(seed)
    raise ValueError(
        "`seed` must be None, an int in [0, 2**32) or a "
        f"keras.random.SeedGenerator. Received: seed={seed!r}"
    )


def top_k_mask(logits, k):
    """True at the `k` largest logits of each row `(B, V)`."""
    indices = stable_top_k(logits, k)[1]  # (B, k)
    hits = ops.one_hot(indices, logits.shape[-1], dtype="int32")  # (B, k, V)
    return ops.sum(hits, axis=1) > 0


def nucleus_mask(probs, top_p):
    """True at the smallest set of most probable tokens of mass >= `top_p`."""
    ordered = ops.flip(ops.sort(probs, axis=-1), axis=-1)  # (B, V), decreasing
    mass_before = ops.cumsum(ordered, axis=-1) - ordered
    # The kept tokens are a prefix of `ordered`; its last value is the
    # threshold. The first token is always kept (mass before it is 0).
    kept = ops.where(mass_before < top_p, ordered, 2.0)
    threshold = ops.min(kept, axis=-1, keepdims=True)
    return probs >= threshold


def inverse_cdf(probs, uniform):
    """The token of each row `(B, V)` whose cumulative mass first exceeds `u`.

    A token of probability 0 is never returned: the chosen index `i` has
    `cdf[i] > u * total >= cdf[i - 1]`. Should rounding make `u * total`
    reach the total, the last token of positive probability is returned.
    """
    cdf = ops.cumsum(probs, axis=-1)
    total = cdf[:, -1:]
    index = ops.sum(ops.cast(cdf <= uniform[:, None] * total, "int32"), -1)
    last = ops.sum(ops.cast(cdf < total, "int32"), axis=-1)
    return ops.minimum(index, last)
