"""The `keras_seq2seq.tfa` samplers: what each feeds to the next step."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa

B, T, E, C, V = 3, 5, 3, 4, 6


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return {
        "inputs": rng.normal(size=(B, T, E)).astype("float32"),
        "embedding": rng.normal(size=(V, E)).astype("float32"),
        "state": rng.normal(size=(B, C)).astype("float32"),
        "lengths": np.array([2, 5, 4], "int32"),
    }


def numpy_tree(structure):
    return keras.tree.map_structure(ops.convert_to_numpy, structure)


def decode(sampler, inputs, state, cell_and_output=None, **kwargs):
    """Runs a GRU BasicDecoder with `sampler`; returns NumPy results and
    the (cell, output layer) pair, so runs can share weights."""
    cell, output_layer = cell_and_output or (
        keras.layers.GRUCell(C),
        keras.layers.Dense(V),
    )
    decoder = tfa.BasicDecoder(cell, sampler, output_layer=output_layer)
    maximum_iterations = kwargs.pop("maximum_iterations", None)
    results = tfa.dynamic_decode(
        decoder,
        maximum_iterations=maximum_iterations,
        decoder_init_input=inputs,
        decoder_init_kwargs=dict(kwargs, initial_state=state),
    )
    return numpy_tree(results), (cell, output_layer)


def test_training_sampler_reads_the_given_inputs(data):
    (outputs, _, lengths), layers = decode(
        tfa.TrainingSampler(),
        data["inputs"],
        data["state"],
        sequence_length=data["lengths"],
    )
    np.testing.assert_array_equal(lengths, data["lengths"])
    assert outputs.rnn_output.shape == (B, T, V)
    # Step by step by hand: the cell on inputs[:, t], the output layer.
    cell, output_layer = layers
    state = data["state"]
    for t in range(T):
        h, state = cell(data["inputs"][:, t], state)
        np.testing.assert_allclose(
            outputs.rnn_output[:, t],
            ops.convert_to_numpy(output_layer(h)),
            atol=1e-5,
        )
    np.testing.assert_array_equal(
        outputs.sample_id, outputs.rnn_output.argmax(-1)
    )


def test_training_sampler_mask_and_time_major_mean_the_same(data):
    base, layers = decode(
        tfa.TrainingSampler(),
        data["inputs"],
        data["state"],
        sequence_length=data["lengths"],
    )
    mask = np.arange(T)[None] < data["lengths"][:, None]
    masked, _ = decode(
        tfa.TrainingSampler(),
        data["inputs"],
        data["state"],
        layers,
        mask=mask,
    )
    time_major, _ = decode(
        tfa.TrainingSampler(time_major=True),
        data["inputs"].swapaxes(0, 1),
        data["state"],
        layers,
        sequence_length=data["lengths"],
    )
    for other in (masked, time_major):
        np.testing.assert_allclose(other[0].rnn_output, base[0].rnn_output)
        np.testing.assert_array_equal(other[2], base[2])


def test_scheduled_embedding_with_probability_0_is_teacher_forcing(data):
    (outputs, _, lengths), layers = decode(
        tfa.TrainingSampler(), data["inputs"], data["state"]
    )
    sampler = tfa.ScheduledEmbeddingTrainingSampler(0.0, seed=1)
    (scheduled, _, _), _ = decode(
        sampler,
        data["inputs"],
        data["state"],
        layers,
        embedding=data["embedding"],
    )
    np.testing.assert_allclose(scheduled.rnn_output, outputs.rnn_output)
    np.testing.assert_array_equal(scheduled.sample_id, -np.ones((B, T)))


def test_scheduled_embedding_with_probability_1_feeds_its_own_samples(data):
    sampler = tfa.ScheduledEmbeddingTrainingSampler(
        1.0, seed=1, scheduling_seed=2
    )
    (scheduled, _, _), layers = decode(
        sampler, data["inputs"], data["state"], embedding=data["embedding"]
    )
    ids = scheduled.sample_id
    assert ids.min() >= 0
    # Teacher forcing on [first input, embedding[ids[:, :-1]]] is the same.
    fed = np.concatenate(
        [data["inputs"][:, :1], data["embedding"][ids[:, :-1]]], axis=1
    )
    (forced, _, _), _ = decode(
        tfa.TrainingSampler(), fed, data["state"], layers
    )
    np.testing.assert_allclose(
        scheduled.rnn_output, forced.rnn_output, atol=1e-5
    )


def test_scheduled_samplers_with_a_seed_repeat_their_draws(data):
    def run(seed):
        sampler = tfa.ScheduledEmbeddingTrainingSampler(
            0.5,
            embedding_fn=lambda ids: ops.take(data["embedding"], ids, axis=0),
            seed=seed,
            scheduling_seed=seed,
        )
        sampler.initialize(data["inputs"])
        logits = ops.zeros((B, V))
        return np.stack(
            [
                ops.convert_to_numpy(sampler.sample(t, logits, None))
                for t in range(40)
            ]
        )

    first, again, other = run(7), run(7), run(8)
    np.testing.assert_array_equal(first, again)
    assert (first == -1).any() and (first >= 0).any()
    assert (first != other).any()


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_sample_embedding_sampler_draws_from_tempered_softmax(temperature):
    logits = np.array([1.0, 0.0, -1.0, 0.5], "float32")
    sampler = tfa.SampleEmbeddingSampler(
        softmax_temperature=temperature, seed=3
    )
    draws = ops.convert_to_numpy(
        sampler.sample(0, np.tile(logits, (4000, 1)), None)
    )
    frequencies = np.bincount(draws, minlength=4) / draws.size
    expected = np.exp(logits / temperature)
    np.testing.assert_allclose(
        frequencies, expected / expected.sum(), atol=0.03
    )


def test_sample_embedding_sampler_with_a_seed_repeats_its_draws(data):
    def run(seed):
        (outputs, _, _), _ = decode(
            tfa.SampleEmbeddingSampler(seed=seed),
            data["embedding"],
            data["state"],
            layers,
            start_tokens=np.zeros(B, "int32"),
            end_token=V,
            maximum_iterations=8,
        )
        return outputs.sample_id

    layers = (keras.layers.GRUCell(C), keras.layers.Dense(V))
    np.testing.assert_array_equal(run(5), run(5))


def greedy(data, layers, **sampler_kwargs):
    return decode(
        tfa.GreedyEmbeddingSampler(**sampler_kwargs),
        data["embedding"],
        data["state"],
        layers,
        start_tokens=np.array([0, 1, 2], "int32"),
        end_token=3,
        maximum_iterations=T,
    )


def test_greedy_takes_the_matrix_a_callable_or_an_embedding_fn(data):
    (outputs, _, lengths), layers = greedy(data, None)
    table = data["embedding"]
    # The next input is the embedding of the argmax of the last step.
    np.testing.assert_array_equal(
        outputs.sample_id, outputs.rnn_output.argmax(-1)
    )
    for variant in (
        decode(
            tfa.GreedyEmbeddingSampler(),
            lambda ids: ops.take(table, ids, 0),
            data["state"],
            layers,
            start_tokens=np.array([0, 1, 2], "int32"),
            end_token=3,
            maximum_iterations=T,
        )[0],
        greedy(
            {**data, "embedding": None},
            layers,
            embedding_fn=lambda ids: ops.take(table, ids, 0),
        )[0],
    ):
        np.testing.assert_allclose(variant[0].rnn_output, outputs.rnn_output)
        np.testing.assert_array_equal(variant[2], lengths)


def test_inference_sampler_round_trip_equals_greedy(data):
    (outputs, _, lengths), layers = greedy(data, None)
    table = data["embedding"]
    sampler = tfa.InferenceSampler(
        sample_fn=lambda logits: ops.cast(ops.argmax(logits, -1), "int32"),
        sample_shape=(),
        sample_dtype="int32",
        end_fn=lambda ids: ops.equal(ids, 3),
        next_inputs_fn=lambda ids: ops.take(table, ids, axis=0),
    )
    (inferred, _, inferred_lengths), _ = decode(
        sampler,
        table[[0, 1, 2]],
        data["state"],
        layers,
        maximum_iterations=T,
    )
    np.testing.assert_allclose(inferred.rnn_output, outputs.rnn_output)
    np.testing.assert_array_equal(inferred.sample_id, outputs.sample_id)
    np.testing.assert_array_equal(inferred_lengths, lengths)


def test_custom_sampler_round_trip_equals_training_sampler(data):
    (outputs, _, lengths), layers = decode(
        tfa.TrainingSampler(),
        data["inputs"],
        data["state"],
        sequence_length=data["lengths"],
    )
    stops = ops.convert_to_tensor(data["lengths"])

    def initialize_fn(inputs):
        return ops.equal(stops, 0), inputs[:, 0]

    def sample_fn(time, outputs, state):
        return ops.cast(ops.argmax(outputs, -1), "int32")

    def next_inputs_fn(time, outputs, state, sample_ids):
        index = ops.minimum(time + 1, T - 1)
        next_inputs = ops.take(data["inputs"], index, axis=1)
        return time + 1 >= stops, next_inputs, state

    sampler = tfa.CustomSampler(initialize_fn, sample_fn, next_inputs_fn)
    (custom, _, custom_lengths), _ = decode(
        sampler, data["inputs"], data["state"], layers
    )
    np.testing.assert_allclose(custom.rnn_output, outputs.rnn_output)
    np.testing.assert_array_equal(custom_lengths, lengths)


def test_scheduled_output_sampler_interpolates_teacher_and_greedy(data):
    table = data["embedding"]
    start = table[[0, 1, 2]]
    (teacher, _, _), layers = decode(
        tfa.TrainingSampler(), data["inputs"], data["state"]
    )

    def next_inputs_fn(logits):
        return ops.take(table, ops.argmax(logits, -1), axis=0)

    never = tfa.ScheduledOutputTrainingSampler(
        0.0, seed=1, next_inputs_fn=next_inputs_fn
    )
    (scheduled, _, _), _ = decode(never, data["inputs"], data["state"], layers)
    np.testing.assert_allclose(scheduled.rnn_output, teacher.rnn_output)
    assert not scheduled.sample_id.any()
    # Always: the next input is next_inputs_fn(outputs), as greedy's.
    always = tfa.ScheduledOutputTrainingSampler(
        1.0, seed=1, next_inputs_fn=next_inputs_fn
    )
    inputs = np.concatenate([start[:, None], data["inputs"][:, 1:]], 1)
    (scheduled, _, _), _ = decode(always, inputs, data["state"], layers)
    (greedy_out, _, _), _ = decode(
        tfa.GreedyEmbeddingSampler(),
        table,
        data["state"],
        layers,
        start_tokens=np.array([0, 1, 2], "int32"),
        end_token=V,
        maximum_iterations=T,
    )
    assert scheduled.sample_id.all()
    np.testing.assert_allclose(
        scheduled.rnn_output, greedy_out.rnn_output, atol=1e-5
    )


def test_bad_sampler_arguments_raise(data):
    with pytest.raises(ValueError, match="between 0 and 1"):
        tfa.ScheduledEmbeddingTrainingSampler(1.5)
    with pytest.raises(ValueError, match="scalar or a vector"):
        tfa.ScheduledOutputTrainingSampler(np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="at the same time"):
        tfa.TrainingSampler().initialize(
            data["inputs"],
            sequence_length=data["lengths"],
            mask=np.ones((B, T), bool),
        )
    with pytest.raises(ValueError, match="embedding"):
        tfa.GreedyEmbeddingSampler().initialize(None, [0], 1)
    with pytest.raises(ValueError, match="start_tokens must be a vector"):
        tfa.GreedyEmbeddingSampler().initialize(data["embedding"], 0, 1)
    with pytest.raises(ValueError, match="callable"):
        tfa.CustomSampler(None, None, None)
    assert tfa.seq2seq.sampler.TrainingSampler is tfa.TrainingSampler


def test_samplers_know_the_batch_size_once_initialized(data):
    def initialize_fn(inputs):
        return ops.zeros((B,), "bool"), inputs[:, 0]

    def unused(**kwargs):
        raise AssertionError("not a step")

    start_tokens = np.zeros(B, "int32")
    samplers = [
        (tfa.TrainingSampler(), [data["inputs"]]),
        (tfa.GreedyEmbeddingSampler(), [data["embedding"], start_tokens, 1]),
        (
            tfa.InferenceSampler(ops.sign, (), "float32", ops.isnan),
            [data["state"]],
        ),
        (tfa.CustomSampler(initialize_fn, unused, unused), [data["inputs"]]),
    ]
    for sampler, arguments in samplers:
        with pytest.raises(ValueError, match="before initialize"):
            _ = sampler.batch_size
        finished, _ = sampler.initialize(*arguments)
        assert int(sampler.batch_size) == B, type(sampler).__name__
        assert not ops.convert_to_numpy(finished).any()
