"""`keras_seq2seq.tfa` run as TFA programs, seventh round.

Each test is a way TFA 0.23 programs used `tfa.seq2seq` that an earlier
version of this module got wrong: the wrapper's `get_initial_state(...,
dtype=...)` left the cell state in the cell's dtype (and refused
`tf.float32` on JAX); `tile_batch` refused a multiplier given as an int
scalar tensor; a float64 program
(`set_floatx("float64")`) failed on TensorFlow in the scheduled samplers
and in beam search; and `categorical_sample` and `bernoulli_sample` with
an int seed drew the same numbers at every call. Expected values come
from TFA's source, read for behaviour (its wrapper asked the cell for its
zero state with `get_initial_state(batch_size=..., dtype=...)`, its
`tile_batch` converted the multiplier to a tensor, its samplers drew in
the probability's float32, its draws took the int as TensorFlow's op
seed), and from identities: probability 0 is teacher forcing, a beam of
width 1 is greedy decoding.
"""

import keras
import numpy as np
import pytest
from float64_support import float64_only
from keras import ops

import keras_seq2seq.tfa as tfa
from helpers import dtype_of

B, S, D, H, U = 2, 5, 3, 4, 4
RNG = np.random.default_rng(71)
MEMORY = RNG.normal(size=(B, S, D)).astype("float32")
LENGTHS = np.array([5, 3], "int32")


def numpy(x):
    return ops.convert_to_numpy(x)


# --- `AttentionWrapper.get_initial_state(batch_size=B, dtype=...)`: TFA
# built the cell's zero state with `cell.get_initial_state(batch_size,
# dtype)`, so every field of the state, the cell state included, had the
# dtype asked for (or the dtype of `inputs=`). Ours gave the attention and
# alignments that dtype but left the cell state in the cell's float32.


@pytest.mark.parametrize(
    "cell_class", [keras.layers.GRUCell, keras.layers.LSTMCell]
)
@pytest.mark.parametrize("by_inputs", [False, True], ids=["dtype", "inputs"])
def test_get_initial_state_gives_the_cell_state_the_dtype_asked(
    cell_class, by_inputs
):
    mechanism = tfa.BahdanauAttention(U, MEMORY, LENGTHS)
    cell = tfa.AttentionWrapper(
        cell_class(H), mechanism, attention_layer_size=3, alignment_history=True
    )
    if by_inputs:
        state = cell.get_initial_state(inputs=np.zeros((B, D), "float16"))
    else:
        state = cell.get_initial_state(batch_size=B, dtype="float16")
    cell_state = keras.tree.flatten(state.cell_state)
    assert len(cell_state) == (2 if cell_class is keras.layers.LSTMCell else 1)
    for x in cell_state:
        assert dtype_of(x) == "float16"
        assert tuple(x.shape) == (B, H)
        np.testing.assert_array_equal(numpy(x), 0.0)
    assert dtype_of(state.attention) == "float16"
    assert dtype_of(state.alignment_history.stack()) == "float16"
    # Without a dtype, the cell's own zero state, as before.
    state = cell.get_initial_state(batch_size=B)
    for x in keras.tree.flatten(state.cell_state):
        assert dtype_of(x) == "float32"


# --- The same with TFA's spelling of the dtype, `dtype=tf.float32` (the
# tutorial's; kept by programs that read their data with `tf.data` on
# any backend). Keras' JAX ops refuse a `tf.DType` ("Cannot interpret
# 'tf.float32' as a data type"), and so did the wrapper's initial state
# on JAX; Keras' layers take one (`Dense(3, dtype=tf.float32)`).


@pytest.mark.parametrize(
    "make",
    [
        lambda: tfa.LuongAttention(U, MEMORY, LENGTHS),
        lambda: tfa.BahdanauMonotonicAttention(U, MEMORY, LENGTHS),
    ],
    ids=["luong", "bahdanau_monotonic"],
)
def test_get_initial_state_takes_a_tensorflow_dtype(make):
    tf = pytest.importorskip("tensorflow")
    mechanism = make()
    cell = tfa.AttentionWrapper(
        keras.layers.LSTMCell(H), mechanism, attention_layer_size=3
    )
    state = cell.get_initial_state(batch_size=B, dtype=tf.float16)
    expected = cell.get_initial_state(batch_size=B, dtype="float16")
    for got, want in zip(
        keras.tree.flatten(state), keras.tree.flatten(expected), strict=True
    ):
        assert dtype_of(got) == "float16"
        np.testing.assert_array_equal(numpy(got), numpy(want))
    alignments = mechanism.initial_alignments(B, tf.float32)
    assert dtype_of(alignments) == "float32"
    assert tuple(alignments.shape) == (B, S)


# --- `tile_batch(t, multiplier)` with `multiplier` an int scalar tensor
# (`tf.constant(beam_width)`, a width read from a config tensor): TFA
# converted it to a tensor and tiled; ours refused anything but an int.


def test_tile_batch_takes_an_int_scalar_tensor_multiplier():
    state = [MEMORY, LENGTHS]
    tiled = tfa.tile_batch(state, ops.convert_to_tensor(3, "int32"))
    expected = tfa.tile_batch(state, 3)
    for got, want in zip(tiled, expected, strict=True):
        np.testing.assert_array_equal(numpy(got), numpy(want))
    np.testing.assert_array_equal(numpy(tiled[1]), np.repeat(LENGTHS, 3))
    with pytest.raises(ValueError, match="multiplier"):
        tfa.tile_batch(MEMORY, ops.convert_to_tensor(0, "int32"))
    with pytest.raises(ValueError, match="multiplier"):
        tfa.tile_batch(MEMORY, ops.convert_to_tensor(2.0))


# --- A float64 program (`keras.config.set_floatx("float64")`, as TFA
# programs ran `tf.keras.backend.set_floatx("float64")`). TFA drew the
# scheduled samplers' choices in the probability's float32 and compared
# ids as int32; ours drew in floatx (float64 < float32: TensorFlow's type
# error) and built the vocabulary's and steps' ranges from Python ints
# (int64 under a float64 floatx) against int32 ids and lengths: beam
# search failed at its first step on TensorFlow. JAX keeps float64 only
# with x64 on, a switch of the process.


@float64_only
@pytest.mark.parametrize(
    "make, not_chosen",
    [
        (tfa.ScheduledEmbeddingTrainingSampler, -1),
        (tfa.ScheduledOutputTrainingSampler, 0),
    ],
    ids=["embedding", "output"],
)
def test_scheduled_samplers_run_a_float64_model(float64, make, not_chosen):
    # Probability 0 is teacher forcing (TFA's rule), in float64 throughout.
    steps = 3
    inputs = RNG.normal(size=(B, steps, H))
    cell = keras.layers.GRUCell(H)
    output_layer = keras.layers.Dense(H)
    # The embedding sampler embeds its draws; the output one feeds back
    # the outputs (`Dense(H)`, the inputs' depth).
    extra = {}
    if make is tfa.ScheduledEmbeddingTrainingSampler:
        extra = {"embedding": RNG.normal(size=(H, H))}
    results = []
    for sampler, kwargs in ((make(0.0), extra), (tfa.TrainingSampler(), {})):
        decoder = tfa.BasicDecoder(cell, sampler, output_layer=output_layer)
        outputs, _, lengths = decoder(
            inputs,
            initial_state=np.zeros((B, H)),
            sequence_length=[3, 2],
            **kwargs,
        )
        results.append(outputs)
    scheduled, teacher = results
    assert dtype_of(scheduled.rnn_output) == "float64"
    np.testing.assert_array_equal(numpy(scheduled.sample_id), not_chosen)
    np.testing.assert_allclose(
        numpy(scheduled.rnn_output), numpy(teacher.rnn_output), rtol=1e-12
    )
    assert numpy(lengths).tolist() == [3, 2]


@float64_only
def test_beam_search_runs_a_float64_model(float64):
    # Beam search of width 1 is greedy decoding (TFA's beam step keeps the
    # one best candidate); the alignment history is reordered at the end
    # (`gather_tree_from_array`, whose step range was int64 too).
    mechanism = tfa.BahdanauAttention(U, MEMORY, LENGTHS)
    cell = tfa.AttentionWrapper(
        keras.layers.GRUCell(H),
        mechanism,
        attention_layer_size=H,
        alignment_history=True,
    )
    vocabulary, end = 6, 5
    output_layer = keras.layers.Dense(vocabulary)
    output_layer.build((None, H))
    bias = np.zeros(vocabulary)
    bias[end] = -50.0  # never the best: both run the 4 steps
    output_layer.bias.assign(bias)
    embedding = RNG.normal(size=(vocabulary, D))
    start = np.zeros(B, "int32")
    beams = tfa.BeamSearchDecoder(
        cell, 1, output_layer=output_layer, maximum_iterations=4
    )
    outputs, state, lengths = beams(
        embedding,
        start_tokens=start,
        end_token=end,
        initial_state=cell.get_initial_state(batch_size=B, dtype="float64"),
    )
    greedy = tfa.BasicDecoder(
        cell,
        tfa.GreedyEmbeddingSampler(),
        output_layer=output_layer,
        maximum_iterations=4,
    )
    expected, greedy_state, _ = greedy(
        embedding,
        start_tokens=start,
        end_token=end,
        initial_state=cell.get_initial_state(batch_size=B, dtype="float64"),
    )
    ids = numpy(expected.sample_id)
    np.testing.assert_array_equal(numpy(outputs.predicted_ids)[:, :, 0], ids)
    assert numpy(lengths).tolist() == [[4], [4]]
    logits = numpy(expected.rnn_output)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    chosen = np.take_along_axis(log_probs, ids[..., None], -1).sum((1, 2))
    np.testing.assert_allclose(numpy(state.log_probs)[:, 0], chosen, rtol=1e-5)
    history = state.cell_state.alignment_history
    assert dtype_of(history) == "float64"
    np.testing.assert_allclose(
        numpy(history), numpy(greedy_state.alignment_history.stack()), atol=1e-6
    )


# --- `categorical_sample` and `bernoulli_sample` with an int `seed`, as
# TFA's `InferenceSampler` programs wrote their `sample_fn`: TFA handed
# the int to TensorFlow's random ops as their op seed, which draw anew at
# every call (the sequence fixed by the seed). Keras' int seed draws the
# same numbers at every call: every decoding step drew the same noise.


def test_an_int_seed_draws_anew_at_every_step():
    vocabulary = 7

    def sample_fn(outputs):
        # Uniform over the vocabulary whatever the outputs: only the
        # draws decide.
        logits = ops.zeros((ops.shape(outputs)[0], vocabulary))
        return tfa.sampler.categorical_sample(logits=logits, seed=7171)

    sampler = tfa.InferenceSampler(
        sample_fn,
        sample_shape=[],
        sample_dtype="int32",
        end_fn=lambda ids: ops.zeros(ops.shape(ids), "bool"),
        next_inputs_fn=lambda ids: ops.one_hot(ids, vocabulary),
    )
    cell = keras.layers.GRUCell(H)
    decoder = tfa.BasicDecoder(cell, sampler, maximum_iterations=6)
    outputs, _, _ = decoder(
        ops.one_hot(np.zeros(4, "int32"), vocabulary),
        initial_state=np.zeros((4, H), "float32"),
    )
    ids = numpy(outputs.sample_id)  # (4, 6)
    assert ids.shape == (4, 6) and ids.min() >= 0 and ids.max() < vocabulary
    # Six draws of 7 equally likely ids: the same six times has
    # probability 7**-5 per row.
    assert all(len(set(row)) > 1 for row in ids.tolist())
    probs = np.full(64, 0.5, "float32")
    first, second = (
        numpy(tfa.sampler.bernoulli_sample(probs=probs, seed=7172))
        for _ in range(2)
    )
    assert 0 < first.sum() < 64 and (first != second).any()
