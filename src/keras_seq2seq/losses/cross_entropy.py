"""`sequence_loss`: the weighted token cross-entropy of a batch of sequences.

The cross-entropy of every target token (from ids or distributions, with
optional label smoothing, or a TFA-style `softmax_loss_function`), weighted
and reduced as TFA's flags ask; see `keras_seq2seq.losses`.
"""

import keras
from keras import ops

from keras_seq2seq.losses.checks import (
    check_label_smoothing,
    check_ranks,
    check_reduction_flags,
)


def sequence_loss(
    logits,
    targets,
    weights,
    average_across_timesteps=True,
    average_across_batch=True,
    sum_over_timesteps=False,
    sum_over_batch=False,
    softmax_loss_function=None,
    label_smoothing=0.0,
):
    """Weighted cross-entropy of a batch of sequences of logits.

    With `ce[b, t] = -log softmax(logits[b, t])[targets[b, t]] * weights[b,
    t]`, the result is (`w` = weights, `nz(w)` = 1 where `w != 0`):

    | flags | result | shape |
    | --- | --- | --- |
    | none | `ce` | `(B, T)` |
    | `average_across_timesteps` | `sum_t ce / sum_t w` | `(B,)` |
    | `average_across_batch` | `sum_b ce / sum_b w` | `(T,)` |
    | both `average_*` | `sum ce / sum w` | `()` |
    | `sum_over_timesteps` | `sum_t ce / sum_t nz(w)` | `(B,)` |
    | `sum_over_batch` | `sum_b ce / sum_b nz(w)` | `(T,)` |
    | both `sum_over_*` | `sum ce / sum nz(w)` | `()` |

    Each division gives 0 where its denominator is 0 (an all-zero-weight
    row or step), never NaN. A position of weight 0 adds nothing, whatever
    its target or logits; a target id outside `[0, V)` with a non-zero
    weight makes `ce` NaN there, on every backend. An `average_*` flag
    cannot be combined with a `sum_over_*` flag. Rank-3 `targets` are
    distributions over the vocabulary:
    `ce = -sum_v targets[..., v] * log softmax(logits)[..., v]`.

    With `label_smoothing = e > 0` the target distribution is mixed with
    the uniform one: `ce = (1 - e) * ce_target + e * mean_v(-log p_v)`
    (Szegedy et al. 2016, arXiv:1512.00567, section 7).

    Log-probabilities are computed in `float32` for half-precision or
    float32 `logits`, so that half-precision models get the same loss, and
    in `float64` for float64 `logits`, as TFA computes in their dtype.

    Args:
        logits: float tensor `(B, T, V)`: unnormalised scores.
        targets: int tensor `(B, T)` of token ids, or float tensor
            `(B, T, V)` of target distributions.
        weights: float tensor `(B, T)`. 0 at padding.
        average_across_timesteps: bool. Defaults to `True`.
        average_across_batch: bool. Defaults to `True`.
        sum_over_timesteps: bool. Defaults to `False`.
        sum_over_batch: bool. Defaults to `False`.
        softmax_loss_function: optional callable replacing the
            cross-entropy, called as in TFA:
            `softmax_loss_function(labels=..., logits=...)` with the
            flattened `labels` `(B*T,)` (or `(B*T, V)`) and `logits`
            `(B*T, V)`, returning `(B*T,)`. Defaults to `None`.
        label_smoothing: float in `[0, 1)`. Defaults to `0.0`.

    Returns:
        float32 (float64 for float64 `logits`) tensor of shape `(B, T)`,
        `(B,)`, `(T,)` or `()` (table).

    Raises:
        ValueError: for an average flag combined with a sum flag, a
            `label_smoothing` outside `[0, 1)` or combined with
            `softmax_loss_function`, or inputs of the wrong rank.

    Example:

    >>> logits = np.zeros((2, 3, 4), "float32")  # uniform over V = 4
    >>> targets = np.zeros((2, 3), "int32")
    >>> weights = np.ones((2, 3), "float32")
    >>> round(float(sequence_loss(logits, targets, weights)), 4)  # log(4)
    1.3863
    """
    flags = {
        "average_across_timesteps": average_across_timesteps,
        "average_across_batch": average_across_batch,
        "sum_over_timesteps": sum_over_timesteps,
        "sum_over_batch": sum_over_batch,
    }
    check_reduction_flags(**flags)
    check_label_smoothing(label_smoothing, softmax_loss_function)
    logits = ops.convert_to_tensor(logits)
    targets = ops.convert_to_tensor(targets)
    weights = ops.cast(weights, _loss_dtype(logits))
    check_ranks(logits, targets, weights)
    if softmax_loss_function is None:
        ce = _token_cross_entropy(logits, targets, label_smoothing)
    else:
        ce = _custom_cross_entropy(logits, targets, softmax_loss_function)
    # A position of weight 0 adds nothing, even a NaN (an unknown id).
    weighted_ce = ops.where(weights == 0, 0.0, ce * weights)
    return _reduce_weighted(weighted_ce, weights, **flags)


def _loss_dtype(logits):
    """float64 for float64 logits (TFA's dtype), else float32."""
    dtype = keras.backend.standardize_dtype(logits.dtype)
    return "float64" if dtype == "float64" else "float32"


def _token_cross_entropy(logits, targets, label_smoothing=0.0):
    """Unweighted cross-entropy `(B, T)`, in float32 (float64 for float64
    logits), from `(B, T, V)` logits.

    `targets` are ids `(B, T)` or distributions `(B, T, V)`; see
    `sequence_loss` for `label_smoothing`.
    """
    dtype = _loss_dtype(logits)
    log_probs = ops.log_softmax(ops.cast(logits, dtype), axis=-1)
    if len(targets.shape) == 3:
        ce = -ops.sum(ops.cast(targets, dtype) * log_probs, axis=-1)
    else:
        # An id outside the vocabulary gives NaN on every backend (a
        # gather there would wrap, clamp, fill or raise, by backend).
        ids = ops.cast(targets, "int32")
        known = ops.logical_and(ids >= 0, ids < ops.shape(log_probs)[-1])
        ids = ops.where(known, ids, 0)[..., None]  # (B, T, 1)
        ce = -ops.take_along_axis(log_probs, ids, axis=-1)[..., 0]
        ce = ops.where(known, ce, float("nan"))
    if not label_smoothing:
        return ce
    uniform_ce = -ops.mean(log_probs, axis=-1)  # (B, T)
    return (1.0 - label_smoothing) * ce + label_smoothing * uniform_ce


def _custom_cross_entropy(logits, targets, softmax_loss_function):
    """`softmax_loss_function` on the flattened `(B*T, ...)` inputs, `(B, T)`.

    TFA passes flattened labels and logits by keyword; so do we, so that a
    TFA-era loss function ports unchanged.
    """
    batch, steps, vocab = ops.shape(logits)
    labels = ops.reshape(targets, (batch * steps, *targets.shape[2:]))
    flat_logits = ops.reshape(logits, (batch * steps, vocab))  # (B*T, V)
    ce = softmax_loss_function(labels=labels, logits=flat_logits)
    return ops.reshape(ops.cast(ce, _loss_dtype(logits)), (batch, steps))


def _reduce_weighted(
    weighted_ce,
    weights,
    average_across_timesteps,
    average_across_batch,
    sum_over_timesteps,
    sum_over_batch,
):
    """Reduces the weighted cross-entropy `(B, T)` as the flags ask.

    The denominators are the weights for `average_*` and the count of
    non-zero weights for `sum_over_*` (the flags are never mixed).
    """
    axes = []
    if average_across_batch or sum_over_batch:
        axes.append(0)
    if average_across_timesteps or sum_over_timesteps:
        axes.append(1)
    if not axes:
        return weighted_ce
    if average_across_timesteps or average_across_batch:
        denominator = weights
    else:
        denominator = ops.cast(ops.not_equal(weights, 0.0), weights.dtype)
    numerator = ops.sum(weighted_ce, axis=axes)
    denominator = ops.sum(denominator, axis=axes)
    # `divide_no_nan` by hand: Keras' PyTorch one returns float32 for
    # float64.
    empty = ops.equal(denominator, 0.0)
    quotient = numerator / ops.where(empty, 1.0, denominator)
    return ops.where(empty, ops.zeros_like(quotient), quotient)
