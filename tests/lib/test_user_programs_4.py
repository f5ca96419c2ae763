"""`keras_seq2seq.tfa` run as TFA users' programs, fourth audit round.

Each test ports a way TFA 0.23 programs (docs, tutorials, answers) call
`tfa.seq2seq` that an earlier version of this module got wrong, with
`import keras_seq2seq.tfa as tfa_seq2seq` in place of TFA. The expected
values come from TFA's documented semantics, checked in NumPy or as
identities that must hold.
"""

import keras
import numpy as np

import keras_seq2seq.tfa as tfa_seq2seq
from helpers import to_numpy

B, TS, E, C, V, K = 2, 5, 4, 6, 7, 3


def normal(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# --- BeamSearchDecoder's `embedding` may be a callable, such as the
# decoder's `keras.layers.Embedding`: it must equal passing its matrix
# (it raised Keras' "cannot add new elements of state" error, the layer
# being tracked by the already built decoder).


def test_beam_search_takes_an_embedding_layer_as_its_embedding():
    embedding = keras.layers.Embedding(V, E)
    embedding.build((None,))
    decoder = tfa_seq2seq.BeamSearchDecoder(
        keras.layers.GRUCell(C),
        K,
        output_layer=keras.layers.Dense(V),
        maximum_iterations=4,
    )
    state = tfa_seq2seq.tile_batch(normal(1, B, C), K)
    start = np.array([0, 3], "int32")
    by_matrix = decoder(
        embedding.embeddings,
        start_tokens=start,
        end_token=1,
        initial_state=state,
    )
    by_layer = decoder(
        embedding, start_tokens=start, end_token=1, initial_state=state
    )
    np.testing.assert_array_equal(
        to_numpy(by_layer[0].predicted_ids),
        to_numpy(by_matrix[0].predicted_ids),
    )
    np.testing.assert_allclose(
        to_numpy(by_layer[1].log_probs), to_numpy(by_matrix[1].log_probs)
    )
    # The per-call embedding is not one of the decoder's weights.
    assert len(decoder.weights) == 3 + 2
