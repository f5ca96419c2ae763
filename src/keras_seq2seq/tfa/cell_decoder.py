"""`CellDecoder`: the cell and output layer that TFA's decoders step."""

import keras

from keras_seq2seq.decoder.attention_rnn_cell import (
    cell_output_size,
    reset_dropout_masks,
)
from keras_seq2seq.tfa.decoder import BaseDecoder
from keras_seq2seq.tfa.wrapper_checks import output_depth


class CellDecoder(BaseDecoder):
    """A `BaseDecoder` whose step runs `cell`, then `output_layer`.

    The part that `BasicDecoder` and `BeamSearchDecoder` share (not a TFA
    class): the two layers, their weights in TFA's `get_weights()` order
    (the cell's, then the output layer's), and the size of a step's output.

    Args:
        cell: a Keras RNN cell (`GRUCell`, `LSTMCell`: state a tensor or a
            list) or an `AttentionWrapper`.
        output_layer: optional Keras layer applied to the cell output (a
            `Dense(V)` for logits). Defaults to `None`.
        **kwargs: `BaseDecoder` arguments (`maximum_iterations`,
            `impute_finished`, `output_time_major`, ...) and layer
            arguments.
    """

    def __init__(self, cell, output_layer=None, **kwargs):
        if output_layer is not None and not isinstance(
            output_layer, keras.layers.Layer
        ):
            raise ValueError(
                "`output_layer` must be a Keras layer or None. "
                f"Received: output_layer={output_layer!r}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.output_layer = output_layer

    # The constructor arguments that are Keras objects (layers, samplers,
    # functions): `get_config` serializes them, `from_config` rebuilds them.
    OBJECT_KEYS = ("cell", "output_layer")

    def get_config(self):
        config = super().get_config()
        for key in self.OBJECT_KEYS:
            value = getattr(self, key)
            if value is not None:
                value = keras.saving.serialize_keras_object(value)
            config[key] = value
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in cls.OBJECT_KEYS:
            if config[key] is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    @property
    def weights(self):
        # TFA's order: the cell's, the output layer's, then those of any
        # layer a subclass added (Keras 2 tracked them in that order).
        listed = [w for layer in self._tfa_layers() for w in layer.weights]
        seen = {id(w) for w in listed}
        return listed + [w for w in super().weights if id(w) not in seen]

    def set_weights(self, weights):
        """Sets the weights from a list in TFA's order (`weights`).

        Raises:
            ValueError: for a list of another length.
        """
        weights = list(weights)
        variables = self.weights
        if len(weights) != len(variables):
            raise ValueError(
                f"{type(self).__name__} has {len(variables)} weights (TFA's "
                "order: the cell's, the output layer's, any other layer's); "
                f"received {len(weights)}."
            )
        # Layer by layer: an `AttentionWrapper` cell recomputes the keys of
        # its mechanisms' memory with the new weights.
        start = 0
        for layer in self._tfa_layers():
            count = len(layer.weights)
            layer.set_weights(weights[start : start + count])
            start += count
        for variable, value in zip(
            variables[start:], weights[start:], strict=True
        ):
            variable.assign(value)

    def _tfa_layers(self):
        """The cell and the output layer, if any."""
        layers = [self.cell, self.output_layer]
        return [layer for layer in layers if layer is not None]

    def _new_dropout_masks(self):
        """Clears the dropout masks that Keras cells keep between calls.

        A Keras cell with `dropout` or `recurrent_dropout` draws its masks
        at its first call and reuses them until they are reset, which
        `keras.layers.RNN` does at each call. A decoding is such a call:
        one mask per sequence, the same at every step (the cells inside an
        `AttentionWrapper` or `StackedRNNCells` too). Without the reset a
        second decoding would reuse the first one's masks, and fail on
        another batch size.
        """
        reset_dropout_masks(self.cell)

    def _rnn_output_size(self):
        """The depth of a step's output: the output layer's, else the
        cell's (`V` for a `Dense(V)`)."""
        size = cell_output_size(self.cell)
        if self.output_layer is None:
            return size
        # A layer without `compute_output_shape` (a custom logits layer)
        # is traced, as Keras 2's default `compute_output_shape` did.
        return output_depth(self.output_layer, size)

    def _cell_step(self, inputs, state, training=None):
        """`(outputs, next_state)`: the cell, then the output layer.

        Keras cells return a list for a list state; `next_state` keeps the
        nesting of `state` (a tensor, a tuple, a wrapper state).
        """
        outputs, next_state = self.cell(inputs, state, training=training)
        next_state = keras.tree.pack_sequence_as(
            state, keras.tree.flatten(next_state)
        )
        if self.output_layer is not None:
            outputs = self.output_layer(outputs)
        return outputs, next_state
