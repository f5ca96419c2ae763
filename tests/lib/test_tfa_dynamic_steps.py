"""`tfa.dynamic_decode` in TensorFlow graphs whose axes are not all
static, as TFA programs trace it.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.function graphs with axes of unknown size are TensorFlow's: "
    "jax.jit traces static shapes (one trace per shape) and PyTorch runs "
    "eagerly; the other tests cover those on every backend",
)

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

B, E, U, V, TS = 2, 4, 6, 10, 5


def assert_trees_close(got, want, atol=1e-5):
    got, want = keras.tree.flatten(got), keras.tree.flatten(want)
    assert len(got) == len(want)
    for have, expected in zip(got, want, strict=True):
        if expected is None:  # a weight the loss does not reach
            assert have is None
            continue
        have = ops.convert_to_numpy(have)
        expected = ops.convert_to_numpy(expected)
        assert have.shape == expected.shape
        np.testing.assert_allclose(have, expected, atol=atol)


def attention_decoder(impute_finished):
    memory = np.random.default_rng(1).normal(size=(B, TS, U))
    mechanism = tfa.LuongAttention(U, memory=memory.astype("float32"))
    cell = tfa.AttentionWrapper(
        keras.layers.LSTMCell(U),
        mechanism,
        attention_layer_size=U,
        alignment_history=True,
    )
    decoder = tfa.BasicDecoder(
        cell,
        tfa.TrainingSampler(),
        output_layer=keras.layers.Dense(V),
        impute_finished=impute_finished,
    )
    return decoder, cell


def test_a_static_time_axis_with_a_batch_of_unknown_size():
    # The loop of a static length, which pads to it: `impute_finished`
    # took entries whose batch axis is None before a step and 2 after it
    # for alignment histories, and failed.
    decoder, cell = attention_decoder(impute_finished=True)

    def decode(inputs, lengths):
        batch_size = ops.shape(inputs)[0]
        initial = cell.get_initial_state(batch_size=batch_size, dtype="float32")
        outputs, state, lengths = decoder(
            inputs, initial_state=initial, sequence_length=lengths
        )
        history = state.alignment_history.stack()
        return outputs, state._replace(alignment_history=history), lengths

    signature = [
        tf.TensorSpec((None, TS, E), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]
    inputs = np.random.default_rng(3).normal(size=(B, TS, E))
    inputs, lengths = inputs.astype("float32"), np.array([TS, 2], "int32")
    want = decode(inputs, lengths)
    assert_trees_close(tf.function(decode, signature)(inputs, lengths), want)
