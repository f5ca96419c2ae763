"""`keras_seq2seq.tfa` run as TFA programs, second round.

Each test is a way TFA 0.23 programs call `tfa.seq2seq` that an earlier
version of this module got wrong: arguments by position, the samplers'
dtypes and schedules, masks, TFA's own `Decoder` interface, and the
mechanisms' configs. The expected values are TFA's documented behaviour,
checked by hand or in NumPy.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa

B, T, E, C, V, K = 2, 4, 3, 5, 6, 3


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def numpy_tree(structure):
    return keras.tree.map_structure(ops.convert_to_numpy, structure)


# --- BeamSearchDecoder.call(embedding, start_tokens, end_token,
# initial_state, training=None): TFA programs pass them by position.


def test_beam_search_decoder_takes_its_call_arguments_by_position():
    embedding = np.random.default_rng(1).normal(size=(V, E)).astype("float32")
    decoder = tfa.BeamSearchDecoder(
        keras.layers.GRUCell(C),
        K,
        output_layer=keras.layers.Dense(V),
        maximum_iterations=5,
    )
    state = np.random.default_rng(2).normal(size=(B * K, C)).astype("float32")
    start = np.array([0, 3], "int32")
    by_name = numpy_tree(
        decoder(embedding, start_tokens=start, end_token=1, initial_state=state)
    )
    by_position = numpy_tree(decoder(embedding, start, 1, state, False))
    np.testing.assert_array_equal(
        by_position[0].predicted_ids, by_name[0].predicted_ids
    )
    np.testing.assert_array_equal(by_position[2], by_name[2])
    assert by_position[0].predicted_ids.shape[::2] == (B, K)

