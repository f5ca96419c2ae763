"""`keras_seq2seq.tfa.BasicDecoder` and `dynamic_decode`: TFA parity and
TFA's decoding semantics."""

import collections

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from helpers import gradients
from keras_seq2seq.decoding.compile import compiled
from shared_data import assert_outputs, case_ids, load_case

CELLS = {"GRUCell": keras.layers.GRUCell, "LSTMCell": keras.layers.LSTMCell}


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def build_cell(case, a):
    """The case's cell: a plain Keras cell or an `AttentionWrapper`."""
    args = case["args"]
    name = args["cell"]
    if not name.startswith("AttentionWrapper("):
        return CELLS[name](args["cell_units"])
    inner = CELLS[name[len("AttentionWrapper(") : -1]](args["cell_units"])
    mechanism = tfa.BahdanauAttention(
        args["attention_units"],
        memory=a["memory"],
        memory_sequence_length=a["memory_sequence_length"],
    )
    return tfa.AttentionWrapper(
        inner,
        mechanism,
        attention_layer_size=args["attention_layer_size"],
        alignment_history="alignment_history" in a,
    )


def initial_state(cell, a):
    given = a["initial_cell_state_h"]
    if "initial_cell_state_c" in a:
        given = [given, a["initial_cell_state_c"]]
    if isinstance(cell, tfa.AttentionWrapper):
        batch = given.shape[0]
        state = cell.get_initial_state(batch_size=batch, dtype="float32")
        return state.clone(cell_state=given)
    return given


def sampler_and_inputs(case, a):
    """The sampler the case's `tfa_call` names and its initialize inputs."""
    if "GreedyEmbeddingSampler" in case["tfa_call"]:
        kwargs = dict(start_tokens=a["start_tokens"], end_token=a["end_token"])
        return tfa.GreedyEmbeddingSampler(), a["embedding"], kwargs
    kwargs = dict(sequence_length=a["decoder_sequence_length"])
    return tfa.TrainingSampler(), a["decoder_inputs"], kwargs


def run_case(case, a, decoder, cell):
    _, init_input, init_kwargs = sampler_and_inputs(case, a)
    return tfa.seq2seq.dynamic_decode(
        decoder,
        maximum_iterations=case["args"].get("maximum_iterations"),
        impute_finished=case["args"]["impute_finished"],
        decoder_init_input=init_input,
        decoder_init_kwargs=dict(
            init_kwargs, initial_state=initial_state(cell, a)
        ),
    )


def results(outputs, state, lengths):
    got = {
        "rnn_output": outputs.rnn_output,
        "sample_id": outputs.sample_id,
        "sequence_lengths": lengths,
    }
    if isinstance(state, tfa.AttentionWrapperState):
        got["final_attention"] = state.attention
        got["final_alignments"] = state.alignments
        if not isinstance(state.alignment_history, tuple):
            # TFA's history is a `TensorArray`: programs call `stack()`.
            got["alignment_history"] = state.alignment_history.stack()
        state = state.cell_state
    if isinstance(state, (list, tuple)):
        got["final_cell_state_h"], got["final_cell_state_c"] = state
    else:
        got["final_cell_state"] = state
    return {name: ops.convert_to_numpy(value) for name, value in got.items()}


def decoder_with_tfa_weights(case, a):
    """The case's `BasicDecoder`, its weights set in TFA's order."""
    cell = build_cell(case, a)
    sampler, _, _ = sampler_and_inputs(case, a)
    output_layer = keras.layers.Dense(case["args"]["vocab"])
    decoder = tfa.BasicDecoder(cell, sampler, output_layer=output_layer)
    run_case(case, a, decoder, cell)  # creates the weights
    order = case["get_weights_order"]
    names = order["cell"] + order["output_layer"]
    assert [tuple(w.shape) for w in decoder.get_weights()] == [
        a[name].shape for name in names
    ]
    decoder.set_weights([a[name] for name in names])
    return decoder, cell


@pytest.mark.parametrize("cid", case_ids("basic_decoder"))
def test_basic_decoder_matches_tfa_with_weights_in_tfa_order(cid):
    case, a = load_case(cid)
    decoder, cell = decoder_with_tfa_weights(case, a)
    outputs, state, lengths = run_case(case, a, decoder, cell)
    assert_outputs(case, a, results(outputs, state, lengths))


def function_compiler(name):
    """`tf.function` (TFA's programs), or the library's `compiled`."""
    if name == "compiled":
        return compiled
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function is TensorFlow's; `compiled` runs here")
    import tensorflow as tf

    return tf.function


@pytest.mark.parametrize("compiler", ["tf.function", "compiled"])
@pytest.mark.parametrize(
    "cid", case_ids("basic_decoder", lambda n: n.startswith("greedy_att"))
)
def test_compiled_tfa_program_stacks_the_history_tfa_computes(cid, compiler):
    case, a = load_case(cid)
    decoder, cell = decoder_with_tfa_weights(case, a)

    def program():
        outputs, state, lengths = run_case(case, a, decoder, cell)
        history = state.alignment_history.stack()
        return outputs, state.clone(alignment_history=()), lengths, history

    outputs, state, lengths, history = function_compiler(compiler)(program)()
    got = results(outputs, state, lengths)
    got["alignment_history"] = ops.convert_to_numpy(history)
    # The compiled loop runs `maximum_iterations` steps; TFA's stopped once
    # every row had finished, and the steps past that are zeros here.
    steps = a["sample_id"].shape[1]
    for name, axis in [
        ("rnn_output", 1),
        ("sample_id", 1),
        ("alignment_history", 0),
    ]:
        got[name], padding = np.split(got[name], [steps], axis=axis)
        assert not padding.any(), name
    assert_outputs(case, a, got)


# TFA's decoding semantics, on small decoders with random weights.
B, T, E, C, V = 3, 6, 3, 4, 6


def lstm_decoder(sampler, **kwargs):
    return tfa.BasicDecoder(
        keras.layers.LSTMCell(C),
        sampler,
        output_layer=keras.layers.Dense(V),
        **kwargs,
    )


def random_data(seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(B, T, E)).astype("float32")
    state = [rng.normal(size=(B, C)).astype("float32") for _ in range(2)]
    return inputs, state


def numpy_tree(structure):
    return keras.tree.map_structure(ops.convert_to_numpy, structure)


def test_impute_finished_zeroes_outputs_and_freezes_each_rows_state():
    inputs, state = random_data()
    lengths = np.array([2, 5, 3], "int32")
    decoder = lstm_decoder(tfa.TrainingSampler(), impute_finished=True)
    outputs, final, got_lengths = numpy_tree(
        decoder(inputs, initial_state=state, sequence_length=lengths)
    )
    decoder.impute_finished = False
    plain, _, _ = numpy_tree(
        decoder(inputs, initial_state=state, sequence_length=lengths)
    )
    np.testing.assert_array_equal(got_lengths, lengths)
    assert outputs.rnn_output.shape == (B, lengths.max(), V)
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(
            outputs.rnn_output[b, :n], plain.rnn_output[b, :n], atol=1e-6
        )
        assert not outputs.rnn_output[b, n:].any()
        assert not outputs.sample_id[b, n:].any()
        # The row's frozen state is the state after its own n steps.
        _, alone, _ = numpy_tree(
            decoder(
                inputs[b : b + 1],
                initial_state=[s[b : b + 1] for s in state],
                sequence_length=[n],
            )
        )
        for have, want in zip(final, alone, strict=True):
            np.testing.assert_allclose(have[b], want[0], atol=1e-6)


def test_output_time_major_transposes_every_output():
    inputs, state = random_data()
    decoder = lstm_decoder(tfa.TrainingSampler())
    batch_major, _, _ = numpy_tree(decoder(inputs, initial_state=state))
    decoder.output_time_major = True
    time_major, _, _ = numpy_tree(decoder(inputs, initial_state=state))
    assert time_major.rnn_output.shape == (T, B, V)
    np.testing.assert_allclose(
        time_major.rnn_output, batch_major.rnn_output.swapaxes(0, 1)
    )
    np.testing.assert_array_equal(time_major.sample_id, batch_major.sample_id.T)


@pytest.mark.parametrize("maximum_iterations", [1, 4])
def test_maximum_iterations_caps_the_steps(maximum_iterations):
    _, state = random_data()
    embedding = np.random.default_rng(1).normal(size=(V, E)).astype("float32")
    decoder = lstm_decoder(
        tfa.GreedyEmbeddingSampler(), maximum_iterations=maximum_iterations
    )
    # An end token no step can emit: only the cap stops decoding.
    outputs, _, lengths = numpy_tree(
        decoder(
            embedding,
            initial_state=state,
            start_tokens=np.zeros(B, "int32"),
            end_token=V,
        )
    )
    assert outputs.rnn_output.shape == (B, maximum_iterations, V)
    assert outputs.sample_id.shape == (B, maximum_iterations)
    np.testing.assert_array_equal(lengths, [maximum_iterations] * B)


def scripted_sampler(inputs, stops):
    """A `CustomSampler` whose row b finishes after `stops[b]` steps."""
    stops = ops.convert_to_tensor(stops, "int32")

    def initialize_fn(inputs):
        return ops.zeros((B,), "bool"), inputs[:, 0]

    def sample_fn(time, outputs, state):
        return ops.cast(ops.argmax(outputs, axis=-1), "int32")

    def next_inputs_fn(time, outputs, state, sample_ids):
        index = ops.minimum(time + 1, T - 1)
        return time + 1 >= stops, ops.take(inputs, index, axis=1), state

    return tfa.CustomSampler(initialize_fn, sample_fn, next_inputs_fn)


def test_decoding_stops_once_every_row_has_finished():
    inputs, state = random_data()
    stops = [1, 3, 2]
    decoder = lstm_decoder(
        scripted_sampler(inputs, stops), maximum_iterations=T
    )
    outputs, _, lengths = numpy_tree(decoder(inputs, initial_state=state))
    assert outputs.rnn_output.shape == (B, max(stops), V)
    np.testing.assert_array_equal(lengths, stops)


class CountingDecoder(tfa.Decoder):
    """Row b emits `time + 1` and finishes after `stops[b]` steps; the state
    counts the emitted total and the lengths, as beam search's does."""

    State = collections.namedtuple("State", ["total", "lengths"])

    def __init__(self, stops):
        self.stops = ops.convert_to_tensor(stops, "int32")
        self.seen_lengths = None

    @property
    def batch_size(self):
        return self.stops.shape[0]

    @property
    def output_size(self):
        return {"step": (), "pair": (2,)}

    @property
    def output_dtype(self):
        return {"step": "int32", "pair": "float32"}

    @property
    def tracks_own_finished(self):
        return True

    def initialize(self, inputs=None):
        zeros = ops.zeros((self.batch_size,), "int32")
        return zeros > 0, zeros, self.State(zeros, zeros)

    def step(self, time, inputs, state, training=None):
        done = state.lengths >= self.stops
        lengths = ops.where(done, state.lengths, time + 1)
        step = ops.full((self.batch_size,), time + 1, "int32")
        outputs = {"step": step, "pair": ops.ones((self.batch_size, 2)) * 2}
        state = self.State(state.total + step, lengths)
        return outputs, state, inputs, lengths >= self.stops

    def finalize(self, outputs, final_state, sequence_lengths):
        self.seen_lengths = ops.convert_to_numpy(sequence_lengths)
        return dict(outputs, step=outputs["step"] * 10), final_state


@pytest.mark.parametrize("impute_finished", [False, True])
def test_dynamic_decode_drives_any_decoder_of_the_interface(impute_finished):
    stops = np.array([1, 4, 2])
    decoder = CountingDecoder(stops)
    outputs, state, lengths = tfa.dynamic_decode(
        decoder, impute_finished=impute_finished, maximum_iterations=9
    )
    outputs, state, lengths = numpy_tree((outputs, state, lengths))
    steps = np.arange(1, stops.max() + 1)
    emitted = np.where(
        impute_finished & (steps[None] > stops[:, None]), 0, steps[None]
    )
    np.testing.assert_array_equal(lengths, stops)
    np.testing.assert_array_equal(decoder.seen_lengths, stops)
    np.testing.assert_array_equal(outputs["step"], 10 * emitted)
    assert outputs["pair"].shape == (3, stops.max(), 2)
    np.testing.assert_array_equal(state.total, emitted.sum(axis=1))


def test_compiled_decoding_equals_eager_padded_to_the_bound():
    inputs, state = random_data()
    embedding = inputs[0, :V] if V <= T else None
    greedy = lstm_decoder(tfa.GreedyEmbeddingSampler(), maximum_iterations=T)
    teacher = tfa.BasicDecoder(
        greedy.cell, tfa.TrainingSampler(), output_layer=greedy.output_layer
    )

    def run(embedding, inputs, h, c):
        greedy_out, greedy_state, greedy_lengths = greedy(
            embedding,
            initial_state=[h, c],
            start_tokens=ops.zeros((B,), "int32"),
            end_token=2,
        )
        teacher_out, _, _ = teacher(
            inputs, initial_state=[h, c], sequence_length=[2, 4, 3]
        )
        return (
            greedy_out.sample_id,
            greedy_state,
            greedy_lengths,
            teacher_out.rnn_output,
        )

    eager = numpy_tree(run(embedding, inputs, *state))
    fast = numpy_tree(compiled(run)(embedding, inputs, *state))
    ids, final, lengths, logits = eager
    steps = ids.shape[1]
    np.testing.assert_array_equal(fast[0][:, :steps], ids)
    assert not fast[0][:, steps:].any()
    np.testing.assert_array_equal(fast[2], lengths)
    for have, want in zip(fast[1], final, strict=True):
        np.testing.assert_allclose(have, want, atol=1e-5)
    np.testing.assert_allclose(fast[3][:, : logits.shape[1]], logits, atol=1e-5)


def test_compiled_history_is_the_eager_one_padded_with_zero_steps():
    inputs, state = random_data()
    memory = np.random.default_rng(2).normal(size=(B, 5, C)).astype("float32")
    mechanism = tfa.LuongAttention(C, memory, memory_sequence_length=[5, 1, 3])
    cell = tfa.AttentionWrapper(
        keras.layers.LSTMCell(C), mechanism, alignment_history=True
    )
    decoder = tfa.BasicDecoder(cell, tfa.TrainingSampler())

    def history(inputs, h, c):
        initial = cell.get_initial_state(batch_size=B, dtype="float32")
        _, final, _ = decoder(
            inputs,
            initial_state=initial.clone(cell_state=[h, c]),
            sequence_length=[2, 4, 3],
        )
        return final.alignment_history.stack()

    eager = ops.convert_to_numpy(history(inputs, *state))
    padded = ops.convert_to_numpy(compiled(history)(inputs, *state))
    assert eager.shape == (4, B, 5)  # stopped once every row had finished
    # The compiled loop runs its static bound, T; torch's `compiled` is eager.
    bound = 4 if keras.backend.backend() == "torch" else T
    assert padded.shape == (bound, B, 5)
    np.testing.assert_allclose(padded[:4], eager, atol=1e-5)
    assert not padded[4:].any()


class EncoderDecoder(keras.layers.Layer):
    """A user's model: embeddings, a Keras GRU encoder, and a BasicDecoder
    over an attention wrapper, teacher-forced; returns the mean loss."""

    def __init__(self):
        super().__init__()
        self.embedding = keras.layers.Embedding(V, E)
        self.encoder = keras.layers.GRU(
            C, return_sequences=True, return_state=True
        )
        self.mechanism = tfa.BahdanauAttention(2)
        cell = tfa.AttentionWrapper(
            keras.layers.GRUCell(C), self.mechanism, attention_layer_size=C
        )
        self.decoder = tfa.BasicDecoder(
            cell, tfa.TrainingSampler(), output_layer=keras.layers.Dense(V)
        )

    def build(self, source_shape, target_shape, source_noise_shape):
        # The sublayers build on their first call.
        self.built = True

    def call(self, source, target, source_noise):
        embedded = self.embedding(source) + source_noise
        memory, h = self.encoder(embedded)
        self.mechanism.setup_memory(memory)
        cell = self.decoder.cell
        state = cell.get_initial_state(batch_size=B, dtype="float32")
        outputs, _, _ = self.decoder(
            self.embedding(target[:, :-1]),
            initial_state=state.clone(cell_state=h),
        )
        loss = keras.losses.sparse_categorical_crossentropy(
            target[:, 1:], outputs.rnn_output, from_logits=True
        )
        return ops.mean(loss)


def test_gru_encoder_and_basic_decoder_get_gradients_to_every_weight():
    rng = np.random.default_rng(0)
    inputs = {
        "source": rng.integers(0, V, size=(B, 4)).astype("int32"),
        "target": rng.integers(0, V, size=(B, 3)).astype("int32"),
        "source_noise": rng.normal(size=(B, 4, E)).astype("float32"),
    }
    layer = EncoderDecoder()
    noise_grad, grads = gradients(layer, inputs, "source_noise")
    assert np.abs(noise_grad).max() > 0
    assert len(grads) == len(layer.trainable_weights) == 13
    for weight, grad in zip(layer.trainable_weights, grads, strict=True):
        assert np.abs(grad).max() > 0, weight.path


def test_bad_arguments_raise():
    decoder = lstm_decoder(tfa.TrainingSampler())
    with pytest.raises(ValueError, match="decoder_init_kwargs"):
        tfa.dynamic_decode(decoder, decoder_init_kwrags={})
    with pytest.raises(ValueError, match="maximum_iterations"):
        tfa.dynamic_decode(decoder, maximum_iterations=-1)
    with pytest.raises(ValueError, match="maximum_iterations"):
        lstm_decoder(tfa.TrainingSampler(), maximum_iterations=[3])
    with pytest.raises(ValueError, match="Sampler"):
        tfa.BasicDecoder(keras.layers.GRUCell(C), "greedy")
    with pytest.raises(ValueError, match="output_layer"):
        tfa.BasicDecoder(keras.layers.GRUCell(C), tfa.TrainingSampler(), V)


def test_basic_decoder_in_a_functional_model_trains_with_fit():
    target = keras.Input((T,), dtype="int32")
    h = keras.Input((C,))
    decoder = tfa.BasicDecoder(
        keras.layers.GRUCell(C),
        tfa.TrainingSampler(),
        output_layer=keras.layers.Dense(V),
    )
    embedding = keras.layers.Embedding(V, E)
    outputs, _, _ = decoder(embedding(target), h)
    model = keras.Model([target, h], outputs.rnn_output)
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, size=(8, T)).astype("int32")
    state = rng.normal(size=(8, C)).astype("float32")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit([ids, state], ids, batch_size=4, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    for old, new in zip(before, model.get_weights(), strict=True):
        assert not np.allclose(old, new)
    # The model's logits are the decoder's own, called eagerly.
    eager, _, _ = decoder(embedding(ids), initial_state=state)
    np.testing.assert_allclose(
        model.predict([ids, state], verbose=0),
        ops.convert_to_numpy(eager.rnn_output),
        atol=1e-5,
    )
