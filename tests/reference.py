"""Independent NumPy (float64) reference of the attention math.

Written from the papers' formulas with plain loops and NumPy, never by
calling `keras_seq2seq`, so that the layers are checked against a second
implementation. Shapes: `B` batch, `Tq` query steps, `Tv` value steps, `Hq`
query depth, `Dv` value depth, `U` units. A `mask` is bool, True where a
value step is real, and broadcasts against the scores (`(B, Tv)` or
`(B, 1, Tv)`).
"""

import numpy as np


def bahdanau_scores(query, value, query_kernel, key_kernel, v, g=None, b=None):
    """Bahdanau et al. 2015, eq. 6: `sum_u v[u] tanh(q W_q + k_j W_k)[u]`.

    With `g` (and `b`), `v` is replaced by `g * v / ||v||` and `b` is added
    inside the tanh (weight normalisation, as TFA's `normalize=True`).

    Args:
        query: `(B, Tq, Hq)`; value: `(B, Tv, Dv)`; query_kernel: `(Hq, U)`;
        key_kernel: `(Dv, U)`; v: `(U,)`; g: scalar; b: `(U,)`.

    Returns:
        `(B, Tq, Tv)` scores.
    """
    query, value = np.float64(query), np.float64(value)
    if g is not None:
        v = g * v / np.sqrt(np.sum(np.square(v)))
    if b is None:
        b = np.zeros_like(v)
    scores = np.zeros(query.shape[:2] + value.shape[1:2])
    for i in range(query.shape[0]):
        for t in range(query.shape[1]):
            for j in range(value.shape[1]):
                hidden = query[i, t] @ query_kernel + value[i, j] @ key_kernel
                scores[i, t, j] = np.sum(v * np.tanh(hidden + b))
    return scores


def luong_scores(query, value, kernel, g=None):
    """Luong et al. 2015, "general": `q . (k_j W)`, times `g` when given.

    Args:
        query: `(B, Tq, Hq)`; value: `(B, Tv, Dv)`; kernel: `(Dv, Hq)`.

    Returns:
        `(B, Tq, Tv)` scores.
    """
    scores = np.einsum("bth,bjh->btj", np.float64(query), value @ kernel)
    return scores if g is None else g * scores


def masked_softmax(scores, mask):
    """Softmax over the real steps; padded steps and all-padding rows: 0."""
    mask = np.broadcast_to(mask, scores.shape)
    top = np.max(np.where(mask, scores, -np.inf), axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    exp = np.where(mask, np.exp(scores - top), 0.0)
    total = np.sum(exp, axis=-1, keepdims=True)
    return np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)


def hardmax(scores, mask):
    """One-hot of the first maximum among the real steps; all-padding: 0."""
    mask = np.broadcast_to(mask, scores.shape)
    weights = np.zeros(scores.shape)
    for index in np.ndindex(scores.shape[:-1]):
        real = np.flatnonzero(mask[index])
        if real.size:
            weights[index + (real[np.argmax(scores[index][real])],)] = 1.0
    return weights


def monotonic_attention(p, previous, mode):
    """Raffel et al. 2017 (arXiv:1704.00784), one decoder step, `(B, Tv)`.

    - `"recursive"`: eq. 13-14, `q_j = (1 - p_{j-1}) q_{j-1} + prev_j`,
      `a_j = p_j q_j`, with a loop over `j`.
    - `"parallel"`: eq. 15, `a = p * cumprod_excl(1 - p) *
      cumsum(prev / cumprod_excl(1 - p))`.
    - `"hard"`: `p' = p * cumsum(prev)`, `a = p' * cumprod_excl(1 - p')`.
    """
    p, previous = np.float64(p), np.float64(previous)
    if mode == "recursive":
        weights = np.zeros_like(p)
        for i in range(p.shape[0]):
            q = 0.0
            for j in range(p.shape[1]):
                keep = 1.0 if j == 0 else 1.0 - p[i, j - 1]
                q = keep * q + previous[i, j]
                weights[i, j] = p[i, j] * q
        return weights
    if mode == "parallel":
        cumprod = _exclusive_cumprod(1.0 - p)
        return p * cumprod * np.cumsum(previous / cumprod, axis=1)
    if mode == "hard":
        p = p * np.cumsum(previous, axis=1)
        return p * _exclusive_cumprod(1.0 - p)
    raise ValueError(f"unknown mode {mode!r}")


def monotonic_weights(scores, mask, mode, score_bias=0.0):
    """Monotonic alignments of successive queries `(B, Tq, Tv)`.

    `p = sigmoid(score + score_bias)` (`"hard"`: `score + score_bias > 0`),
    0 at padded steps; the first query starts from one-hot weights at step 0
    and each next query from the weights of the one before.
    """
    scores = scores + score_bias
    if mode == "hard":
        p = np.float64(scores > 0)
    else:
        p = 1.0 / (1.0 + np.exp(-scores))
    p = np.where(np.broadcast_to(mask, scores.shape), p, 0.0)
    previous = np.zeros((scores.shape[0], scores.shape[2]))
    previous[:, 0] = 1.0
    weights = np.zeros_like(scores)
    for t in range(scores.shape[1]):
        previous = weights[:, t] = monotonic_attention(p[:, t], previous, mode)
    return weights


def context(weights, value):
    """Weighted sum of the values: `(B, Tq, Tv), (B, Tv, Dv) -> (B, Tq, Dv)`."""
    return np.einsum("btj,bjd->btd", weights, np.float64(value))


def _exclusive_cumprod(x):
    ones = np.ones_like(x[:, :1])
    return np.cumprod(np.concatenate([ones, x[:, :-1]], axis=1), axis=1)
