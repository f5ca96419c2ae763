"""`keras_seq2seq.tfa` run as TFA programs, ninth round.

Each test is a way TFA 0.23 programs used `tfa.seq2seq` that an earlier
version of this module got wrong, or a rule of TFA's pinned where a
reading of ours could have gone another way: `BeamSearchDecoder`'s
state `lengths` were int32 where TFA's were int64 (`dynamic_decode`'s
third result stays int32, as TFA cast it); its `batch_size` raised
before `initialize` where TFA's read `None`; `BasicDecoder.output_dtype`
named the decoder layer's dtype, not that of the outputs its cell
emits; a float64 model's length penalty is TFA's float32 one. Expected
values come from TFA's source read for behaviour, NumPy, and
identities (a beam of width 1 is greedy decoding).
"""

import keras
import numpy as np
from float64_support import float64_only
from keras import ops

import keras_seq2seq.tfa as tfa
from helpers import dtype_of

B, S, D, H, U, V, E = 2, 5, 3, 4, 4, 6, 3
RNG = np.random.default_rng(91)
MEMORY = RNG.normal(size=(B, S, D)).astype("float32")
LENGTHS = np.array([5, 3], "int32")


def numpy(x):
    return ops.convert_to_numpy(x)


def widest_int():
    """int64, or int32 where the backend keeps no int64 (JAX without
    x64): the dtype NumPy's int64 becomes there."""
    return dtype_of(ops.convert_to_tensor(np.zeros((), "int64")))


def beam_decoder(beam_width=2, **kwargs):
    tiled = tfa.tile_batch(MEMORY, beam_width)
    mechanism = tfa.BahdanauAttention(
        U, tiled, tfa.tile_batch(LENGTHS, beam_width)
    )
    cell = tfa.AttentionWrapper(
        keras.layers.GRUCell(H), mechanism, attention_layer_size=H
    )
    decoder = tfa.BeamSearchDecoder(
        cell, beam_width, output_layer=keras.layers.Dense(V), **kwargs
    )
    state = cell.get_initial_state(batch_size=B * beam_width, dtype="float32")
    return decoder, state


# --- The beam state's lengths: TFA kept them int64 (`tf.zeros(...,
# tf.int64)`, one-hots of int64), and programs read them so:
# `tf.cast(lengths, tf.int64)` was no-op, `lengths - tf.constant(1,
# tf.int64)` worked. `dynamic_decode` returned them cast to int32.


def test_beam_state_lengths_are_int64_and_the_returned_lengths_int32():
    decoder, state = beam_decoder(maximum_iterations=4)
    embedding = RNG.normal(size=(V, E)).astype("float32")
    outputs, final_state, lengths = decoder(
        embedding,
        start_tokens=np.zeros(B, "int32"),
        end_token=V - 1,
        initial_state=state,
    )
    assert dtype_of(final_state.lengths) == widest_int()
    assert dtype_of(lengths) == "int32"
    np.testing.assert_array_equal(numpy(final_state.lengths), numpy(lengths))
    _, start_inputs, first = decoder.initialize(
        embedding, np.zeros(B, "int32"), V - 1, state
    )
    assert dtype_of(first.lengths) == widest_int()
    step_outputs, next_state, _, _ = decoder.step(0, start_inputs, first)
    assert dtype_of(next_state.lengths) == widest_int()
    assert dtype_of(step_outputs.predicted_ids) == "int32"


# --- `batch_size` before `initialize`: TFA's beam decoder set
# `self._batch_size = None` in its constructor and read it back, so a
# program could test `decoder.batch_size is None`. Ours raised
# (TensorFlow: a ValueError converting None; JAX: AttributeError).


def test_beam_batch_size_is_none_before_initialize_then_the_batch():
    decoder, state = beam_decoder()
    assert decoder.batch_size is None
    decoder.initialize(
        RNG.normal(size=(V, E)).astype("float32"),
        np.zeros(B, "int32"),
        V - 1,
        state,
    )
    assert int(decoder.batch_size) == B


# --- `BasicDecoder.output_dtype`: TFA's is the dtype of the outputs
# the decoder emits (it read the initial state's dtype, which is the
# cell's in any program TFA ran). Ours named the BasicDecoder layer's
# own compute dtype: a float16 cell's outputs were float16 while
# `output_dtype` said float32 (and a TensorFlow graph's loop buffers,
# made from it, cast them).


def half_cell():
    # Glorot: Keras' orthogonal initializer has no float16 QR on JAX and
    # PyTorch CPUs.
    return keras.layers.GRUCell(
        H, dtype="float16", recurrent_initializer="glorot_uniform"
    )


def test_basic_decoder_output_dtype_is_that_of_the_cells_outputs():
    decoder = tfa.BasicDecoder(half_cell(), tfa.TrainingSampler())
    inputs = RNG.normal(size=(B, 3, E)).astype("float16")
    outputs, _, _ = decoder(
        inputs,
        initial_state=np.zeros((B, H), "float16"),
        sequence_length=[3, 2],
    )
    assert dtype_of(outputs.rnn_output) == "float16"
    assert decoder.output_dtype == tfa.BasicDecoderOutput("float16", "int32")


def test_basic_decoder_output_dtype_with_an_output_layer_is_the_layers():
    decoder = tfa.BasicDecoder(
        half_cell(),
        tfa.TrainingSampler(),
        output_layer=keras.layers.Dense(V, dtype="float32"),
    )
    inputs = RNG.normal(size=(B, 3, E)).astype("float16")
    outputs, _, _ = decoder(
        inputs,
        initial_state=np.zeros((B, H), "float16"),
        sequence_length=[3, 2],
    )
    assert dtype_of(outputs.rnn_output) == "float32"
    assert decoder.output_dtype.rnn_output == "float32"


# --- A float64 model's length penalty: TFA computed `((5 + length) /
# 6) ** weight` in float32 (`tf.cast(lengths, tf.float32)`, a float32
# weight) and cast it to the scores' float64. With weight 1 the float32
# penalty is the float32 rounding of (5 + length) / 6, so the scores
# tell the two dtypes apart.


@float64_only
def test_a_float64_models_length_penalty_is_tfas_float32_one(float64):
    decoder, _ = beam_decoder(
        beam_width=1, maximum_iterations=3, length_penalty_weight=1.0
    )
    state = decoder.cell.get_initial_state(batch_size=B, dtype="float64")
    decoder.output_layer.build((None, H))
    bias = np.zeros(V)
    bias[V - 1] = -50.0  # the end token is never chosen: 3 steps
    decoder.output_layer.bias.assign(bias)
    outputs, final_state, _ = decoder(
        RNG.normal(size=(V, E)),
        start_tokens=np.zeros(B, "int32"),
        end_token=V - 1,
        initial_state=state,
    )
    scores = numpy(outputs.beam_search_decoder_output.scores)[:, :, 0]
    log_probs = numpy(final_state.log_probs)[:, 0]
    penalty = (np.float32(5 + 3) / np.float32(6)).astype("float64")
    assert (5 + 3) / 6 != penalty  # the float32 rounding shows
    np.testing.assert_allclose(scores[:, -1], log_probs / penalty, rtol=1e-14)
