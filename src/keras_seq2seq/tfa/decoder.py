"""TFA's `Decoder` and `BaseDecoder`: the step-by-step decoder interface.

A TFA decoder is driven step by step: `initialize` gives the first inputs,
state and finished flags; `step` runs one step; `finalize` may rewrite the
stacked outputs at the end (beam search follows the beam ancestry there).
`dynamic_decode` (in `dynamic_decode.py`, and importable from here as in
TFA's `tfa.seq2seq.decoder`) is the loop around them.
"""

import keras

from keras_seq2seq.ops import keras_mask
from keras_seq2seq.tfa.dynamic_decode import (
    check_maximum_iterations,
    dynamic_decode,
)
from keras_seq2seq.tfa.keras2_weights import Keras2Weights


class Decoder:
    """TFA's abstract decoder interface, driven by `dynamic_decode`.

    Subclasses implement `batch_size`, `output_size`, `output_dtype`,
    `initialize`, `step` and, optionally, `finalize` and
    `tracks_own_finished`.
    """

    @property
    def batch_size(self):
        """The batch size `B` of the decoder's inputs."""
        raise NotImplementedError

    @property
    def output_size(self):
        """Nested structure of the step outputs' shapes, without `B`."""
        raise NotImplementedError

    @property
    def output_dtype(self):
        """Nested structure (like `output_size`) of the outputs' dtypes."""
        raise NotImplementedError

    @property
    def tracks_own_finished(self):
        """Whether `step` returns finished flags that already include the
        previous ones (beam search), and whether a state with `lengths`
        gives the sequence lengths. Defaults to `False`."""
        return False

    @property
    def steps_bound(self):
        """A bound on the steps known before decoding, or `None`.

        `dynamic_decode` uses it inside a compiled function when no
        `maximum_iterations` is given (not a TFA attribute): a Python int
        runs that many steps; in a TensorFlow graph it may also be an int
        scalar tensor (a time axis of unknown length), and the graph's
        loop stops there at the latest (its buffers are that long, and
        XLA can compile it). With `None` a TensorFlow graph's loop runs
        until every row has finished, with buffers that grow by a step.
        """
        return None

    def initialize(self, inputs=None, **kwargs):
        """Returns `(finished, initial_inputs, initial_state)`."""
        raise NotImplementedError

    def step(self, time, inputs, state, training=None, name=None):
        """Returns `(outputs, next_state, next_inputs, finished)`.

        `name`: TFA's op scope; `dynamic_decode` does not pass it.
        """
        raise NotImplementedError

    def finalize(self, outputs, final_state, sequence_lengths):
        """Returns `(final_outputs, final_state)`; optional."""
        raise NotImplementedError


class BaseDecoder(Keras2Weights, keras.layers.Layer, Decoder):
    """TFA's `BaseDecoder`: a Keras layer whose call runs `dynamic_decode`.

    Called on tensors it runs at once; called on `keras.Input`s it becomes a
    node of a functional model (the time axis then has the static bound's
    length, see `dynamic_decode`).

    Args:
        output_time_major: bool. Return time-major outputs `(T, B, ...)`.
            Defaults to `False`.
        impute_finished: bool. Zero the outputs and freeze the state of
            finished rows. Defaults to `False`.
        maximum_iterations: optional int > 0. The most steps. Defaults to
            `None`.
        parallel_iterations: int. Accepted for TFA compatibility; no effect.
            Defaults to `32`.
        swap_memory: bool. Accepted for TFA compatibility; no effect.
            Defaults to `False`.
        **kwargs: `keras.layers.Layer` arguments.

    Call arguments:
        inputs: the decoder's initialization input (`decoder_init_input`).
        initial_state: the state before the first step.
        training: optional bool.
        **kwargs: the rest of the decoder's `initialize` arguments.

    Returns:
        `(final_outputs, final_state, final_sequence_lengths)`, as
        `dynamic_decode`.
    """

    def __init__(
        self,
        output_time_major=False,
        impute_finished=False,
        maximum_iterations=None,
        parallel_iterations=32,
        swap_memory=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_maximum_iterations(maximum_iterations)
        self.output_time_major = output_time_major
        self.impute_finished = impute_finished
        self.maximum_iterations = maximum_iterations
        self.parallel_iterations = parallel_iterations
        self.swap_memory = swap_memory

    def build(self, input_shape=None):
        # The sublayers build on their first step; nothing to create here.
        self.built = True

    def get_config(self):
        # Not TFA's (its decoders had none): a functional model holding a
        # decoder saves to `.keras`. A tensor `maximum_iterations` is saved
        # as its value.
        config = {
            "output_time_major": self.output_time_major,
            "impute_finished": self.impute_finished,
            "maximum_iterations": check_maximum_iterations(
                self.maximum_iterations
            ),
            "parallel_iterations": self.parallel_iterations,
            "swap_memory": self.swap_memory,
        }
        return {**super().get_config(), **config}

    @property
    def supports_masking(self):
        # The inputs' mask goes to the sampler (`call`); the outputs carry
        # none (their time axis is the decoding's, not the inputs').
        return True

    def compute_mask(self, inputs, mask=None):
        return None

    def __call__(self, inputs, initial_state=None, training=None, **kwargs):
        # Keras' `Layer.__call__` binds `**kwargs` as one nested argument and
        # refuses a mix of tensors and Python values there, which TFA
        # programs pass (`start_tokens=<tensor>, end_token=1`). The decoder
        # owns no variables (its sublayers build on their own calls), so it
        # runs `call` directly; only symbolic inputs (a functional model)
        # go through Keras, which records the call as a node.
        arguments = keras.tree.flatten((inputs, initial_state, kwargs))
        if any(keras.backend.is_keras_tensor(x) for x in arguments):
            return super().__call__(
                inputs, initial_state=initial_state, training=training, **kwargs
            )
        if "mask" not in kwargs:
            # As Keras hands a layer its input's mask (TFA on Keras 2 did,
            # eagerly too): the sampler's lengths of `Embedding(mask_zero)`.
            mask = keras_mask(inputs)
            if mask is not None:
                kwargs["mask"] = mask
        self.build()
        return self.call(
            inputs, initial_state=initial_state, training=training, **kwargs
        )

    def call(
        self, inputs, initial_state=None, training=None, mask=None, **kwargs
    ):
        # `mask`: the inputs' Keras mask, for the sampler (TFA's
        # `TrainingSampler.initialize(inputs, mask=...)`).
        if mask is not None:
            kwargs["mask"] = mask
        init_kwargs = dict(kwargs, initial_state=initial_state)
        return dynamic_decode(
            self,
            output_time_major=self.output_time_major,
            impute_finished=self.impute_finished,
            maximum_iterations=self.maximum_iterations,
            parallel_iterations=self.parallel_iterations,
            swap_memory=self.swap_memory,
            training=training,
            decoder_init_input=inputs,
            decoder_init_kwargs=init_kwargs,
        )

    def compute_output_spec(
        self, inputs, initial_state=None, training=None, mask=None, **kwargs
    ):
        # Keras learns a functional model's shapes by tracing `call`. The
        # number of steps depends on values that a trace does not have
        # (`sequence_length`, the end tokens) and on time axes of unknown
        # length (`keras.Input(shape=[None])`): the trace runs the inputs'
        # static length, else one step (`dynamic_decode` sees Keras'
        # symbolic scope), and the outputs' time axis is unknown, as in
        # TFA's `tf.while_loop`.
        outputs, state, lengths = super().compute_output_spec(
            inputs,
            initial_state=initial_state,
            training=training,
            mask=mask,
            **kwargs,
        )
        time_axis = 0 if self.output_time_major else 1

        def any_length(spec):
            if len(spec.shape) <= time_axis:
                return spec
            shape = list(spec.shape)
            shape[time_axis] = None
            return keras.KerasTensor(tuple(shape), dtype=spec.dtype)

        outputs = keras.tree.map_structure(any_length, outputs)
        return outputs, state, lengths

    def initialize(self, inputs, initial_state=None, **kwargs):
        raise NotImplementedError
