"""The Keras mask a tensor carries, merged into per-token weights."""

import keras
from keras import ops


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
