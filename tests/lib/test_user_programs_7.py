"""`keras_seq2seq.tfa` run as TFA users' programs, seventh audit round.

This round ports what TFA 0.23's docs, tests and answers do with the
mechanisms' memory set-up (`memory_mask`, `setup_memory` through the
layer call, a memory from `keras.Input`), the beam search decoder's call
arguments, the `TrainingSampler`'s `sequence_length`, and the free
function `monotonic_attention`, with `import keras_seq2seq.tfa as tfa` in
place of TFA's import. Each test pins one defect of an earlier version:
a wrong or silently garbled result, or a backend's cryptic error where
TFA (or its documented contract) raises one clear `ValueError`. Expected
numbers are identities that must hold (the same set-up written two ways)
or a NumPy computation.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa

B, TS, D, C, E, V = 2, 5, 6, 4, 3, 7
LENGTHS = np.array([5, 2])


def normal(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def numpy(x):
    return ops.convert_to_numpy(x)


# --- A memory from `keras.Input`: "Hands-On Machine Learning" and TFA's
# README build the mechanism on the encoder's symbolic outputs. TFA's own
# functional use failed on TensorFlow 2 (tensorflow/addons#1898, "disable
# eager execution"); here it raised a backend's error about `None`
# (`arange(None)`) or a tensor conversion. It now says what to do.


@pytest.mark.parametrize(
    "build",
    [
        lambda memory, lengths: tfa.LuongAttention(
            C, memory, memory_sequence_length=lengths
        ),
        lambda memory, lengths: tfa.BahdanauAttention(C, memory),
        lambda memory, lengths: tfa.BahdanauAttention(C).setup_memory(
            memory, lengths
        ),
        lambda memory, lengths: tfa.LuongAttention(C)(
            memory, setup_memory=True
        ),
    ],
    ids=["constructor", "constructor_no_lengths", "setup_memory", "call"],
)
def test_a_symbolic_memory_raises_one_clear_error(build):
    source = keras.Input(shape=[None], dtype="int32")
    lengths = keras.Input(shape=[], dtype="int32")
    encoder = keras.layers.LSTM(C, return_sequences=True, return_state=True)
    memory, _, _ = encoder(keras.layers.Embedding(V, E)(source))
    with pytest.raises(ValueError, match="symbolic.*setup_memory"):
        build(memory, lengths)


# --- `setup_memory(memory, memory_mask=...)` with a mask of another shape
# than the memory's `(B, T)`: a backend's broadcasting error about a
# multiplication (`(2, 5, 6)` vs `(2, 4, 1)`).


@pytest.mark.parametrize("shape", [(B, TS - 1), (B, TS, 1), (B + 1, TS)])
def test_a_memory_mask_of_another_shape_raises_clearly(shape):
    mechanism = tfa.BahdanauAttention(C)
    with pytest.raises(ValueError, match=r"memory_mask.*\(B, T\)"):
        mechanism.setup_memory(normal(0, B, TS, D), memory_mask=np.ones(shape))


# --- The layer-call form of the set-up, `mechanism(inputs,
# setup_memory=True)`, takes TFA's `[memory]` or `[memory, lengths]`: the
# list of one raised "not enough values to unpack".


def test_setup_memory_through_the_call_takes_a_list_of_one_tensor():
    memory = normal(1, B, TS, D)
    query = normal(2, B, C)
    by_list = tfa.LuongAttention(C)
    by_list([memory], setup_memory=True)
    by_method = tfa.LuongAttention(C)
    by_method.setup_memory(memory)
    by_method.set_weights(by_list.get_weights())
    previous = by_list.initial_alignments(B, "float32")
    np.testing.assert_allclose(numpy(by_list.values), memory)
    np.testing.assert_allclose(
        numpy(by_list([query, previous])[0]),
        numpy(by_method([query, previous])[0]),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="1 or 2 tensors, got 3"):
        by_list([memory, LENGTHS, LENGTHS], setup_memory=True)


# --- `BeamSearchDecoder(...)(embedding, start_tokens, end_token,
# initial_state)`: TFA raises "start_tokens must be a vector" and
# "end_token must be a scalar". A `(B, 1)` column of start tokens gave
# the cell `(B*K, 1, E)` inputs and a backend's split error; a list end
# token was taken as is.


def beam_decoder():
    return tfa.BeamSearchDecoder(
        keras.layers.GRUCell(C),
        beam_width=2,
        output_layer=keras.layers.Dense(V),
        maximum_iterations=3,
    )


@pytest.mark.parametrize(
    "start_tokens, end_token, match",
    [
        (np.zeros((B, 1), "int32"), 1, "start_tokens must be a vector"),
        (np.zeros(B, "int32"), [1], "end_token must be a scalar"),
    ],
)
def test_beam_search_takes_vector_start_tokens_and_a_scalar_end_token(
    start_tokens, end_token, match
):
    state = tfa.tile_batch(normal(3, B, C), 2)
    with pytest.raises(ValueError, match=match):
        beam_decoder()(normal(4, V, E), start_tokens, end_token, state)


# --- `TrainingSampler` with a `sequence_length` longer than the inputs'
# time axis: TFA's TensorArray read past its end raised; here the
# decoding read the last step again and again, and returned as many
# steps as the longest length (eagerly; a compiled run stopped at T).


def test_training_lengths_beyond_the_inputs_raise():
    decoder = tfa.BasicDecoder(keras.layers.GRUCell(C), tfa.TrainingSampler())
    inputs = normal(5, B, 3, E)
    with pytest.raises(ValueError, match="sequence_length.*3 steps"):
        decoder(
            inputs,
            initial_state=np.zeros((B, C), "float32"),
            sequence_length=[4, 2],
        )


# --- `tfa.seq2seq.monotonic_attention(p_choose_i, previous_attention,
# mode)` takes `(batch_size, input_sequence_length)` matrices (TFA's
# docs). A vector, a rank-3 tensor or a previous attention of another
# length raised each backend's own error (an index, a `cumsum` axis, a
# division's broadcasting), one of them naming a private helper.


@pytest.mark.parametrize("mode", ["parallel", "recursive", "hard"])
@pytest.mark.parametrize(
    "p_shape, previous_shape",
    [((TS,), (TS,)), ((1, B, TS), (1, B, TS)), ((B, TS), (B, TS - 1))],
    ids=["vector", "rank3", "lengths_differ"],
)
def test_monotonic_attention_takes_two_matrices_of_one_shape(
    mode, p_shape, previous_shape
):
    p = np.full(p_shape, 0.5, "float32")
    previous = np.zeros(previous_shape, "float32")
    with pytest.raises(ValueError, match="previous_attention"):
        tfa.monotonic_attention(p, previous, mode)


# --- A query call with TFA's optional third entry, `mechanism([query,
# state, mechanism.values])` (TFA appended the processed memory to connect
# a Keras 2 graph, and takes 2 or 3 items): "too many values to unpack".


def test_a_query_call_takes_tfas_optional_processed_memory():
    mechanism = tfa.BahdanauMonotonicAttention(C, normal(6, B, TS, D), LENGTHS)
    query = normal(7, B, C)
    previous = mechanism.initial_alignments(B, "float32")
    alignments, state = mechanism([query, previous, mechanism.values])
    want, _ = mechanism([query, previous])
    np.testing.assert_allclose(numpy(alignments), numpy(want), rtol=1e-6)
    np.testing.assert_allclose(numpy(state), numpy(want), rtol=1e-6)
    with pytest.raises(ValueError, match="query, state.*got 1 items"):
        mechanism([query])
