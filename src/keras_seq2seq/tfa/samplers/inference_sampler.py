"""TFA's `InferenceSampler`: inference with user functions."""

import keras
from keras import ops

from keras_seq2seq.tfa.samplers.sampler import (
    BatchTrackingSampler,
    available_dtype,
    shape_tuple,
)


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class InferenceSampler(BatchTrackingSampler):
    """Inference without embeddings: `sample_fn` picks the sample, which
    (through `next_inputs_fn`, if given) is the next input; `end_fn` says
    which rows have finished.

    Args:
        sample_fn: callable `outputs -> sample_ids`.
        sample_shape: tuple, one row's sample shape (an int `n`: `(n,)`,
            as TFA's `tf.TensorShape(n)`).
        sample_dtype: the samples' dtype.
        end_fn: callable `sample_ids -> finished` (bool `(B,)`).
        next_inputs_fn: optional callable `sample_ids -> next_inputs`.
            Defaults to `None` (the samples themselves).
    """

    CONFIG_KEYS = (
        "sample_fn",
        "sample_shape",
        "sample_dtype",
        "end_fn",
        "next_inputs_fn",
    )
    CALLABLE_KEYS = ("sample_fn", "end_fn", "next_inputs_fn")

    def __init__(
        self, sample_fn, sample_shape, sample_dtype, end_fn, next_inputs_fn=None
    ):
        for name, fn in (("sample_fn", sample_fn), ("end_fn", end_fn)):
            if not callable(fn):
                raise ValueError(f"`{name}` must be callable. Received: {fn!r}")
        self.sample_fn = sample_fn
        self.sample_shape = shape_tuple(sample_shape)
        self.sample_dtype = sample_dtype
        self.end_fn = end_fn
        self.next_inputs_fn = next_inputs_fn

    @property
    def sample_ids_shape(self):
        return self.sample_shape

    @property
    def sample_ids_dtype(self):
        return self.sample_dtype

    def initialize(self, start_inputs):
        """Returns `(finished, start_inputs)`; `start_inputs` `(B, ...)`."""
        self.start_inputs = ops.convert_to_tensor(start_inputs)
        finished = self._start(ops.shape(self.start_inputs)[0])
        return finished, self.start_inputs

    def sample(self, time, outputs, state):
        # In the declared `sample_dtype`, which the decoder's outputs take:
        # TFA programs pass `tf.argmax` (int64) with `tf.int64`; here
        # `ops.argmax` gives int32 ids, cast to int64 (int32 on JAX
        # without x64).
        ids = self.sample_fn(outputs)
        if self.sample_dtype is None:
            return ids
        return ops.cast(ids, available_dtype(self.sample_dtype))

    def next_inputs(self, time, outputs, state, sample_ids):
        if self.next_inputs_fn is None:
            next_inputs = sample_ids
        else:
            next_inputs = self.next_inputs_fn(sample_ids)
        finished = self.end_fn(sample_ids)
        return finished, next_inputs, state
