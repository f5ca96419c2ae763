"""`keras_seq2seq.tfa` run as TFA programs, third round.

Each test is a way TFA 0.23 programs call `tfa.seq2seq` that an earlier
version of this module got wrong: `gather_tree` on the parent ids and end
tokens TFA's kernel refused; sizes, seeds and weights given as NumPy
scalars; the sampler module's `categorical_sample` and `bernoulli_sample`
(an `InferenceSampler`'s `sample_fn`); and `sequence_loss` on float64
logits. Expected values come from TFA's source and unit tests, read for
behaviour and written here in NumPy, or from the same program run with
Python numbers.
"""

import json

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from keras_seq2seq.decoding.compile import compiled

# --- gather_tree: TFA's kernel raised (InvalidArgumentError, naming the
# parent id) for a parent id outside the beam that its walk reads, and for
# an `end_token` that is not a scalar. Its walk reads the parents of steps
# 1 to length - 1 along each beam's path, never those of step 0 or past
# the length. The arrays are TFA's `beam_search_ops_test.py`'s.


def time_major(x):
    return np.transpose(np.array(x, "int32"), (1, 0, 2))


STEP_IDS = time_major([[[1, 2, 3], [4, 5, 6], [7, 8, 9], [-1, -1, -1]]])


@pytest.mark.parametrize("bad", [-1, 4, 7])  # K = 3 reads on (round 6)
def test_gather_tree_refuses_a_parent_id_its_walk_reads(bad):
    parent_ids = time_major([[[0, 0, 0], [0, bad, 1], [2, 1, 2], [0, 0, 0]]])
    with pytest.raises(ValueError, match="parent id"):
        tfa.gather_tree(STEP_IDS, parent_ids, [3], 10)


def test_gather_tree_ignores_parent_ids_its_walk_never_reads():
    # Step 0's parents and those past the length are never read; at step
    # 1 the walk reads columns [1, 1, 0] only, so column 2's 9 may be bad.
    parent_ids = time_major([[[-1, 5, -1], [0, 1, 9], [1, 1, 0], [-1, 8, -1]]])
    beams = tfa.gather_tree(STEP_IDS, parent_ids, [3], 10)
    # Beam j's ids walked back by hand: step 2 takes column j, steps 1
    # and 0 the columns its parents name.
    want = time_major([[[2, 2, 1], [5, 5, 4], [7, 8, 9], [10, 10, 10]]])
    np.testing.assert_array_equal(ops.convert_to_numpy(beams), want)


def test_gather_tree_refuses_an_end_token_that_is_no_scalar():
    parent_ids = time_major([[[0, 0, 0], [0, 1, 1], [2, 1, 2], [0, 0, 0]]])
    with pytest.raises(ValueError, match="end_token must be a scalar"):
        tfa.gather_tree(STEP_IDS, parent_ids, [3], [10, 11, 12])


def test_gather_tree_in_a_compiled_function_equals_eager():
    # Traced parents have no values to check; the backtracking still runs.
    parent_ids = time_major([[[0, 0, 0], [0, 1, 1], [2, 1, 2], [0, 0, 0]]])
    eager = tfa.gather_tree(STEP_IDS, parent_ids, np.array([3]), 10)
    traced = compiled(tfa.gather_tree)(
        STEP_IDS, parent_ids, np.array([3], "int32"), np.int32(10)
    )
    # TFA's `test_gather_tree_one`.
    want = time_major([[[2, 2, 2], [6, 5, 6], [7, 8, 9], [10, 10, 10]]])
    np.testing.assert_array_equal(ops.convert_to_numpy(eager), want)
    np.testing.assert_array_equal(ops.convert_to_numpy(traced), want)


# --- NumPy integer sizes: TFA's layers took a `units`,
# `attention_layer_size` or `beam_width` that is a NumPy integer (read from
# an array or a config file), as the library's searches and `tile_batch`
# do. They were refused ("must be an int", or Keras' Dense's "expected a
# positive integer"); now they build what the Python int builds, and their
# configs hold Python ints (a NumPy integer is no JSON).

B, T, D, C, V, K = 2, 5, 3, 4, 6, 2
MEMORY = np.random.default_rng(2).normal(size=(B, T, D)).astype("float32")
LENGTHS = np.array([5, 3], "int32")


@pytest.mark.parametrize(
    "cls",
    [
        tfa.BahdanauAttention,
        tfa.LuongAttention,
        tfa.BahdanauMonotonicAttention,
        tfa.LuongMonotonicAttention,
    ],
)
def test_a_mechanism_takes_numpy_integer_units(cls):
    query = np.random.default_rng(3).normal(size=(B, C)).astype("float32")
    mechanisms = [cls(units, MEMORY, LENGTHS) for units in (C, np.int64(C))]
    state = mechanisms[0].initial_state(B, "float32")
    for mechanism in mechanisms:
        mechanism([query, state])  # creates every weight
        config = json.loads(json.dumps(mechanism.get_config()))
        assert config["units"] == C and type(mechanism.units) is int
    mechanisms[1].set_weights(mechanisms[0].get_weights())
    want, got = (
        ops.convert_to_numpy(mechanism([query, state])[0])
        for mechanism in mechanisms
    )
    np.testing.assert_array_equal(got, want)


def test_a_wrapper_takes_numpy_integer_attention_layer_sizes():
    inputs = np.ones((B, 3), "float32")
    outputs = []
    for size in (int, np.int64):
        keras.utils.set_random_seed(5)
        mechanisms = [tfa.LuongAttention(C, MEMORY, LENGTHS) for _ in "ab"]
        cell = tfa.AttentionWrapper(
            keras.layers.GRUCell(C),
            mechanisms,
            attention_layer_size=[size(3), size(2)],
        )
        state = cell.get_initial_state(batch_size=B, dtype="float32")
        outputs.append(ops.convert_to_numpy(cell(inputs, state)[0]))
        assert cell.output_size == 5
        config = json.loads(json.dumps(cell.get_config()))
        assert config["attention_layer_size"] == [3, 2]
    assert outputs[0].shape == (B, 5)
    np.testing.assert_array_equal(outputs[1], outputs[0])


def test_beam_search_takes_a_numpy_integer_beam_width():
    embedding = np.random.default_rng(4).normal(size=(V, 3))
    results = []
    for beam_width in (K, np.int64(K)):
        keras.utils.set_random_seed(5)
        decoder = tfa.BeamSearchDecoder(
            keras.layers.GRUCell(C),
            beam_width,
            output_layer=keras.layers.Dense(V),
            maximum_iterations=2,
        )
        outputs, _, _ = decoder(
            embedding.astype("float32"),
            start_tokens=np.zeros(B, "int32"),
            end_token=1,
            initial_state=np.zeros((B * K, C), "float32"),
        )
        config = json.loads(json.dumps(decoder.get_config()))
        assert config["beam_width"] == K
        results.append(ops.convert_to_numpy(outputs.predicted_ids))
    assert results[0].shape == (B, 2, K)
    np.testing.assert_array_equal(results[1], results[0])


# --- NumPy seeds and penalty weights: TensorFlow's random ops took a
# NumPy integer seed (Keras' `SeedGenerator` refuses one), and a NumPy
# float kept in a config is no JSON (`model.save` failed).

SAMPLERS = {
    "sample_embedding": lambda seed: tfa.SampleEmbeddingSampler(seed=seed),
    "scheduled_embedding": lambda seed: tfa.ScheduledEmbeddingTrainingSampler(
        0.5, seed=seed, scheduling_seed=seed
    ),
    "scheduled_output": lambda seed: tfa.ScheduledOutputTrainingSampler(
        0.5, seed=seed
    ),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_sampler_takes_a_numpy_integer_seed(name):
    # The draws are those of the int.
    logits = np.random.default_rng(6).normal(size=(B, V)).astype("float32")
    inputs = np.zeros((B, T, V), "float32")
    draws = []
    for seed in (7, np.int64(7)):
        sampler = SAMPLERS[name](seed)
        if name == "sample_embedding":
            sampler.initialize(np.eye(V, dtype="float32"), [0] * B, 1)
        elif name == "scheduled_embedding":
            sampler.initialize(inputs, embedding=np.eye(V, dtype="float32"))
        else:
            sampler.initialize(inputs)
        config = json.loads(json.dumps(sampler.get_config()))
        assert config["seed"] == 7
        steps = [sampler.sample(t, logits, None) for t in range(4)]
        draws.append(np.stack([ops.convert_to_numpy(s) for s in steps]))
    np.testing.assert_array_equal(draws[1], draws[0])


def test_numpy_seeds_and_penalty_weights_save_as_python_numbers():
    for cls in (tfa.BahdanauMonotonicAttention, tfa.LuongMonotonicAttention):
        mechanism = cls(
            C,
            MEMORY,
            LENGTHS,
            sigmoid_noise=np.float32(0.5),
            sigmoid_noise_seed=np.int64(8),
            score_bias_init=np.float32(-1.0),
        )
        config = json.loads(json.dumps(mechanism.get_config()))
        assert config["sigmoid_noise_seed"] == 8
        assert config["sigmoid_noise"] == 0.5
        assert config["score_bias_init"] == -1.0
    decoder = tfa.BeamSearchDecoder(
        keras.layers.GRUCell(C),
        K,
        length_penalty_weight=np.float32(0.5),
        coverage_penalty_weight=np.float64(0.25),
    )
    config = json.loads(json.dumps(decoder.get_config()))
    assert config["length_penalty_weight"] == 0.5
    assert config["coverage_penalty_weight"] == 0.25


# --- `tfa.seq2seq.sampler.categorical_sample` and `bernoulli_sample`:
# public functions of TFA's sampler module, which its `InferenceSampler`
# examples (TFA's unit tests) pass as `sample_fn`. They were missing
# (AttributeError). TFA's shapes: `sample_shape + batch shape`, the batch
# shape being the logits' without the last axis (categorical) or all of
# it (Bernoulli); `dtype` int32 unless given.


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_categorical_sample_draws_from_the_softmax_in_tfas_shapes():
    sample = tfa.seq2seq.sampler.categorical_sample
    peaked = np.array([[0.0, 50.0, 0.0], [50.0, 0.0, 0.0]], "float32")
    ids = sample(logits=peaked)
    assert keras.backend.standardize_dtype(ids.dtype) == "int32"
    np.testing.assert_array_equal(ops.convert_to_numpy(ids), [1, 0])
    rank3 = np.broadcast_to(peaked, (4, 2, 3))
    ids = sample(rank3, dtype="int16", sample_shape=[5], seed=1)
    assert keras.backend.standardize_dtype(ids.dtype) == "int16"
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ids), np.broadcast_to([1, 0], (5, 4, 2))
    )
    logits = np.array([[0.5, -1.0, 1.0]], "float32")
    ids = ops.convert_to_numpy(sample(logits, sample_shape=4000, seed=2))
    assert ids.shape == (4000, 1)
    frequencies = np.bincount(ids[:, 0], minlength=3) / 4000
    np.testing.assert_allclose(frequencies, softmax(logits)[0], atol=0.03)


def test_bernoulli_sample_draws_ones_with_the_probability():
    sample = tfa.seq2seq.sampler.bernoulli_sample
    flags = sample(probs=np.array([[0.0, 1.0, 1.0]], "float32"), dtype="bool")
    assert keras.backend.standardize_dtype(flags.dtype) == "bool"
    np.testing.assert_array_equal(ops.convert_to_numpy(flags), [[0, 1, 1]])
    logits = np.array([-40.0, 40.0], "float32")
    ones = sample(logits=logits, sample_shape=(2, 3), seed=3)
    assert keras.backend.standardize_dtype(ones.dtype) == "int32"
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ones), np.broadcast_to([0, 1], (2, 3, 2))
    )
    logits = np.array([np.log(0.3 / 0.7)], "float32")  # sigmoid: 0.3
    ones = ops.convert_to_numpy(sample(logits=logits, sample_shape=4000))
    assert ones.shape == (4000, 1)
    np.testing.assert_allclose(ones.mean(), 0.3, atol=0.03)


def test_tfas_multilabel_inference_sampler_program_decodes():
    # TFA's `test_step_with_inference_helper_multilabel`, run to the end:
    # each step's sample is a vector of Bernoulli flags, fed back as
    # floats; a row ends when its flag `end` is set.
    depth, end = 7, 6
    sampler = tfa.InferenceSampler(
        lambda x: tfa.seq2seq.sampler.bernoulli_sample(logits=x, dtype="bool"),
        sample_shape=[depth],
        sample_dtype="bool",
        end_fn=lambda sample_ids: sample_ids[:, end],
        next_inputs_fn=lambda x: ops.cast(x, "float32"),
    )
    cell = keras.layers.LSTMCell(depth)
    decoder = tfa.BasicDecoder(cell, sampler, maximum_iterations=3)
    start = np.eye(depth, dtype="float32")[[0] * 3]
    state = [np.zeros((3, depth), "float32")] * 2
    outputs, _, lengths = decoder(start, initial_state=state)
    flags = ops.convert_to_numpy(outputs.sample_id)
    assert flags.dtype == bool and flags.shape[::2] == (3, depth)
    steps = flags.shape[1]
    for row, length in zip(flags, ops.convert_to_numpy(lengths), strict=True):
        ended = np.flatnonzero(row[:, end])
        assert length == (ended[0] + 1 if ended.size else steps)
    assert steps == 3 or flags[:, :, end].any(axis=1).all()


def test_an_inference_sampler_gives_ids_in_its_declared_dtype():
    # `InferenceSampler(lambda x: ops.argmax(x, -1), [], "int64", ...)`:
    # TFA's programs passed `tf.argmax` (int64) and got int64 ids; here
    # `ops.argmax`'s int32 ids came out while the decoder declared int64.
    # JAX without x64 has no int64: int32 there, as for NumPy's int64.
    widest = keras.backend.standardize_dtype(
        ops.convert_to_tensor(np.zeros((), "int64")).dtype
    )
    sampler = tfa.InferenceSampler(
        lambda x: ops.argmax(x, -1),
        sample_shape=[],
        sample_dtype="int64",
        end_fn=lambda ids: ops.equal(ids, 0),
        next_inputs_fn=lambda ids: ops.one_hot(ids, 5),
    )
    decoder = tfa.BasicDecoder(
        keras.layers.SimpleRNNCell(5), sampler, maximum_iterations=4
    )
    start = np.eye(5, dtype="float32")[[1, 2, 3]]
    outputs, _, _ = decoder(start, initial_state=np.ones((3, 5), "float32"))
    ids = outputs.sample_id
    assert keras.backend.standardize_dtype(ids.dtype) == widest
    assert decoder.output_dtype.sample_id == "int64"  # as declared
    logits = ops.convert_to_numpy(outputs.rnn_output)
    np.testing.assert_array_equal(ops.convert_to_numpy(ids), logits.argmax(-1))


# --- float64 logits: TFA's `sequence_loss` computes in the logits' dtype
# (`sparse_softmax_cross_entropy_with_logits` in float64), so a float64
# program got float64 losses. They were rounded to float32 (~1e-7 off).
# JAX without x64 has no float64: there the arrays are float32 already.


@pytest.mark.parametrize(
    "flags",
    [
        {},
        {"average_across_timesteps": False, "average_across_batch": False},
        {
            "average_across_timesteps": False,
            "average_across_batch": False,
            "sum_over_timesteps": True,
        },
    ],
    ids=["averages", "none", "sum_over_timesteps"],
)
def test_sequence_loss_of_float64_logits_is_float64(flags):
    rng = np.random.default_rng(9)
    logits = rng.normal(scale=3.0, size=(3, 4, 5))
    targets = rng.integers(0, 5, (3, 4))
    weights = np.array([[1, 1, 0.5, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    dtype = keras.backend.standardize_dtype(ops.convert_to_tensor(logits).dtype)
    tolerance = 1e-12 if dtype == "float64" else 1e-6
    loss = tfa.sequence_loss(logits, targets, weights, **flags)
    assert keras.backend.standardize_dtype(loss.dtype) == dtype
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    ce = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    ce = ce * weights
    if not flags:  # TFA's default: sum / sum of the weights
        want = ce.sum() / weights.sum()
    elif "sum_over_timesteps" in flags:  # per row, over non-zero weights
        count = (weights != 0).sum(1)
        want = np.where(count > 0, ce.sum(1) / np.maximum(count, 1), 0.0)
    else:
        want = ce
    np.testing.assert_allclose(
        ops.convert_to_numpy(loss), want, rtol=tolerance, atol=tolerance
    )


# --- A sample shape given as an int: TFA made it `tf.TensorShape(n)`,
# the shape `(n,)`, in `InferenceSampler(sample_shape=...)` and
# `CustomSampler(sample_ids_shape=...)`; `tuple(n)` raised TypeError.


def test_an_int_sample_shape_is_a_vector_of_that_size():
    inference = tfa.InferenceSampler(
        lambda x: x, 5, "float32", end_fn=lambda ids: ids[:, 0] > 2.0
    )
    custom = tfa.CustomSampler(
        lambda inputs: (np.zeros(B, bool), inputs),
        lambda time, outputs, state: outputs,
        lambda time, outputs, state, sample_ids: (
            np.zeros(B, bool),
            outputs,
            state,
        ),
        sample_ids_shape=5,
        sample_ids_dtype="float32",
    )
    for sampler in (inference, custom):
        assert sampler.sample_ids_shape == (5,)
        decoder = tfa.BasicDecoder(
            keras.layers.SimpleRNNCell(5), sampler, maximum_iterations=2
        )
        outputs, _, _ = decoder(
            np.ones((B, 5), "float32"), initial_state=np.zeros((B, 5))
        )
        assert tuple(outputs.sample_id.shape) == (B, 2, 5)
