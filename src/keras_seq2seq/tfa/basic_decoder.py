"""TFA's `BasicDecoder` and `BasicDecoderOutput`."""

import collections

import keras

from keras_seq2seq.tfa.cell_decoder import CellDecoder
from keras_seq2seq.tfa.samplers.sampler import Sampler


class BasicDecoderOutput(
    collections.namedtuple("BasicDecoderOutput", ("rnn_output", "sample_id"))
):
    """The outputs of `BasicDecoder`.

    Fields:
        rnn_output: `(B, T, V)` the (output layer's) outputs of every step.
        sample_id: `(B, T)` the sampler's ids of every step.
    """


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class BasicDecoder(CellDecoder):
    """TFA's `BasicDecoder`: a cell, an optional output layer and a sampler.

    Each step runs `cell(inputs, state)`, applies `output_layer` to the cell
    output, lets the sampler pick the sample ids, and takes the next inputs
    and finished flags from the sampler. The cell may be a Keras RNN cell
    (`GRUCell`, `LSTMCell`: state a tensor or a list) or an
    `AttentionWrapper`. `get_weights()` lists the cell's weights, then the
    output layer's, as TFA's.

    Args:
        cell: a Keras RNN cell or `AttentionWrapper`.
        sampler: a `Sampler`.
        output_layer: optional Keras layer applied to the cell output (a
            `Dense(V)` for logits). Defaults to `None`.
        **kwargs: `BaseDecoder` arguments (`maximum_iterations`,
            `impute_finished`, `output_time_major`, ...) and layer
            arguments.

    Call arguments:
        inputs: the sampler's `initialize` input: the embedded targets
            `(B, T, E)` for a `TrainingSampler`, the embedding matrix (or a
            callable) for a `GreedyEmbeddingSampler`.
        initial_state: the cell state before the first step.
        training: optional bool.
        **kwargs: the rest of the sampler's `initialize` arguments
            (`sequence_length`, `start_tokens`, `end_token`, ...).

    Returns:
        `(BasicDecoderOutput, final_state, final_sequence_lengths)`.

    Example:

    >>> cell = keras.layers.LSTMCell(4)
    >>> decoder = BasicDecoder(cell, TrainingSampler(),
    ...                        output_layer=keras.layers.Dense(7))
    >>> state = [ops.zeros((2, 4)), ops.zeros((2, 4))]
    >>> outputs, _, lengths = decoder(
    ...     ops.ones((2, 5, 3)), initial_state=state, sequence_length=[5, 3])
    >>> tuple(outputs.rnn_output.shape), ops.convert_to_numpy(lengths).tolist()
    ((2, 5, 7), [5, 3])
    """

    def __init__(self, cell, sampler, output_layer=None, **kwargs):
        if not isinstance(sampler, Sampler):
            raise ValueError(
                "`sampler` must be a keras_seq2seq.tfa Sampler. "
                f"Received: sampler={sampler!r}"
            )
        super().__init__(cell, output_layer=output_layer, **kwargs)
        self.sampler = sampler
        # Tracked: their states are variables of the layer (and of a model
        # holding it), which a compiled step carries from call to call.
        self.sampler_seed_generators = list(sampler.seed_generators)
        # The initial state's dtype (`initialize`), TFA's `output_dtype`
        # for a cell that is no Keras layer.
        self._state_dtype = self.compute_dtype

    OBJECT_KEYS = ("cell", "sampler", "output_layer")

    @property
    def batch_size(self):
        return self.sampler.batch_size

    @property
    def output_size(self):
        return BasicDecoderOutput(
            rnn_output=self._rnn_output_size(),
            sample_id=self.sampler.sample_ids_shape,
        )

    @property
    def output_dtype(self):
        # The dtype of the outputs a step emits. TFA read the initial
        # state's, which is the cell's in the programs it ran; here the
        # cell's compute dtype (a float16 cell in a float32 decoder emits
        # float16), an output layer's own where there is one (a float32
        # logits layer under mixed precision), and TFA's rule for a cell
        # that is no Keras layer.
        layer = self.output_layer
        if layer is None and isinstance(self.cell, keras.layers.Layer):
            layer = self.cell
        dtype = self._state_dtype if layer is None else layer.compute_dtype
        return BasicDecoderOutput(
            rnn_output=dtype, sample_id=self.sampler.sample_ids_dtype
        )

    @property
    def steps_bound(self):
        return self.sampler.steps_bound

    def initialize(self, inputs, initial_state=None, **kwargs):
        self._new_dropout_masks()
        leaves = keras.tree.flatten(initial_state)
        if leaves and hasattr(leaves[0], "dtype"):
            self._state_dtype = keras.backend.standardize_dtype(leaves[0].dtype)
        finished, first_inputs = self.sampler.initialize(inputs, **kwargs)
        return finished, first_inputs, initial_state

    def step(self, time, inputs, state, training=None):
        cell_outputs, cell_state = self._cell_step(inputs, state, training)
        sample_ids = self.sampler.sample(
            time=time, outputs=cell_outputs, state=cell_state
        )
        finished, next_inputs, next_state = self.sampler.next_inputs(
            time=time,
            outputs=cell_outputs,
            state=cell_state,
            sample_ids=sample_ids,
        )
        outputs = BasicDecoderOutput(cell_outputs, sample_ids)
        return outputs, next_state, next_inputs, finished
