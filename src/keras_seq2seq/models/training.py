"""What `fit` and `evaluate` compute from a `Seq2Seq`'s logits.

`TrainingMixin` gives `Seq2Seq` Keras' training hooks: the compiled loss
and metrics weight padded targets 0 whatever loss or metric is compiled
(a Keras loss averages over the real target tokens, as in a masked
functional model; the end token counts where `eos_id == pad_id`), target
ids come in Keras' sparse layout `(B, T, 1)` too, or as distributions
`(B, T, V)` (one-hot rows, most likely `pad_id` or all zeros at padded
steps), `fit`'s `class_weight`
weighs each target token by its id, and a loss that expects probabilities
(the model outputs logits) is refused before the first trace.
"""

import inspect

import keras
import numpy as np
from keras import ops

from keras_seq2seq.decoding.compile import replica_share
from keras_seq2seq.decoding.step import check_int
from keras_seq2seq.losses import axes_differ
from keras_seq2seq.models.checks import (
    expects_probabilities,
    is_per_token,
    loss_reduction,
)
from keras_seq2seq.models.prediction import weights_kept_on_error


class TrainingMixin:
    """`Seq2Seq`'s `compute_loss`, `compute_metrics` and the checks of the
    compiled loss before `fit` or `evaluate` traces a step.

    Reads the model's `loss`, `pad_id` and `target_vocab_size`; mixed into
    `Seq2Seq` before `keras.Model`, whose methods `super()` calls.
    """

    # `fit`'s class weights `(V,)` while it runs, and those of the traced
    # training step (as bytes), constants of that step.
    _class_weights = None
    _traced_class_weights = None

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; `class_weight` weighs target tokens by id.

        `class_weight` (`{target id: weight}`, 1 for the ids it lacks)
        multiplies the weight of each target token (and `sample_weight`,
        if given) by that of its id, while training only: validation and
        `evaluate` take none, as in Keras. (Keras itself reads `(B, Tt)`
        target ids as one-hot rows and weighs each sentence by a single
        class.) The model is built before Keras' callbacks start: on
        TensorFlow `BackupAndRestore` refused an unbuilt model.
        """
        # By position or keyword alike (Keras' 10th argument).
        arguments = inspect.signature(super().fit).bind(*args, **kwargs)
        class_weight = arguments.arguments.get("class_weight")
        arguments.arguments["class_weight"] = None
        if not self.built:
            self.build()
        self._class_weights = _class_weight_vector(
            class_weight, self.target_vocab_size
        )
        try:
            return super().fit(*arguments.args, **arguments.kwargs)
        finally:
            self._class_weights = None

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`; a call that fails keeps the weights
        (`weights_kept_on_error`: Keras' JAX trainer lost them)."""
        with weights_kept_on_error(self):
            return super().evaluate(*args, **kwargs)

    def make_train_function(self, force=False):
        # Before tracing: on TensorFlow a subclassed Keras model whose first
        # training trace raised cannot train after `compile` again (Keras
        # 3.15; a graph error at the first step).
        self._check_loss()
        weights = self._class_weights
        traced = None if weights is None else weights.tobytes()
        if traced != self._traced_class_weights:
            force = True  # another `fit`'s class weights
            self._traced_class_weights = traced
        self._build_optimizer()
        return super().make_train_function(force)

    def _build_optimizer(self):
        """Creates the optimizer's slots before the first training trace.

        Without a distribution strategy, Keras on TensorFlow leaves them
        to that trace, and a `tf.function` that creates variables traces
        twice: the whole training step, once more (its first step took
        9.1 s instead of 5.0 for the dropout test's model). The other
        backends, and TensorFlow under a strategy, build them before.
        """
        optimizer = getattr(self, "optimizer", None)
        if keras.backend.backend() != "tensorflow" or optimizer is None:
            return
        if optimizer.built:
            return
        if not self.built:
            self.build()
        with self.distribute_strategy.scope():
            optimizer.build(self.trainable_variables)

    def make_test_function(self, force=False):
        self._check_loss()
        return super().make_test_function(force)

    def _check_loss(self):
        if expects_probabilities(self.loss):
            # The model outputs logits: such a loss trains on wrong numbers
            # (NaN on JAX).
            raise ValueError(
                "Seq2Seq outputs logits: compile with loss="
                "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
                f" or keras_seq2seq.SequenceLoss(). Received: loss="
                f"{self.loss!r}"
            )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        self._check_loss()  # also for training loops of one's own
        y = _ids_without_trailing_axis(y, y_pred)
        _check_target_axes(y, y_pred)
        ids, real = self._ids_and_real_targets(y)
        weight = self._token_weights(real, sample_weight, y_pred.dtype)
        if training and self._class_weights is not None:
            class_weights = ops.cast(self._class_weights, weight.dtype)
            weight = weight * ops.take(class_weights, ids)
        # A Keras loss takes the mean over the real targets, as for the
        # masked output of a functional model: Keras weighs each real token
        # total / real there (`apply_mask`), which the weights carry here:
        # the logits need no mask, whatever their rank.
        if loss_reduction(self.loss) in ("mean", "sum_over_batch_size"):
            count = ops.cast(ops.size(real), weight.dtype)
            real_count = ops.sum(ops.cast(real, weight.dtype))
            weight = weight * ops.divide_no_nan(count, real_count)
        # Several TensorFlow replicas: each takes the masked mean over its
        # own real tokens; their share makes the replicas' average the mean
        # over the whole batch's, as on one device.
        share = replica_share(real)
        if share is not None:
            weight = weight * ops.cast(share, weight.dtype)
        if is_per_token(self.loss):
            # One row per token: on PyTorch, Keras' sparse cross-entropy
            # moves the class axis of a (B, T, V) tensor to axis 1 and
            # takes the softmax across strides (copies and strided passes:
            # 0.13 s of a 1.2 s S2S-M step); (B * T, V) rows are contiguous.
            # The mean over positions is the same number.
            vocab_size = ops.shape(y_pred)[-1]
            y = ops.reshape(y, (-1,))
            y_pred = ops.reshape(y_pred, (-1, vocab_size))
            weight = ops.reshape(weight, (-1,))
        return super().compute_loss(
            x=x,
            y=y,
            y_pred=_without_mask(y_pred),
            sample_weight=weight,
            training=training,
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # As in the loss, padded targets count in no compiled metric: the
        # logits carry the target padding as their Keras mask, which Keras'
        # `metrics` and `weighted_metrics` read, as for the outputs of a
        # masked functional model.
        y = _ids_without_trailing_axis(y, y_pred)
        _, real = self._ids_and_real_targets(y)
        y_pred = _CARRY_MASK(_without_mask(y_pred), mask=real)
        if sample_weight is not None:
            sample_weight = self._token_weights(
                real, sample_weight, y_pred.dtype
            )
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def _ids_and_real_targets(self, y):
        """Target ids `(B, T)` and `real_targets` from ids `y`, or from
        target distributions `(B, T, V)` (one-hot rows, for Keras'
        `CategoricalCrossentropy`): a step's id is its most likely one, and
        a step whose row is all zeros is padding too."""
        if len(y.shape) != 3:
            return y, self.real_targets(y)
        ids = ops.argmax(y, axis=-1)
        real = ops.logical_and(
            self.real_targets(ids), ops.any(ops.not_equal(y, 0), axis=-1)
        )
        return ids, real

    def real_targets(self, y):
        """Bool `(B, T)`: True at the target ids `y` that are not padding.

        Where `eos_id == pad_id`, the first `pad_id` of each row is its end
        token, which the model must learn to emit: it counts too.
        """
        real = ops.not_equal(y, self.pad_id)
        if self.eos_id != self.pad_id:
            return real
        padding = ops.cast(ops.logical_not(real), "int32")
        first = ops.logical_and(
            ops.equal(ops.cumsum(padding, axis=1), 1), ops.equal(padding, 1)
        )
        return ops.logical_or(real, first)

    def _token_weights(self, real, sample_weight, dtype):
        """`(B, T)`: 0 at padded targets (`real` False), else
        `sample_weight` (or 1)."""
        weight = ops.cast(real, dtype)
        if sample_weight is None:
            return weight
        sample_weight = ops.cast(sample_weight, dtype)
        # (B,) one weight per sentence, or (B, T) per token: (B, 1) or
        # (B, T). A reshape, not a rank test: in a TensorFlow graph the
        # rank of a (B, T) `sample_weight` may be unknown.
        batch_size = ops.shape(weight)[0]
        return weight * ops.reshape(sample_weight, (batch_size, -1))


class _CarryMask(keras.layers.Layer):
    """Returns its input, carrying `mask` as its Keras mask.

    A layer's `compute_mask` is the public way to attach a Keras mask on
    every backend (JAX arrays keep it outside the array).
    """

    def __init__(self):
        # Not cast to the policy of its making (float64 logits stay so).
        super().__init__(name="carry_mask", autocast=False)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask


# One instance for every model: it holds nothing, and a layer made inside a
# compiled step (`torch.compile` of `fit` with `jit_compile=True`) failed.
_CARRY_MASK = _CarryMask()


def _class_weight_vector(class_weight, vocab_size):
    """`(V,)` float32 weights by target id from `{id: weight}`, 1 for the
    ids it lacks; `None` for `None`."""
    if class_weight is None:
        return None
    if not isinstance(class_weight, dict):
        raise ValueError(
            "`class_weight` must be a dict {target id: weight}. Received: "
            f"class_weight={class_weight!r}"
        )
    weights = np.ones(vocab_size, "float32")
    for token, weight in class_weight.items():
        weights[check_int("class_weight id", token, 0, vocab_size)] = weight
    return weights


def _without_mask(x):
    """`x` as a new tensor, without the Keras mask `x` carries.

    Keras keeps the mask a tensor already carries, and looks it up by the
    tensor object (an attribute, or its `id` on JAX): an op whose result
    is a new object on every backend, eagerly and traced, and moves no
    data, sheds it. (A reshape to the same shape, a full slice or
    `stop_gradient` return `x` itself on JAX.)
    """
    return ops.squeeze(ops.expand_dims(x, 0), 0)


def _ids_without_trailing_axis(y, y_pred):
    """Target ids `(B, T)` from Keras' sparse layout `(B, T, 1)` too.

    Keras' sparse losses and metrics take ids with a trailing axis of 1
    (`np.expand_dims(targets, -1)`); `SequenceLoss` read them as
    distributions over a vocabulary of 1 and refused them. In a TensorFlow
    graph retraced for the other layout, `y` has an unknown rank (which
    failed even with Keras' sparse cross-entropy): ids are then reshaped to
    the `(B, T)` of the logits.
    """
    if y is None:
        return y
    try:
        rank = len(y.shape)
    except ValueError:  # A TensorFlow shape of unknown rank.
        return ops.reshape(y, ops.shape(y_pred)[:2])
    if rank == 3 and y.shape[-1] == 1:
        return ops.squeeze(y, axis=-1)
    return y


def _check_target_axes(y, y_pred):
    """Raises `ValueError` unless the target ids have the (static) batch
    and time axes of the logits, which are those of `target_in_ids`: a
    target shifted by one token the wrong way gave a backend's
    broadcasting error from the padding weights, and targets of no steps
    a loss of NaN, or of shape `(0,)`, which no backend differentiates."""
    if y is None or len(y.shape) not in (2, 3):
        return
    if len(y.shape) == 3 and y.shape[-1] not in (None, y_pred.shape[-1]):
        raise ValueError(
            "Target distributions (y, `target_out_ids` as one-hot rows) "
            "must have the logits' shape (B, Tt, target_vocab_size). "
            f"Received: y.shape={tuple(y.shape)}, logits of shape "
            f"{tuple(y_pred.shape)}"
        )
    if y.shape[1] == 0:
        raise ValueError(
            "The target ids (y, `target_out_ids`) have no steps: there is "
            "nothing to learn or score. Received: y.shape="
            f"{tuple(y.shape)}"
        )
    if axes_differ(y.shape, y_pred.shape):
        raise ValueError(
            "The target ids (y, `target_out_ids`) must have the shape "
            "(B, Tt) of `target_in_ids`. Received: y.shape="
            f"{tuple(y.shape)}, target_in_ids of shape "
            f"{tuple(y_pred.shape[:2])}"
        )
