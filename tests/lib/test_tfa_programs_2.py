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


# --- ScheduledOutputTrainingSampler: TFA draws int32 0/1 sample ids
# (`bernoulli_sample`'s default dtype) and inherits `sample_ids_dtype`
# int32 from `TrainingSampler`.


@pytest.mark.parametrize("probability", [0.0, 1.0])
def test_scheduled_output_sample_ids_are_int32_zeros_and_ones(probability):
    sampler = tfa.ScheduledOutputTrainingSampler(probability, seed=3)
    assert sampler.sample_ids_dtype == "int32"
    decoder = tfa.BasicDecoder(keras.layers.GRUCell(E), sampler)
    inputs = np.random.default_rng(4).normal(size=(B, T, E)).astype("float32")
    outputs, _, _ = decoder(inputs, initial_state=np.zeros((B, E), "float32"))
    sample_id = outputs.sample_id
    assert keras.backend.standardize_dtype(sample_id.dtype) == "int32"
    np.testing.assert_array_equal(
        ops.convert_to_numpy(sample_id), np.full((B, T), int(probability))
    )


# --- A `sampling_probability` variable: TFA keeps it, so a schedule that
# assigns it (once per epoch, say) changes what the sampler draws.


@pytest.mark.parametrize(
    "make",
    [tfa.ScheduledEmbeddingTrainingSampler, tfa.ScheduledOutputTrainingSampler],
    ids=["embedding", "output"],
)
def test_a_variable_sampling_probability_is_read_at_every_draw(make):
    probability = keras.Variable(0.0)
    sampler = make(probability, seed=5)
    inputs = np.ones((B, T, E), "float32")
    if make is tfa.ScheduledEmbeddingTrainingSampler:
        sampler.initialize(inputs, embedding=np.eye(V, E, dtype="float32"))
        never, always = [-1] * B, [True] * B
    else:
        sampler.initialize(inputs)
        never, always = [0] * B, [1] * B
    logits = np.zeros((B, V), "float32")
    ids = ops.convert_to_numpy(sampler.sample(0, logits, None))
    np.testing.assert_array_equal(ids, never)
    probability.assign(1.0)
    ids = ops.convert_to_numpy(sampler.sample(1, logits, None))
    if make is tfa.ScheduledEmbeddingTrainingSampler:
        ids = ids >= 0  # a drawn id, not -1
    np.testing.assert_array_equal(ids, always)


# --- TrainingSampler's mask: TFA requires a bool matrix and asserts that
# it is right-padded (True on a prefix of each row).


def test_training_sampler_mask_must_be_bool_and_right_padded():
    inputs = np.zeros((B, T, E), "float32")
    with pytest.raises(ValueError, match="boolean"):
        tfa.TrainingSampler().initialize(inputs, mask=np.ones((B, T), "int32"))
    left_padded = np.array([[False, True, True, True], [True] * 4])
    with pytest.raises(ValueError, match="right padded"):
        tfa.TrainingSampler().initialize(inputs, mask=left_padded)
    with pytest.raises(ValueError, match="right padded"):
        tfa.TrainingSampler(time_major=True).initialize(
            np.swapaxes(inputs, 0, 1), mask=left_padded.T
        )
    sampler = tfa.TrainingSampler(time_major=True)
    right_padded = np.array([[True, True, False, False], [True] * 4])
    sampler.initialize(np.swapaxes(inputs, 0, 1), mask=right_padded.T)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(sampler.sequence_length), [2, 4]
    )


# --- TFA's `Decoder` interface (not a layer): `dynamic_decode` calls its
# `initialize()` with no arguments and `step(time, inputs, state,
# training)` with `training` by position.


class CountdownDecoder(tfa.Decoder):
    """A TF1-style decoder: set up in its constructor, and a `step` whose
    fourth argument is `name`. Row b emits `time` and finishes after
    `stops[b]` steps."""

    def __init__(self, stops):
        self.stops = ops.convert_to_tensor(stops, "int32")
        self.names = []

    @property
    def batch_size(self):
        return self.stops.shape[0]

    @property
    def output_size(self):
        return ()

    @property
    def output_dtype(self):
        return "int32"

    def initialize(self):
        finished = ops.zeros((self.batch_size,), "bool")
        return finished, ops.zeros((self.batch_size,), "int32"), ()

    def step(self, time, inputs, state, name=None):
        self.names.append(name)
        finished = ops.greater_equal(time + 1, self.stops)
        return (
            ops.full((self.batch_size,), time, "int32"),
            state,
            inputs,
            finished,
        )


def test_dynamic_decode_drives_tfas_decoder_interface():
    decoder = CountdownDecoder([2, 3])
    outputs, _, lengths = numpy_tree(
        tfa.dynamic_decode(decoder, training=False)
    )
    np.testing.assert_array_equal(lengths, [2, 3])
    np.testing.assert_array_equal(outputs, [[0, 1, 2], [0, 1, 2]])
    assert decoder.names == [False] * 3  # `training`, by position


# --- The mechanisms' configs: TFA's `get_config` gives `memory: None`, so
# a mechanism made with its memory (the usual way) has a config.

MECHANISMS = {
    "bahdanau": (tfa.BahdanauAttention, dict(normalize=True)),
    "luong": (tfa.LuongAttention, dict(scale=True)),
    "bahdanau_monotonic": (
        tfa.BahdanauMonotonicAttention,
        dict(score_bias_init=-1.0, mode="hard"),
    ),
    "luong_monotonic": (
        tfa.LuongMonotonicAttention,
        dict(sigmoid_noise=0.5, sigmoid_noise_seed=7, mode="recursive"),
    ),
}


@pytest.mark.parametrize("name", MECHANISMS)
def test_a_mechanism_made_with_its_memory_round_trips_its_config(name):
    cls, arguments = MECHANISMS[name]
    rng = np.random.default_rng(6)
    memory = rng.normal(size=(B, 7, 4)).astype("float32")
    lengths = np.array([7, 3], "int32")
    # TFA's Luong mechanisms take no `kernel_initializer`.
    initializer = {"kernel_initializer": "ones"} if "bahdanau" in name else {}
    mechanism = cls(
        C,
        memory=memory,
        memory_sequence_length=lengths,
        **initializer,
        **arguments,
    )
    config = mechanism.get_config()
    assert config["memory"] is None
    assert config["units"] == C
    assert {key: config[key] for key in arguments} == arguments
    if initializer:
        assert config["kernel_initializer"]["class_name"] == "Ones"
    clone = cls.from_config(config)
    assert clone.name == mechanism.name
    clone.setup_memory(memory, memory_sequence_length=lengths)
    query = rng.normal(size=(B, C)).astype("float32")
    state = mechanism.initial_state(B, "float32")
    expected, _ = mechanism([query, state])
    clone([query, state])  # builds TFA's query layer, as the first query
    clone.set_weights(mechanism.get_weights())
    alignments, _ = clone([query, state])
    np.testing.assert_allclose(
        ops.convert_to_numpy(alignments), ops.convert_to_numpy(expected)
    )


# --- impute_finished with beam search: TFA broadcasts the (B, K) finished
# flags over the (B, K) log-probs plus one axis, and raises (a known TF
# limitation); copying frozen beams would corrupt their backtracking.


def test_beam_search_with_impute_finished_raises_as_tfa():
    decoder = tfa.BeamSearchDecoder(
        keras.layers.GRUCell(C),
        K,
        output_layer=keras.layers.Dense(V),
        maximum_iterations=4,
        impute_finished=True,
    )
    with pytest.raises(ValueError, match="impute_finished"):
        decoder(
            np.eye(V, E, dtype="float32"),
            start_tokens=np.zeros(B, "int32"),
            end_token=1,
            initial_state=np.zeros((B * K, C), "float32"),
        )
