"""The attention decoder layer: the one-step cell scanned over the targets."""

import keras
from keras import ops

from keras_seq2seq.decoder.attention_rnn_cell import (
    AttentionRNNCell,
    deserialize_sublayers,
)


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
        list `[outputs, weights?, *final_cell_state?]`.

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
        batch_size = ops.shape(inputs)[0]
        output = ops.zeros(
            (batch_size, self.step.output_size), dtype=self.compute_dtype
        )

        depth = inputs.shape[-1]

        def one_step(carry, step_inputs):
            state, _ = carry
            x, real = step_inputs[:, :depth], step_inputs[:, depth:] > 0
            new_output, new_state = self.step(
                x, state, memory, training=training
            )
            new_state = keras.tree.map_structure(
                lambda new, old: ops.where(real, new, old), new_state, state
            )
            new_output = ops.where(real, new_output, 0)
            # Keras' TensorFlow scan needs outputs shaped like the carry.
            carry = (new_state, new_output)
            return carry, carry

        # One time-major tensor [inputs; mask]: Keras' TensorFlow scan fails
        # on a dynamic number of steps with more than one scanned tensor.
        real = ops.cast(inputs_mask, inputs.dtype)[:, :, None]
        steps = ops.transpose(ops.concatenate([inputs, real], -1), (1, 0, 2))
        (state, _), (states, outputs) = scan(one_step, (state, output), steps)
        # The same scan loses the static shape: restore the depths.
        time_steps = ops.shape(steps)[0]
        outputs = ops.reshape(
            outputs, (time_steps, batch_size, self.step.output_size)
        )
        weights = ops.reshape(
            states.weights, (time_steps, batch_size, ops.shape(memory.mask)[1])
        )
        outputs = ops.transpose(outputs, (1, 0, 2))  # (B, Tt, O)
        weights = ops.transpose(weights, (1, 0, 2))  # (B, Tt, Ts)
        real = ops.cast(inputs_mask, weights.dtype)[:, :, None]
        return outputs, weights * real, state

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


def scan(f, init, xs):
    """`ops.scan(f, init, xs)` for an `f` whose outputs are its carry.

    Keras' TensorFlow `scan` is a `tf.while_loop` without
    `maximum_iterations`, and XLA cannot compile its gradient ("XLA
    compilation requires a fixed tensor list size"), so a `jit_compile=True`
    fit step fails. There the steps run in `ops.while_loop` with
    `maximum_iterations`, each added into a zero buffer at its one-hot step
    (TensorFlow has no gradient for `slice_update`). JAX cannot
    differentiate `ops.while_loop`: the other backends keep `ops.scan`.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.scan(f, init, xs)
    steps = ops.shape(xs)[0]
    buffers = keras.tree.map_structure(
        lambda x: ops.zeros((steps, *ops.shape(x)), dtype=x.dtype), init
    )

    def body(t, carry, buffers):
        carry, ys = f(carry, ops.take(xs, t, axis=0))
        at_t = ops.one_hot(t, steps)  # (T,)

        def write(buffer, y):
            at_t_y = ops.reshape(
                ops.cast(at_t, y.dtype), (-1,) + (1,) * len(y.shape)
            )
            return buffer + at_t_y * y[None]  # (T, *y.shape)

        buffers = keras.tree.map_structure(write, buffers, ys)
        return t + 1, carry, buffers

    _, carry, buffers = ops.while_loop(
        lambda t, carry, buffers: t < steps,
        body,
        (0, init, buffers),
        maximum_iterations=steps,
    )
    return carry, buffers
