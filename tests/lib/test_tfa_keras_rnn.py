"""`tfa.seq2seq.AttentionWrapper` inside `keras.layers.RNN`, as TFA allows."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa

B, T, S, E, U = 3, 5, 4, 6, 8


def wrapper(cell_class, **kwargs):
    rng = np.random.default_rng(0)
    memory = rng.normal(size=(B, S, U)).astype("float32")
    mechanism = tfa.seq2seq.LuongAttention(
        units=U, memory=memory, memory_sequence_length=np.array([4, 2, 3])
    )
    return tfa.seq2seq.AttentionWrapper(cell_class(U), mechanism, **kwargs)


def stepped(cell, inputs, state=None):
    """The wrapper stepped by hand over `inputs` `(b, t, E)`."""
    state = state or cell.get_initial_state(batch_size=inputs.shape[0])
    outputs = []
    for t in range(inputs.shape[1]):
        output, state = cell(inputs[:, t], state)
        outputs.append(ops.convert_to_numpy(output))
    return np.stack(outputs, 1), state


@pytest.mark.parametrize(
    "cell_class", [keras.layers.LSTMCell, keras.layers.GRUCell]
)
def test_rnn_layer_equals_stepping_by_hand(cell_class):
    cell = wrapper(cell_class, attention_layer_size=5)
    inputs = np.random.default_rng(1).normal(size=(B, T, E)).astype("float32")
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    outputs, *states = layer(inputs)
    want, final = stepped(cell, inputs)
    np.testing.assert_allclose(ops.convert_to_numpy(outputs), want, atol=1e-5)
    assert len(states) == 5  # the fields of AttentionWrapperState
    np.testing.assert_allclose(
        ops.convert_to_numpy(states[2]),
        ops.convert_to_numpy(final.alignments),
        atol=1e-6,
    )
    # An explicit initial state (TFA's test for its issue 1095).
    initial = cell.get_initial_state(batch_size=B, dtype="float32")
    again = layer(inputs, initial_state=initial)[0]
    np.testing.assert_allclose(ops.convert_to_numpy(again), want, atol=1e-5)


def test_masked_steps_keep_the_state():
    # `zero_output_for_mask=True`: without it Keras' JAX loop takes the
    # first state field as the previous output, which here it is not.
    cell = wrapper(keras.layers.LSTMCell)
    inputs = np.random.default_rng(2).normal(size=(B, T, E)).astype("float32")
    lengths = [5, 2, 3]
    mask = np.arange(T)[None] < np.array(lengths)[:, None]
    layer = keras.layers.RNN(
        cell, return_sequences=True, zero_output_for_mask=True
    )
    got = ops.convert_to_numpy(layer(inputs, mask=mask))
    for row, length in enumerate(lengths):
        # Row by row, over its real steps only; zeros after them.
        want, _ = stepped(cell, inputs[:, :length])
        np.testing.assert_allclose(got[row, :length], want[row], atol=1e-5)
        assert not got[row, length:].any()


def test_alignment_history_in_an_rnn_layer_grows_where_its_loop_can():
    # The history grows by a step per step (TFA's `TensorArray`): Keras'
    # loop carries it on TensorFlow (eagerly) and PyTorch, as TFA's did;
    # JAX's `scan` refuses a carry whose shape changes.
    cell = wrapper(keras.layers.GRUCell, alignment_history=True)
    inputs = np.random.default_rng(3).normal(size=(B, T, E)).astype("float32")
    layer = keras.layers.RNN(cell, return_state=True)
    if keras.backend.backend() == "jax":
        with pytest.raises(TypeError, match="carry"):
            layer(inputs)
        return
    history = layer(inputs)[4]
    _, final = stepped(cell, inputs)
    np.testing.assert_allclose(
        ops.convert_to_numpy(history),
        ops.convert_to_numpy(final.alignment_history.stack()),
        atol=1e-6,
    )
