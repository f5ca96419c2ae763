"""The attention decoder layer: the one-step cell scanned over the targets."""

import keras
from keras import ops

from keras_seq2seq.attention.base_attention import check_mask_shape
from keras_seq2seq.decoder.attention_rnn_cell import (
    AttentionRNNCell,
    deserialize_sublayers,
)
from keras_seq2seq.ops import scan

# The target mask's argument and time axis, for `check_mask_shape`.
INPUTS_MASK = ("inputs_mask", "Tt")


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class AttentionDecoder(keras.layers.Layer):
    """Runs an attention RNN cell over a whole target sequence in one call.

    Keras 3's `RNN` layer has no `constants` argument to pass the encoder
    memory to every step, so this layer runs its own loop (`ops.scan`, which
    every backend can differentiate and compile). The memory is prepared (keys
    projected) once per call, then `AttentionRNNCell.call` runs once per
    target step. It works in a functional model: the target mask (from
    `Embedding(mask_zero=True)`) and the memory mask reach it as Keras masks.

    At padded target steps the state and the attention are carried through
    unchanged and the outputs and weights are zeros.

    Args:
        cell: a Keras RNN cell (`GRUCell`, `LSTMCell`, `StackedRNNCells`).
        attention: a `keras_seq2seq` attention layer.
        query_order: str. `"luong"` (TFA's order: the new cell output is the
            query) or `"bahdanau"` (the previous state is the query).
            Defaults to `"luong"`.
        attention_layer_size: optional int. Depth of the attention layer over
            `[h_t; c_t]`. Defaults to `None` (the context itself).
        input_feeding: optional bool. Feed the previous attention vector into
            the cell (`"luong"` order). Defaults to `None`: True for
            `"luong"`.
        output_attention: bool. Output the attention vector (True) or the cell
            output. Defaults to `True`.
        return_weights: bool. Also return the weights `(B, Tt, Ts)`. Defaults
            to `False`.
        return_state: bool. Also return the final cell state, flattened
            (`[h]`, `[h, c]`, `[h1, h2]` for two stacked GRU cells).
            Defaults to `False`.

    Call arguments:
        inputs: `(B, Tt, E)` embedded target inputs.
        value: `(B, Ts, Dv)` encoder outputs.
        initial_state: optional initial cell state (a tensor, or a list
            flat as `return_state` gives it); zeros when `None`.
        inputs_mask: optional bool `(B, Tt)`; filled from `inputs`' mask.
        value_mask: optional bool `(B, Ts)`; filled from `value`'s mask.

    Returns:
        `outputs` `(B, Tt, O)`; with `return_weights` or `return_state` a
        list `[outputs, weights?, *final_cell_state?]`, each in the layer's
        compute dtype (`float16` or `bfloat16` under a mixed policy).

    Example:

    >>> decoder = AttentionDecoder(
    ...     keras.layers.GRUCell(8), BahdanauAttention(4),
    ...     attention_layer_size=8)
    >>> outputs = decoder(np.ones((2, 5, 3)), np.ones((2, 7, 6)))
    >>> tuple(outputs.shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        cell,
        attention,
        query_order="luong",
        attention_layer_size=None,
        input_feeding=None,
        output_attention=True,
        return_weights=False,
        return_state=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.step = AttentionRNNCell(
            cell,
            attention,
            query_order=query_order,
            attention_layer_size=attention_layer_size,
            input_feeding=input_feeding,
            output_attention=output_attention,
            # Frozen with the decoder (a frozen decoder rebuilt from its
            # config): the step is not in the config to say so itself.
            trainable=self.trainable,
            dtype=self.dtype_policy,
            name="step",
        )
        self.return_weights = return_weights
        self.return_state = return_state

    def build(self, inputs_shape, value_shape, initial_state_shape=None):
        self.step.build(inputs_shape, value_shape)

    def call(
        self,
        inputs,
        value,
        initial_state=None,
        inputs_mask=None,
        value_mask=None,
        training=None,
    ):
        if inputs_mask is not None:
            inputs_mask = ops.cast(inputs_mask, "bool")
            check_mask_shape(inputs_mask.shape, inputs.shape, INPUTS_MASK)
        memory = self.step.prepare(value, value_mask=value_mask)
        state = self.step.get_initial_state(memory, initial_state)
        outputs, weights, state = self.scan(
            inputs, memory, state, inputs_mask, training
        )
        results = [outputs]
        if self.return_weights:
            results.append(weights)
        if self.return_state:
            results.extend(keras.tree.flatten(state.cell_state))
        return results[0] if len(results) == 1 else results

    def scan(self, inputs, memory, state, inputs_mask=None, training=None):
        """Teacher-forced steps over `inputs` `(B, Tt, E)` from `state`.

        Returns:
            `(outputs (B, Tt, O), weights (B, Tt, Ts), final DecoderState)`.
        """
        inputs = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        if inputs_mask is None:
            inputs_mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")

        def one_step(state, step_inputs):
            x, real = step_inputs
            output, new_state = self.step(x, state, memory, training=training)
            state = keras.tree.map_structure(
                lambda new, old: ops.where(real, new, old), new_state, state
            )
            return state, (ops.where(real, output, 0), state.weights)

        steps = (
            ops.transpose(inputs, (1, 0, 2)),  # (Tt, B, E)
            ops.transpose(ops.cast(inputs_mask, "bool"))[:, :, None],
        )
        batch_size = ops.shape(inputs)[0]
        empty = (
            ops.zeros((batch_size, self.step.output_size), inputs.dtype),
            ops.zeros_like(state.weights),
        )
        noise = getattr(self.step.attention, "sigmoid_noise", 0.0)
        if training and noise and keras.backend.backend() == "jax":
            # Its `SeedGenerator` would advance inside `lax.scan`, and the
            # new seed leak out of the loop (JAX's UnexpectedTracerError).
            raise ValueError(
                "A monotonic attention's `sigmoid_noise` cannot be drawn "
                "inside AttentionDecoder's JAX loop; train it with "
                "sigmoid_noise=0 on JAX, or on TensorFlow or PyTorch. "
                f"Received: sigmoid_noise={noise!r}"
            )
        if training:
            self.step.hold_dropout_masks(batch_size)
        state, (outputs, weights) = scan(one_step, state, steps, empty)
        self.step.reset_dropout_masks()
        outputs = ops.transpose(outputs, (1, 0, 2))  # (B, Tt, O)
        weights = ops.transpose(weights, (1, 0, 2))  # (B, Tt, Ts)
        real = ops.cast(inputs_mask, weights.dtype)[:, :, None]
        return outputs, weights * real, state

    def compute_output_shape(
        self,
        inputs_shape,
        value_shape,
        initial_state_shape=None,
        inputs_mask_shape=None,
        value_mask_shape=None,
    ):
        """The shapes `call` returns for these input shapes."""
        # A functional model's call runs here, not in `call`: masks of
        # another shape given by hand passed until the model ran.
        check_mask_shape(inputs_mask_shape, inputs_shape, INPUTS_MASK)
        check_mask_shape(value_mask_shape, value_shape)
        batch_size, steps = tuple(inputs_shape[:2])
        shapes = [(batch_size, steps, self.step.output_size)]
        if self.return_weights:
            shapes.append((batch_size, steps, value_shape[1]))
        if self.return_state:
            shapes.extend(
                (batch_size, size)
                for size in keras.tree.flatten(self.step.cell.state_size)
            )
        return shapes[0] if len(shapes) == 1 else shapes

    def compute_mask(self, inputs, previous_mask=None):
        # The target mask stays on every sequence output.
        if not (self.return_weights or self.return_state):
            return previous_mask
        masks = [previous_mask]
        if self.return_weights:
            masks.append(previous_mask)
        if self.return_state:
            masks.extend(
                [None] * len(keras.tree.flatten(self.step.cell.state_size))
            )
        return masks

    def get_config(self):
        config = {
            **self.step.step_config(),
            "return_weights": self.return_weights,
            "return_state": self.return_state,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_sublayers(config))
