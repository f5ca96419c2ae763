"""Token accuracy over the real (non-padding) target positions."""

import keras
from keras import ops

from keras_seq2seq.losses import keras_mask_weights


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class MaskedTokenAccuracy(keras.metrics.Metric):
    """Fraction of real target tokens whose arg-max logit is the target.

    `accuracy = sum(w * [argmax_v y_pred[b, t] == y_true[b, t]]) / sum(w)`
    over every batch seen since the last reset, with `w[b, t] = 0` where
    `y_true[b, t] == pad_id` or where the Keras mask `y_pred` carries is
    False (as Keras' own metrics read it), and `sample_weight` (1 when not
    given) elsewhere. Before any real token it is 0, not NaN.

    Args:
        pad_id: optional int. Target id that marks padding; `None` counts
            every position. Defaults to `0`.
        name: str. Defaults to `"masked_token_accuracy"`.
        dtype: dtype of the result. Defaults to `None` (`floatx`).

    Call arguments (`update_state`):
        y_true: int `(B, T)` (or `(B, T, 1)`) target ids.
        y_pred: float `(B, T, V)` logits (or probabilities).
        sample_weight: optional float `(B, T)` or `(B,)`.

    Returns:
        scalar accuracy in `[0, 1]` (`result()`).

    Example:

    >>> metric = MaskedTokenAccuracy(pad_id=0)
    >>> y_true = np.array([[2, 1, 0, 0]])  # two real tokens
    >>> y_pred = np.eye(3, dtype="float32")[[[2, 2, 1, 1]]]  # (1, 4, 3)
    >>> metric.update_state(y_true, y_pred)
    >>> float(metric.result())
    0.5
    """

    def __init__(self, pad_id=0, name="masked_token_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if pad_id is not None and (
            isinstance(pad_id, bool) or not isinstance(pad_id, int)
        ):
            raise ValueError(
                f"`pad_id` must be an int or None. Received: pad_id={pad_id!r}"
            )
        self.pad_id = pad_id
        self.correct = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="correct"
        )
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="total"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)  # (B, T, 1) -> (B, T)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            if len(sample_weight.shape) == 1:
                sample_weight = sample_weight[:, None]  # (B, 1)
        # `y_pred` unconverted, so that its Keras mask is found (see there).
        weights = keras_mask_weights(y_true, y_pred, sample_weight)
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")  # (B, T)
        if self.pad_id is not None:
            real = ops.not_equal(y_true, self.pad_id)
            weights = weights * ops.cast(real, "float32")
        hits = ops.cast(ops.equal(predicted, y_true), "float32")
        self.correct.assign_add(ops.sum(weights * hits))
        self.total.assign_add(ops.sum(weights))

    def result(self):
        accuracy = ops.divide_no_nan(self.correct, self.total)
        return ops.cast(accuracy, self.dtype)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
