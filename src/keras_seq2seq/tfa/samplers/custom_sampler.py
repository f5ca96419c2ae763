"""TFA's `CustomSampler`: a sampler made of three functions."""

import keras
from keras import ops

from keras_seq2seq.tfa.samplers.sampler import (
    BatchTrackingSampler,
    shape_tuple,
)


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class CustomSampler(BatchTrackingSampler):
    """A sampler whose steps are user functions.

    Its config holds the three functions as Keras objects, so that a model
    whose decoder holds it saves and loads where they are registered
    (`keras.saving.register_keras_serializable`), as for `InferenceSampler`.

    Args:
        initialize_fn: `(inputs, **kwargs) -> (finished, next_inputs)`.
        sample_fn: `(time, outputs, state) -> sample_ids` (keyword call).
        next_inputs_fn: `(time, outputs, state, sample_ids) -> (finished,
            next_inputs, next_state)` (keyword call).
        sample_ids_shape: optional tuple, one row's sample id shape (an
            int `n`: `(n,)`, as TFA's `tf.TensorShape(n)`).
            Defaults to `None` (scalars).
        sample_ids_dtype: optional dtype. Defaults to `None` (`"int32"`).
    """

    CONFIG_KEYS = (
        "initialize_fn",
        "sample_fn",
        "next_inputs_fn",
        "sample_ids_shape",
        "sample_ids_dtype",
    )
    CALLABLE_KEYS = ("initialize_fn", "sample_fn", "next_inputs_fn")

    def __init__(
        self,
        initialize_fn,
        sample_fn,
        next_inputs_fn,
        sample_ids_shape=None,
        sample_ids_dtype=None,
    ):
        for name, fn in (
            ("initialize_fn", initialize_fn),
            ("sample_fn", sample_fn),
            ("next_inputs_fn", next_inputs_fn),
        ):
            if not callable(fn):
                raise ValueError(f"`{name}` must be callable. Received: {fn!r}")
        self.initialize_fn = initialize_fn
        self.sample_fn = sample_fn
        self.next_inputs_fn = next_inputs_fn
        self._sample_ids_shape = shape_tuple(sample_ids_shape or ())
        self._sample_ids_dtype = sample_ids_dtype or "int32"

    @property
    def sample_ids_shape(self):
        return self._sample_ids_shape

    @property
    def sample_ids_dtype(self):
        return self._sample_ids_dtype

    def initialize(self, inputs, **kwargs):
        finished, next_inputs = self.initialize_fn(inputs, **kwargs)
        if self._batch_size is None:
            self._batch_size = ops.shape(finished)[0]
        return finished, next_inputs

    def sample(self, time, outputs, state):
        return self.sample_fn(time=time, outputs=outputs, state=state)

    def next_inputs(self, time, outputs, state, sample_ids):
        return self.next_inputs_fn(
            time=time, outputs=outputs, state=state, sample_ids=sample_ids
        )
