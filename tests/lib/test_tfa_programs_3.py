"""`keras_seq2seq.tfa` run as TFA programs, third round.

Each test is a way TFA 0.23 programs call `tfa.seq2seq` that an earlier
version of this module got wrong, or a contract of TFA's that no other
test pins: `gather_tree` on parent ids TFA's kernel refused, and the
other corners named in each test. Expected values come from TFA's source
and unit tests, read for behaviour and written here in NumPy.
"""

import json

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from keras_seq2seq.decoding.compile import compiled

# --- gather_tree: TFA's kernel checks every parent id its walk reads
# ("Saw invalid parent id -1 at (batch, time, beam) == (0, 0, 1)") and
# that `end_token` is a scalar. Its walk reads the parents of steps 1 to
# length - 1 along each beam's path, never those of step 0 or past the
# length. The arrays are TFA's `beam_search_ops_test.py`'s.


def time_major(x):
    return np.transpose(np.array(x, "int32"), (1, 0, 2))


STEP_IDS = time_major([[[1, 2, 3], [4, 5, 6], [7, 8, 9], [-1, -1, -1]]])


@pytest.mark.parametrize("bad", [-1, 3, 7])
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


def test_wrapper_and_beam_search_take_numpy_integer_sizes():
    embedding = np.random.default_rng(4).normal(size=(V, 3))
    embedding = embedding.astype("float32")
    results = []
    for size in (int, np.int64):
        keras.utils.set_random_seed(5)
        mechanisms = [
            tfa.LuongAttention(
                size(C),
                tfa.tile_batch(MEMORY, size(K)),
                tfa.tile_batch(LENGTHS, size(K)),
            )
            for _ in range(2)
        ]
        cell = tfa.AttentionWrapper(
            keras.layers.GRUCell(C),
            mechanisms,
            attention_layer_size=[size(3), size(2)],
        )
        decoder = tfa.BeamSearchDecoder(
            cell,
            size(K),
            output_layer=keras.layers.Dense(V),
            maximum_iterations=3,
        )
        outputs, _, lengths = decoder(
            embedding,
            start_tokens=np.zeros(B, "int32"),
            end_token=1,
            initial_state=cell.get_initial_state(
                batch_size=B * K, dtype="float32"
            ),
        )
        assert cell.output_size == 5
        config = json.loads(json.dumps(decoder.get_config()))
        assert config["beam_width"] == K
        results.append(ops.convert_to_numpy(outputs.predicted_ids))
    assert results[0].shape == (B, 3, K)
    np.testing.assert_array_equal(results[1], results[0])


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
    # TensorFlow's random ops took it; the draws are those of the int.
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
