"""Token cross-entropy over sequences, with TFA's averaging options.

`sequence_loss` computes the cross-entropy of every target token, multiplies
it by a weight (0 at padding) and reduces it over the batch and/or the time
axis. The reductions are those of `tfa.seq2seq.sequence_loss`:

- `average_across_*` divide the weighted sum by the **sum of the weights**;
- `sum_over_*` divide it by the **number of non-zero weights** (despite the
  name, a mean over the real tokens);
- every division gives 0 where the denominator is 0, never NaN.

`SequenceLoss` is the same computation as a `keras.losses.Loss`, usable in
`model.compile(loss=...)` with flags that give a scalar (on JAX and
PyTorch Keras 3 trains on nothing else; see its docstring): it masks
targets equal to `pad_id` and honours the Keras mask that the predictions
carry.
"""

import keras
from keras import ops


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
    _check_reduction_flags(**flags)
    _check_label_smoothing(label_smoothing, softmax_loss_function)
    logits = ops.convert_to_tensor(logits)
    targets = ops.convert_to_tensor(targets)
    weights = ops.cast(weights, _loss_dtype(logits))
    _check_ranks(logits, targets, weights)
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


def _check_reduction_flags(
    average_across_timesteps,
    average_across_batch,
    sum_over_timesteps,
    sum_over_batch,
):
    """Raises `ValueError` when an average flag meets a sum flag."""
    averages = average_across_timesteps or average_across_batch
    sums = sum_over_timesteps or sum_over_batch
    if averages and sums:
        raise ValueError(
            "An `average_across_*` flag cannot be combined with a "
            "`sum_over_*` flag. Received: "
            f"average_across_timesteps={average_across_timesteps}, "
            f"average_across_batch={average_across_batch}, "
            f"sum_over_timesteps={sum_over_timesteps}, "
            f"sum_over_batch={sum_over_batch}"
        )


def _check_label_smoothing(label_smoothing, softmax_loss_function=None):
    """Raises `ValueError` unless `0 <= label_smoothing < 1` (no custom fn)."""
    if isinstance(label_smoothing, bool) or not (
        isinstance(label_smoothing, (int, float)) and 0 <= label_smoothing < 1
    ):
        raise ValueError(
            "`label_smoothing` must be a float in [0, 1). "
            f"Received: label_smoothing={label_smoothing!r}"
        )
    if label_smoothing and softmax_loss_function is not None:
        raise ValueError(
            "`label_smoothing` cannot be combined with "
            "`softmax_loss_function`; smooth inside that function instead. "
            f"Received: label_smoothing={label_smoothing!r}"
        )


def _check_ranks(logits, targets, weights):
    """Raises `ValueError` unless logits `(B, T, V)`, targets `(B, T[, V])`
    and weights `(B, T)`."""
    if len(logits.shape) != 3:
        raise ValueError(
            "`logits` must be a rank-3 tensor (B, T, V). "
            f"Received: logits.shape={tuple(logits.shape)}"
        )
    if len(targets.shape) not in (2, 3):
        raise ValueError(
            "`targets` must be a rank-2 tensor of ids (B, T) or a rank-3 "
            "tensor of distributions (B, T, V). "
            f"Received: targets.shape={tuple(targets.shape)}"
        )
    if len(targets.shape) == 3 and targets.shape[-1] != logits.shape[-1]:
        raise ValueError(
            "Rank-3 `targets` must have the vocabulary size of `logits` as "
            f"last axis. Received: targets.shape={tuple(targets.shape)}, "
            f"logits.shape={tuple(logits.shape)}"
        )
    if len(weights.shape) != 2:
        raise ValueError(
            "`weights` must be a rank-2 tensor (B, T). "
            f"Received: weights.shape={tuple(weights.shape)}"
        )
    check_axes(targets.shape, logits.shape)
    # A weight of 1 on an axis is broadcast.
    weights_shape = [
        n if n != 1 else logits.shape[i] for i, n in enumerate(weights.shape)
    ]
    check_axes(weights_shape, logits.shape, "weights")


def axes_differ(shape, logits_shape):
    """Whether a known (static) batch or time axis of `shape` differs from
    that of `logits_shape`."""
    return any(
        isinstance(n, int) and isinstance(size, int) and n != size
        for n, size in zip(shape[:2], logits_shape[:2], strict=True)
    )


def check_axes(shape, logits_shape, name="targets"):
    """Raises `ValueError` unless the batch and time axes of `shape` that
    are known (static shapes) are those of `logits_shape`: a backend error
    from the gather or the weighting said less (PyTorch's "The size of
    tensor a (4) must match the size of tensor b (3)")."""
    if axes_differ(shape, logits_shape):
        raise ValueError(
            f"`{name}` must have the batch and time axes of `logits` "
            f"(B, T). Received: {name}.shape={tuple(shape)}, "
            f"logits.shape={tuple(logits_shape)}"
        )


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


class _KerasMaskWeights(keras.losses.Loss):
    """Returns `sample_weight` times the Keras mask of `y_pred`, `(B, T)`.

    `keras.losses.Loss.__call__` is the one public place that reads the mask
    a tensor carries on every backend (JAX arrays keep it outside the
    tensor), and with `reduction=None` it returns `call(...) * sample_weight
    * mask`. `call` returns ones, so the result is the merged weights.
    """

    def __init__(self):
        super().__init__(name="keras_mask_weights", reduction=None)

    def call(self, y_true, y_pred):
        return ops.ones(ops.shape(y_pred)[:2], dtype="float32")


def keras_mask_weights(y_true, y_pred, sample_weight=None):
    """`sample_weight` `(B, T)` or `(B, 1)` (or ones) times `y_pred`'s mask.

    Pass `y_pred` as Keras handed it (unconverted): on JAX its mask is
    looked up by the array's identity. Returns float32 `(B, T)`.
    """
    return _KerasMaskWeights()(y_true, y_pred, sample_weight)


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class SequenceLoss(keras.losses.Loss):
    """`sequence_loss` as a Keras loss, for `model.compile(loss=...)`.

    The defaults are TFA's: the mean cross-entropy over the tokens whose
    weight is non-zero (see `sequence_loss` for every option). The result
    of `sequence_loss` is returned as is: Keras applies no further
    reduction. A token's weight is the product of

    - `sample_weight[b, t]` (or `sample_weight[b]`; 1 when not given),
    - the Keras mask `y_pred` carries, if any (e.g. from an
      `Embedding(mask_zero=True)` upstream in a functional model),
    - 0 where `y_true == pad_id`, when `pad_id` is given.

    So logits at padded positions never change the loss or its gradient.

    In `model.compile(loss=...)` keep both reductions (the defaults, or both
    `average_*` flags): Keras 3's training step needs a scalar loss. With a
    flag set that leaves an axis (`sum_over_batch=False`, say: a `(T,)`
    loss, which TFA on Keras 2 trained on the sum of) TensorFlow still
    minimises the sum and reports the mean, but JAX and PyTorch raise
    ("Gradient only defined for scalar-output functions", "grad can be
    implicitly created only for scalar outputs"); a loss cannot tell
    `compile`'s call from a direct one, whose result keeps the axis.

    Args:
        average_across_timesteps: bool. Defaults to `False`.
        average_across_batch: bool. Defaults to `False`.
        sum_over_timesteps: bool. Defaults to `True`.
        sum_over_batch: bool. Defaults to `True`.
        softmax_loss_function: optional callable, see `sequence_loss`.
            Defaults to `None`.
        pad_id: optional int. Target id whose positions get weight 0.
            Defaults to `None` (no id is padding).
        label_smoothing: float in `[0, 1)`, see `sequence_loss`. Defaults to
            `0.0`.
        name: str. Defaults to `"sequence_loss"`.

    Call arguments:
        y_true: int `(B, T)` target ids, or float `(B, T, V)` target
            distributions (then `pad_id` must be `None`).
        y_pred: float `(B, T, V)` logits.
        sample_weight: optional float `(B, T)` or `(B,)`.

    Returns:
        float32 loss of the shape `sequence_loss` gives for the flags: a
        scalar with the defaults.

    Raises:
        ValueError: for an average flag combined with a sum flag, an invalid
            `pad_id` or `label_smoothing`, or inputs of the wrong rank.

    Example:

    >>> loss = SequenceLoss(pad_id=0)
    >>> y_true = np.array([[3, 1, 0]])  # the last step is padding
    >>> y_pred = np.zeros((1, 3, 4), "float32")
    >>> round(float(loss(y_true, y_pred)), 4)  # log(4), over 2 tokens
    1.3863
    """

    def __init__(
        self,
        average_across_timesteps=False,
        average_across_batch=False,
        sum_over_timesteps=True,
        sum_over_batch=True,
        softmax_loss_function=None,
        pad_id=None,
        label_smoothing=0.0,
        name="sequence_loss",
    ):
        super().__init__(name=name, reduction=None)
        _check_reduction_flags(
            average_across_timesteps,
            average_across_batch,
            sum_over_timesteps,
            sum_over_batch,
        )
        _check_label_smoothing(label_smoothing, softmax_loss_function)
        if pad_id is not None and (
            isinstance(pad_id, bool) or not isinstance(pad_id, int)
        ):
            raise ValueError(
                f"`pad_id` must be an int or None. Received: pad_id={pad_id!r}"
            )
        self.average_across_timesteps = average_across_timesteps
        self.average_across_batch = average_across_batch
        self.sum_over_timesteps = sum_over_timesteps
        self.sum_over_batch = sum_over_batch
        self.softmax_loss_function = softmax_loss_function
        self.pad_id = pad_id
        self.label_smoothing = label_smoothing

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Keras's own `__call__` would multiply our reduced loss by the
        # weights and reduce again; we merge the weights first instead.
        # `y_pred` goes to `_KerasMaskWeights` unconverted: on JAX its mask
        # is looked up by the array's identity.
        if len(ops.shape(y_pred)) != 3:
            raise ValueError(
                "`y_pred` must be rank-3 logits (B, T, V). "
                f"Received: y_pred.shape={tuple(ops.shape(y_pred))}"
            )
        # Before the mask weighting, whose error would be the backend's.
        try:
            targets_shape = tuple(y_true.shape)
        except (AttributeError, ValueError):  # a list; an unknown rank
            targets_shape = ()
        if len(targets_shape) in (2, 3):
            check_axes(targets_shape, tuple(ops.shape(y_pred)))
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            if len(sample_weight.shape) == 1:
                sample_weight = sample_weight[:, None]  # (B, 1)
        weights = keras_mask_weights(y_true, y_pred, sample_weight)
        with keras.name_scope(self.name):
            return self.call(y_true, y_pred, weights)

    def call(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if sample_weight is None:
            weights = ops.ones(ops.shape(y_pred)[:2], dtype="float32")
        else:
            weights = ops.cast(sample_weight, "float32")
        if self.pad_id is not None:
            if len(y_true.shape) != 2:
                raise ValueError(
                    "`pad_id` needs `y_true` of ids (B, T). "
                    f"Received: y_true.shape={tuple(y_true.shape)}"
                )
            real = ops.not_equal(ops.cast(y_true, "int32"), self.pad_id)
            weights = weights * ops.cast(real, "float32")
        return sequence_loss(
            y_pred,
            y_true,
            weights,
            average_across_timesteps=self.average_across_timesteps,
            average_across_batch=self.average_across_batch,
            sum_over_timesteps=self.sum_over_timesteps,
            sum_over_batch=self.sum_over_batch,
            softmax_loss_function=self.softmax_loss_function,
            label_smoothing=self.label_smoothing,
        )

    def get_config(self):
        return {
            "name": self.name,
            "average_across_timesteps": self.average_across_timesteps,
            "average_across_batch": self.average_across_batch,
            "sum_over_timesteps": self.sum_over_timesteps,
            "sum_over_batch": self.sum_over_batch,
            "softmax_loss_function": keras.saving.serialize_keras_object(
                self.softmax_loss_function
            ),
            "pad_id": self.pad_id,
            "label_smoothing": self.label_smoothing,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["softmax_loss_function"] = keras.saving.deserialize_keras_object(
            config["softmax_loss_function"]
        )
        return cls(**config)
