"""`keras_seq2seq.tfa` run as TFA users wrote their programs.

Tutorial-style encoder and decoder classes, shapes the fixtures do not have
(batch 1, a long memory, vocabulary 3, beam 1), and the argument checks
TFA 0.23 makes. Numbers come from TFA's documented step (the NumPy
reference in `reference.py` and `reference_decoder.py`) and from identities
between decoders (beam search of width 1 is greedy decoding).
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
import reference
import reference_decoder
from keras_seq2seq.decoding.compile import compiled

VOCAB, EMBED, UNITS = 3, 5, 7
SOURCE_STEPS, TARGET_STEPS = 23, 6
START, END = 0, 2


class Encoder(keras.Model):
    """The TFA NMT tutorial's encoder: an embedding and an LSTM."""

    def __init__(self):
        super().__init__()
        self.embedding = keras.layers.Embedding(VOCAB, EMBED)
        self.lstm = keras.layers.LSTM(
            UNITS, return_sequences=True, return_state=True
        )

    def call(self, x):
        return self.lstm(self.embedding(x))


class Decoder(keras.Model):
    """The TFA NMT tutorial's decoder: `LuongAttention` set up later, an
    `AttentionWrapper` over an `LSTMCell`, a `BasicDecoder` with a
    `TrainingSampler`."""

    def __init__(self):
        super().__init__()
        self.embedding = keras.layers.Embedding(VOCAB, EMBED)
        self.fc = keras.layers.Dense(VOCAB)
        self.decoder_rnn_cell = keras.layers.LSTMCell(UNITS)
        self.sampler = tfa.seq2seq.sampler.TrainingSampler()
        self.attention_mechanism = tfa.seq2seq.LuongAttention(UNITS, None)
        self.rnn_cell = tfa.seq2seq.AttentionWrapper(
            self.decoder_rnn_cell,
            self.attention_mechanism,
            attention_layer_size=UNITS,
        )
        self.decoder = tfa.seq2seq.BasicDecoder(
            self.rnn_cell, sampler=self.sampler, output_layer=self.fc
        )

    def build_initial_state(self, batch_size, encoder_state, dtype):
        state = self.rnn_cell.get_initial_state(
            batch_size=batch_size, dtype=dtype
        )
        return state.clone(cell_state=encoder_state)

    def call(self, inputs, initial_state):
        x = self.embedding(inputs)
        batch_size = int(ops.shape(inputs)[0])
        outputs, _, _ = self.decoder(
            x,
            initial_state=initial_state,
            sequence_length=batch_size * [int(ops.shape(inputs)[1])],
        )
        return outputs


def tutorial_models(batch_size, seed=3):
    """An encoder, a decoder with its memory set up, and the initial state."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    source = rng.integers(0, VOCAB, (batch_size, SOURCE_STEPS))
    encoder, decoder = Encoder(), Decoder()
    memory, h, c = encoder(source)
    decoder.attention_mechanism.setup_memory(memory)
    state = decoder.build_initial_state(batch_size, [h, c], "float32")
    decoder.embedding.build((None, None))  # the tutorial trains it first
    return encoder, decoder, memory, state


def numpy_of(x):
    return np.asarray(ops.convert_to_numpy(x), "float64")


def tutorial_reference(decoder, memory, state, target_in):
    """TFA's teacher-forced logits for the tutorial decoder, in NumPy.

    The wrapper's weights are read in TFA's `get_weights()` order:
    attention layer, LSTM kernel, recurrent kernel, bias, memory layer.
    """
    attention_kernel, kernel, recurrent, bias, memory_kernel = [
        np.float64(w) for w in decoder.rnn_cell.get_weights()
    ]
    memory = numpy_of(memory)

    def attend(query, previous_weights):
        scores = reference.luong_scores(query[:, None], memory, memory_kernel)
        weights = reference.masked_softmax(scores, np.ones_like(scores, bool))
        return reference.context(weights, memory)[:, 0], weights[:, 0]

    outputs, _, _ = reference_decoder.decode(
        reference_decoder.lstm(kernel, recurrent, bias),
        attend,
        numpy_of(decoder.embedding(target_in)),
        np.ones(target_in.shape, bool),
        [numpy_of(s) for s in state.cell_state],
        np.zeros(memory.shape[:2]),
        memory.shape[-1],
        "luong",
        True,
        attention_kernel,
    )
    return outputs @ numpy_of(decoder.fc.kernel) + numpy_of(decoder.fc.bias)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_tutorial_decoder_computes_tfas_step(batch_size):
    _, decoder, memory, state = tutorial_models(batch_size)
    rng = np.random.default_rng(4)
    target_in = rng.integers(0, VOCAB, (batch_size, TARGET_STEPS))
    outputs = decoder(target_in, state)
    expected = tutorial_reference(decoder, memory, state, target_in)
    logits = numpy_of(outputs.rnn_output)
    assert logits.shape == (batch_size, TARGET_STEPS, VOCAB)
    np.testing.assert_allclose(logits, expected, atol=2e-5)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(outputs.sample_id), expected.argmax(-1)
    )


def greedy(decoder, state, batch_size, maximum_iterations):
    """The tutorial's `evaluate_sentence`: greedy decoding from START."""
    instance = tfa.seq2seq.BasicDecoder(
        cell=decoder.rnn_cell,
        sampler=tfa.seq2seq.GreedyEmbeddingSampler(),
        output_layer=decoder.fc,
        maximum_iterations=maximum_iterations,
    )
    outputs, _, lengths = instance(
        decoder.embedding.variables[0],
        start_tokens=ops.full((batch_size,), START, "int32"),
        end_token=END,
        initial_state=state,
    )
    return outputs, ops.convert_to_numpy(lengths)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_greedy_decoding_feeds_back_its_argmax(batch_size):
    _, decoder, memory, state = tutorial_models(batch_size, seed=5)
    outputs, lengths = greedy(decoder, state, batch_size, 9)
    ids = ops.convert_to_numpy(outputs.sample_id)
    steps = ids.shape[1]
    assert 1 <= steps <= 9
    np.testing.assert_array_equal(
        ids, ops.convert_to_numpy(outputs.rnn_output).argmax(-1)
    )
    # Teacher forcing on [START, the greedy ids] gives the same logits.
    target_in = np.concatenate(
        [np.full((batch_size, 1), START), ids[:, :-1]], axis=1
    )
    expected = tutorial_reference(decoder, memory, state, target_in)
    np.testing.assert_allclose(
        numpy_of(outputs.rnn_output), expected, atol=2e-5
    )
    # A row's length counts its steps up to its first END, included.
    for row, length in zip(ids, lengths, strict=True):
        ends = np.flatnonzero(row == END)
        assert length == (ends[0] + 1 if ends.size else steps)


def test_beam_search_of_width_one_is_greedy_decoding():
    batch_size = 3
    encoder, decoder, memory, state = tutorial_models(batch_size, seed=6)
    greedy_outputs, greedy_lengths = greedy(decoder, state, batch_size, 8)
    beam = tfa.seq2seq.BeamSearchDecoder(
        decoder.rnn_cell,
        beam_width=1,
        output_layer=decoder.fc,
        maximum_iterations=8,
    )
    decoder.attention_mechanism.setup_memory(
        tfa.seq2seq.tile_batch(memory, multiplier=1)
    )
    outputs, _, lengths = beam(
        decoder.embedding.variables[0],
        start_tokens=ops.full((batch_size,), START, "int32"),
        end_token=END,
        initial_state=state,
    )
    beam_ids = ops.convert_to_numpy(outputs.predicted_ids)[..., 0]
    greedy_ids = ops.convert_to_numpy(greedy_outputs.sample_id)
    lengths = ops.convert_to_numpy(lengths)[:, 0]
    np.testing.assert_array_equal(lengths, greedy_lengths)
    for row in range(batch_size):
        n = lengths[row]
        np.testing.assert_array_equal(beam_ids[row, :n], greedy_ids[row, :n])


# --- maximum_iterations: TFA takes None, an int or an int scalar tensor,
# and asserts that it is > 0.


def lstm_basic_decoder(**kwargs):
    cell = keras.layers.LSTMCell(UNITS)
    return tfa.BasicDecoder(
        cell,
        tfa.GreedyEmbeddingSampler(),
        output_layer=keras.layers.Dense(VOCAB),
        **kwargs,
    )


def decode_greedily(decoder, batch_size=2, **kwargs):
    embedding = np.random.default_rng(0).normal(size=(VOCAB, EMBED))
    state = [np.zeros((batch_size, UNITS), "float32")] * 2
    return tfa.dynamic_decode(
        decoder,
        decoder_init_input=embedding.astype("float32"),
        decoder_init_kwargs=dict(
            start_tokens=np.zeros(batch_size, "int32"),
            end_token=VOCAB,  # never emitted: only the cap stops decoding
            initial_state=state,
        ),
        **kwargs,
    )


BAD_MAXIMUM_ITERATIONS = {
    "zero": lambda: 0,
    "negative": lambda: -2,
    "numpy zero": lambda: np.int32(0),
    "tensor zero": lambda: ops.convert_to_tensor(0, "int32"),
    "bool": lambda: True,
    "float": lambda: 3.0,
    "float tensor": lambda: ops.convert_to_tensor(3.0),
    "list": lambda: [3],
    "vector": lambda: np.array([3]),
}


@pytest.mark.parametrize("bad", BAD_MAXIMUM_ITERATIONS)
def test_maximum_iterations_must_be_an_int_above_zero(bad):
    value = BAD_MAXIMUM_ITERATIONS[bad]()
    with pytest.raises(ValueError, match="maximum_iterations"):
        decode_greedily(lstm_basic_decoder(), maximum_iterations=value)
    with pytest.raises(ValueError, match="maximum_iterations"):
        lstm_basic_decoder(maximum_iterations=value)


@pytest.mark.parametrize(
    "make",
    [lambda: 3, lambda: np.int64(3), lambda: ops.convert_to_tensor(3)],
    ids=["int", "numpy int", "int tensor"],
)
def test_maximum_iterations_takes_an_int_or_an_int_scalar_tensor(make):
    outputs, _, lengths = decode_greedily(
        lstm_basic_decoder(), maximum_iterations=make()
    )
    assert tuple(outputs.sample_id.shape) == (2, 3)
    np.testing.assert_array_equal(ops.convert_to_numpy(lengths), [3, 3])


def test_a_traced_maximum_iterations_bounds_a_graph_and_jax_refuses_it():
    if keras.backend.backend() == "torch":
        pytest.skip("PyTorch's `compiled` runs eagerly: no traced tensors")
    decoder = lstm_basic_decoder()
    eager, _, _ = decode_greedily(decoder, maximum_iterations=3)

    def run(maximum_iterations):
        outputs, _, _ = decode_greedily(
            decoder, maximum_iterations=maximum_iterations
        )
        return outputs.sample_id

    limit = ops.convert_to_tensor(3, "int32")
    if keras.backend.backend() == "jax":
        # jax.jit's loops have a static length.
        with pytest.raises(ValueError, match="Python int"):
            compiled(run)(limit)
    else:  # TensorFlow's while loop stops on the tensor, as TFA's did
        np.testing.assert_array_equal(
            ops.convert_to_numpy(compiled(run)(limit)),
            ops.convert_to_numpy(eager.sample_id),
        )


def test_dynamic_decode_refuses_what_is_not_a_decoder():
    with pytest.raises(TypeError, match="Decoder"):
        tfa.dynamic_decode(keras.layers.GRUCell(3), maximum_iterations=2)


# --- AttentionWrapper: TFA's checks of shapes and batch sizes.


def wrapper(cell, batch_size=2, **kwargs):
    memory = np.random.default_rng(1).normal(size=(batch_size, 9, 4))
    mechanism = tfa.BahdanauAttention(5, memory=memory.astype("float32"))
    return tfa.AttentionWrapper(cell, mechanism, **kwargs)


def test_a_step_on_masked_embeddings_ignores_their_mask():
    # `Embedding(mask_zero=True)` attaches a Keras mask to its output; one
    # step has no time axis for it (Keras warned "destroy the mask", which
    # the test configuration makes an error).
    embedding = keras.layers.Embedding(10, 3, mask_zero=True)
    ids = np.array([4, 0], "int32")
    outputs = []
    for inputs in (embedding(ids), ops.convert_to_numpy(embedding(ids))):
        keras.utils.set_random_seed(3)
        cell = wrapper(keras.layers.GRUCell(UNITS), attention_layer_size=4)
        state = cell.get_initial_state(batch_size=2, dtype="float32")
        outputs.append(ops.convert_to_numpy(cell(inputs, state)[0]))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_clone_keeps_the_shapes_of_the_state():
    cell = wrapper(keras.layers.LSTMCell(UNITS))
    state = cell.get_initial_state(batch_size=2, dtype="float32")
    h = np.ones((2, UNITS), "float32")
    cloned = state.clone(cell_state=(h, 2 * h))  # a tuple for a list: fine
    np.testing.assert_array_equal(
        ops.convert_to_numpy(cloned.cell_state[1]), 2 * h
    )
    with pytest.raises(ValueError, match="shape"):
        state.clone(cell_state=[h, np.ones((2, UNITS + 1), "float32")])
    with pytest.raises(ValueError, match="structure"):
        state.clone(cell_state=h)  # an LSTM state is [h, c]
    with pytest.raises(ValueError, match="shape"):
        state.clone(attention=np.ones((3, 4), "float32"))


def test_a_batch_size_other_than_the_memorys_raises_with_tfas_hint():
    cell = wrapper(keras.layers.GRUCell(UNITS), batch_size=2)
    with pytest.raises(ValueError, match="tile_batch"):
        cell.get_initial_state(batch_size=4, dtype="float32")
    state = cell.get_initial_state(batch_size=2, dtype="float32")
    with pytest.raises(ValueError, match="tile_batch"):
        cell(np.zeros((4, 3), "float32"), state)
    with pytest.raises(ValueError, match="tile_batch"):
        cell(
            np.zeros((2, 3), "float32"),
            state._replace(cell_state=np.zeros((4, UNITS), "float32")),
        )
    with pytest.raises(ValueError, match="tile_batch"):
        wrapper(
            keras.layers.GRUCell(UNITS),
            initial_cell_state=np.zeros((1, UNITS), "float32"),
        )


def test_beam_search_with_an_untiled_state_raises():
    batch_size, beam_width = 2, 3
    cell = wrapper(keras.layers.GRUCell(UNITS), batch_size=batch_size)
    beam = tfa.BeamSearchDecoder(
        cell, beam_width, output_layer=keras.layers.Dense(VOCAB)
    )
    state = cell.get_initial_state(batch_size=batch_size, dtype="float32")
    with pytest.raises(ValueError, match="tile_batch"):
        beam(
            np.eye(VOCAB, 3, dtype="float32"),
            start_tokens=np.zeros(batch_size, "int32"),
            end_token=END,
            initial_state=state,
        )


def test_get_initial_state_from_inputs_takes_their_batch_and_dtype():
    cell = wrapper(keras.layers.GRUCell(UNITS), batch_size=2)
    state = cell.get_initial_state(inputs=np.zeros((2, 3), "float16"))
    assert tuple(state.attention.shape) == (2, 4)
    assert keras.backend.standardize_dtype(state.attention.dtype) == "float16"
    assert keras.backend.standardize_dtype(state.alignments.dtype) == "float16"


def test_attention_layer_size_as_a_list_of_one_is_the_int():
    inputs = np.random.default_rng(2).normal(size=(2, 3)).astype("float32")
    results = []
    for size in (6, [6], (6,)):
        keras.utils.set_random_seed(7)
        cell = wrapper(keras.layers.GRUCell(UNITS), attention_layer_size=size)
        state = cell.get_initial_state(batch_size=2, dtype="float32")
        output, state = cell(inputs, state)
        assert cell.output_size == 6
        results.append(ops.convert_to_numpy(output))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    with pytest.raises(ValueError, match="one integer per attention"):
        wrapper(keras.layers.GRUCell(UNITS), attention_layer_size=[6, 4])


def test_a_list_of_one_mechanism_gives_tuples_of_the_same_numbers():
    inputs = np.random.default_rng(2).normal(size=(2, 3)).astype("float32")
    results = []
    for as_list in (False, True):
        keras.utils.set_random_seed(7)
        plain = wrapper(keras.layers.GRUCell(UNITS), attention_layer_size=6)
        mechanism = plain.attention_mechanism
        cell = tfa.AttentionWrapper(
            keras.layers.GRUCell(UNITS),
            [mechanism] if as_list else mechanism,
            attention_layer_size=[6] if as_list else 6,
            alignment_history=True,
        )
        state = cell.get_initial_state(batch_size=2, dtype="float32")
        for _ in range(2):
            output, state = cell(inputs, state)
        results.append((output, state))
    (output, state), (list_output, list_state) = results
    np.testing.assert_allclose(
        ops.convert_to_numpy(list_output), ops.convert_to_numpy(output)
    )

    # TFA: a list, even of one, makes these fields tuples.
    def values(x):  # a tensor, or a history's stacked tensor
        return ops.convert_to_numpy(x.stack() if hasattr(x, "stack") else x)

    for field in ("alignments", "attention_state", "alignment_history"):
        value = getattr(list_state, field)
        assert isinstance(value, tuple) and len(value) == 1, field
        np.testing.assert_allclose(
            values(value[0]), values(getattr(state, field))
        )


# --- The mechanisms: memory at construction or later, the same numbers.


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: tfa.LuongAttention(UNITS, **kw),
        lambda **kw: tfa.LuongMonotonicAttention(UNITS, **kw),
        lambda **kw: tfa.BahdanauMonotonicAttention(4, **kw),
    ],
    ids=["luong", "luong_monotonic", "bahdanau_monotonic"],
)
def test_memory_at_construction_or_later_gives_the_same_alignments(make):
    rng = np.random.default_rng(3)
    memory = rng.normal(size=(1, SOURCE_STEPS, 4)).astype("float32")
    lengths = np.array([17], "int32")
    query = rng.normal(size=(1, UNITS)).astype("float32")
    keras.utils.set_random_seed(8)
    now = make(memory=memory, memory_sequence_length=lengths)
    keras.utils.set_random_seed(8)
    later = make()
    later.setup_memory(memory, memory_sequence_length=lengths)
    later.set_weights(now.get_weights())
    state = now.initial_state(1, "float32")
    expected, _ = now([query, state])
    alignments, _ = later([query, later.initial_state(1, "float32")])
    alignments = ops.convert_to_numpy(alignments)
    np.testing.assert_allclose(alignments, ops.convert_to_numpy(expected))
    assert alignments[0, 17:].sum() == 0.0
    if "Monotonic" in type(now).__name__:
        np.testing.assert_array_equal(
            ops.convert_to_numpy(state)[0], np.eye(SOURCE_STEPS)[0]
        )


# --- TFA's free functions, called with TFA's arguments.


def numpy_cumprod(x, axis, exclusive, reverse):
    """`tf.math.cumprod`'s meaning of the flags, in NumPy."""
    if reverse:
        x = np.flip(x, axis)
    products = np.cumprod(x, axis=axis)
    if exclusive:
        products = products / x
    return np.flip(products, axis) if reverse else products


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_safe_cumprod_is_called_as_tf_cumprod(exclusive, reverse):
    x = np.random.default_rng(9).uniform(0.2, 1.0, (4, 5)).astype("float32")
    for args, axis in [((), 0), ((1,), 1), ((-1,), -1)]:
        got = tfa.seq2seq.safe_cumprod(
            x, *args, exclusive=exclusive, reverse=reverse
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(got),
            numpy_cumprod(np.float64(x), axis, exclusive, reverse),
            rtol=1e-5,
        )


def test_tfa_functions_take_tfas_name_argument():
    rng = np.random.default_rng(10)
    logits = rng.normal(size=(2, 3, VOCAB)).astype("float32")
    targets = rng.integers(0, VOCAB, (2, 3))
    weights = np.array([[1, 1, 0], [1, 0, 0]], "float32")
    loss = tfa.seq2seq.sequence_loss(logits, targets, weights, name="loss")
    by_hand = -np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))[
        np.arange(2)[:, None], np.arange(3), targets
    ]
    np.testing.assert_allclose(
        float(loss), (by_hand * weights).sum() / weights.sum(), rtol=1e-6
    )
    hard = tfa.seq2seq.hardmax(np.array([[1.0, 3.0, 3.0]]), name="hardmax")
    np.testing.assert_array_equal(ops.convert_to_numpy(hard), [[0, 1, 0]])
    tiled = tfa.seq2seq.tile_batch(t=np.arange(2), multiplier=3, name="tile")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(tiled), [0, 0, 0, 1, 1, 1]
    )


# --- Cells with dropout: one mask per decoding, as in `keras.layers.RNN`.


@pytest.mark.parametrize(
    "cell_class", [keras.layers.GRUCell, keras.layers.LSTMCell]
)
def test_a_dropout_cell_draws_its_masks_per_decoding_as_keras_rnn(cell_class):
    cell = cell_class(UNITS, dropout=0.4, recurrent_dropout=0.3, seed=11)
    decoder = tfa.BasicDecoder(cell, tfa.TrainingSampler())
    rng = np.random.default_rng(12)
    runs = []
    for batch_size in (3, 5):  # the masks of batch 3 do not fit batch 5
        inputs = rng.normal(size=(batch_size, 4, EMBED)).astype("float32")
        state = [np.zeros((batch_size, UNITS), "float32")]
        if cell_class is keras.layers.LSTMCell:
            state = state * 2
        seed_state = ops.convert_to_numpy(cell.seed_generator.state)
        outputs, _, _ = decoder(inputs, initial_state=state, training=True)
        runs.append((inputs, state, seed_state, outputs.rnn_output))
    rnn = keras.layers.RNN(cell, return_sequences=True)
    for inputs, state, seed_state, outputs in runs:
        cell.seed_generator.state.assign(seed_state)  # the same draws
        # The decoder resets the masks when it starts, `RNN` when it ends.
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
        expected = rnn(inputs, initial_state=state, training=True)
        np.testing.assert_allclose(
            ops.convert_to_numpy(outputs),
            ops.convert_to_numpy(expected),
            atol=1e-6,
        )
    inference, _, _ = decoder(inputs, initial_state=state, training=False)
    assert not np.allclose(
        ops.convert_to_numpy(inference.rnn_output),
        ops.convert_to_numpy(expected),
    )


def test_a_luong_query_of_another_depth_than_units_raises_clearly():
    memory = np.zeros((2, 9, 4), "float32")
    mechanism = tfa.LuongAttention(UNITS + 1, memory=memory)
    cell = tfa.AttentionWrapper(keras.layers.GRUCell(UNITS), mechanism)
    state = cell.get_initial_state(batch_size=2, dtype="float32")
    with pytest.raises(ValueError, match="queries of depth 8"):
        cell(np.zeros((2, 3), "float32"), state)
