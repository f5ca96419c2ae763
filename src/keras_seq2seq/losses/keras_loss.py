"""`SequenceLoss`: `sequence_loss` as a `keras.losses.Loss`."""

import keras
from keras import ops

from keras_seq2seq.losses.checks import (
    check_axes,
    check_label_smoothing,
    check_reduction_flags,
)
from keras_seq2seq.losses.cross_entropy import sequence_loss
from keras_seq2seq.losses.masking import keras_mask_weights


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
        y_true: int `(B, T)` target ids (or `(B, T, 1)`, Keras' sparse
            layout, for `V > 1`), or float `(B, T, V)` target
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
        check_reduction_flags(
            average_across_timesteps,
            average_across_batch,
            sum_over_timesteps,
            sum_over_batch,
        )
        check_label_smoothing(label_smoothing, softmax_loss_function)
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
        except AttributeError:  # a list
            targets_shape = ()
        except ValueError:  # a TensorFlow graph retraced for another rank
            targets_shape = ()
            if "int" in keras.backend.standardize_dtype(y_true.dtype):
                # Ids, `(B, T)` or `(B, T, 1)`: those of the logits.
                y_true = ops.reshape(y_true, ops.shape(y_pred)[:2])
        sparse = len(targets_shape) == 3 and targets_shape[-1] == 1
        if sparse and ops.shape(y_pred)[-1] != 1:
            # Keras' sparse layout of ids, `(B, T, 1)`, as its sparse
            # cross-entropy takes them: not distributions over one token.
            y_true = ops.squeeze(ops.convert_to_tensor(y_true), axis=-1)
            targets_shape = targets_shape[:2]
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
