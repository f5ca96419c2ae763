"""`keras_seq2seq.tfa` run as TFA users' programs, fifth audit round.

Each test ports a way TFA 0.23 programs (docs, tutorials, answers) call
`tfa.seq2seq` that an earlier version of this module got wrong, with
`import keras_seq2seq.tfa as tfa` in place of TFA's import. The expected
values come from TFA's documented semantics, checked in NumPy or as
identities that must hold.
"""

import keras
import numpy as np
import pytest
from keras import ops
from tests import reference

import keras_seq2seq as seq2seq
import keras_seq2seq.tfa as tfa

B, TS, D, C, E, V = 3, 7, 5, 6, 4, 9
LENGTHS = np.array([7, 2, 5])


def normal(seed, *shape, dtype="float32"):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def numpy(x):
    return ops.convert_to_numpy(x)


# --- A custom cell ported from Keras 2's `AbstractRNNCell`: Keras 3 has
# no such base, so the cell has `state_size` and `output_size` but no
# `get_initial_state`. `keras.layers.RNN` starts it from zeros; the
# wrapper's `get_initial_state` and the library's `AttentionDecoder`
# raised AttributeError.


class TanhCell(keras.layers.Layer):
    """`h' = tanh(x K + h)`: a cell without `get_initial_state`."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units]
        self.output_size = units

    def build(self, inputs_shape):
        self.kernel = self.add_weight(shape=(inputs_shape[-1], self.units))

    def call(self, inputs, states):
        h = ops.tanh(ops.matmul(inputs, self.kernel) + states[0])
        return h, [h]


def test_a_cell_without_get_initial_state_starts_from_zeros():
    memory = normal(1, B, TS, D)
    mechanism = tfa.LuongAttention(C, memory, memory_sequence_length=LENGTHS)
    wrapper = tfa.AttentionWrapper(TanhCell(C), mechanism)
    state = wrapper.get_initial_state(batch_size=B, dtype="float32")
    np.testing.assert_array_equal(numpy(state.cell_state), np.zeros((B, C)))
    x = normal(2, B, E)
    output, state = wrapper(x, state)
    kernel, luong_kernel = wrapper.get_weights()
    # TFA's step: the cell on [x; zero attention] from a zero state, then
    # Luong's alignments over the masked memory; the attention is the
    # context (no attention layer).
    h = np.tanh(np.concatenate([x, np.zeros((B, D))], -1) @ kernel)
    mask = np.arange(TS)[None] < LENGTHS[:, None]
    values = memory * mask[..., None]
    scores = reference.luong_scores(h[:, None], values, luong_kernel)[:, 0]
    alignments = reference.masked_softmax(scores, mask)
    np.testing.assert_allclose(numpy(state.cell_state), h, atol=1e-6)
    np.testing.assert_allclose(numpy(state.alignments), alignments, atol=1e-6)
    np.testing.assert_allclose(
        numpy(output), np.einsum("bt,btd->bd", alignments, values), atol=1e-6
    )


def test_attention_decoder_starts_such_a_cell_from_zeros():
    decoder = seq2seq.AttentionDecoder(TanhCell(C), seq2seq.LuongAttention())
    inputs, memory = normal(3, B, 4, E), normal(4, B, TS, C)
    from_zeros = decoder(inputs, memory, [np.zeros((B, C), "float32")])
    np.testing.assert_allclose(
        numpy(decoder(inputs, memory)), numpy(from_zeros), atol=1e-6
    )


# --- A float64 model: TFA's attention layer takes its mechanism's dtype
# and nothing is cast, so a float64 cell and mechanism keep float64. The
# wrapper's step ran in the float32 of its default policy: the cell state,
# the attention and the alignments came back float32, of another dtype
# than the float64 state they started from. (The library's softmax runs
# in float32: the numbers are float32-close.)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="float64 Dense layers compute in float32 on JAX (without x64) "
    "and on PyTorch (Keras' matmul)",
)
def test_a_float64_wrapper_computes_in_float64():
    memory = normal(5, B, TS, D, dtype="float64")
    mechanism = tfa.LuongAttention(
        C, memory, memory_sequence_length=LENGTHS, dtype="float64"
    )
    cell = keras.layers.SimpleRNNCell(C, dtype="float64")
    wrapper = tfa.AttentionWrapper(cell, mechanism, attention_layer_size=3)
    state = wrapper.get_initial_state(batch_size=B, dtype="float64")
    inputs = normal(6, B, 2, E, dtype="float64")
    for t in range(2):
        output, state = wrapper(inputs[:, t], state)
    layer, kernel, recurrent, bias, luong_kernel = wrapper.get_weights()
    mask = np.arange(TS)[None] < LENGTHS[:, None]
    values = memory * mask[..., None]
    h, attention = np.zeros((B, C)), np.zeros((B, 3))
    for t in range(2):
        x = np.concatenate([inputs[:, t], attention], -1)
        h = np.tanh(x @ kernel + h @ recurrent + bias)
        scores = reference.luong_scores(h[:, None], values, luong_kernel)
        alignments = reference.masked_softmax(scores[:, 0], mask)
        context = np.einsum("bt,btd->bd", alignments, values)
        attention = np.concatenate([h, context], -1) @ layer
    for got in (output, state.cell_state, state.attention, state.alignments):
        assert keras.backend.standardize_dtype(got.dtype) == "float64"
    np.testing.assert_allclose(numpy(output), attention, atol=1e-6)
    np.testing.assert_allclose(numpy(state.cell_state), h, atol=1e-6)
    np.testing.assert_allclose(numpy(state.alignments), alignments, atol=1e-6)


# --- Saving: the "Hands-On Machine Learning" book's functional model
# (a `BasicDecoder` with a `TrainingSampler`) saved with `model.save(
# "....keras")` raised NotImplementedError (no `get_config` on the
# decoder, the samplers or the wrapper). The decoders, samplers, wrapper
# and mechanisms now save their arguments; the memory, a tensor, stays
# out of the config as in TFA's mechanisms.


def books_model():
    encoder_inputs = keras.Input(shape=[None], dtype="int32")
    decoder_inputs = keras.Input(shape=[None], dtype="int32")
    sequence_lengths = keras.Input(shape=[], dtype="int32")
    embeddings = keras.layers.Embedding(V, E)
    _, state_h, state_c = keras.layers.LSTM(C, return_state=True)(
        embeddings(encoder_inputs)
    )
    decoder = tfa.seq2seq.basic_decoder.BasicDecoder(
        keras.layers.LSTMCell(C),
        tfa.seq2seq.sampler.TrainingSampler(),
        output_layer=keras.layers.Dense(V),
    )
    final_outputs, _, _ = decoder(
        embeddings(decoder_inputs),
        initial_state=[state_h, state_c],
        sequence_length=sequence_lengths,
    )
    y_proba = keras.ops.softmax(final_outputs.rnn_output)
    return keras.Model(
        inputs=[encoder_inputs, decoder_inputs, sequence_lengths],
        outputs=[y_proba],
    )


def test_the_books_model_saves_and_loads(tmp_path):
    model = books_model()
    rng = np.random.default_rng(7)
    inputs = [
        rng.integers(1, V, size=(1, 4)),
        rng.integers(1, V, size=(1, 3)),
        np.array([2]),
    ]
    before = model.predict(inputs, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), before)


def decode_with_beams(decoder, mechanisms, weights=None):
    """Sets up the tiled memory, (sets `weights`,) and beam-decodes."""
    k = decoder.beam_width
    memory = tfa.tile_batch(normal(8, B, TS, D), k)
    lengths = tfa.tile_batch(LENGTHS, k)
    for mechanism in mechanisms:
        mechanism.setup_memory(memory, lengths)
    cell = decoder.cell
    state = cell.get_initial_state(batch_size=B * k, dtype="float32")
    embedding = normal(9, V, E)
    outputs, final_state, lengths = decoder(
        embedding, start_tokens=[0] * B, end_token=1, initial_state=state
    )
    if weights is not None:
        # The first call built the weights; decode again with these.
        decoder.set_weights(weights)
        outputs, final_state, lengths = decoder(
            embedding, start_tokens=[0] * B, end_token=1, initial_state=state
        )
    return outputs, final_state


def test_a_beam_search_decoder_rebuilt_from_its_config_decodes_the_same():
    mechanisms = [
        tfa.BahdanauAttention(4, normalize=True),
        tfa.LuongAttention(C, scale=True),
    ]
    wrapper = tfa.AttentionWrapper(
        keras.layers.LSTMCell(C),
        mechanisms,
        attention_layer_size=[3, 2],
        alignment_history=True,
        output_attention=False,
    )
    decoder = tfa.BeamSearchDecoder(
        wrapper,
        4,
        output_layer=keras.layers.Dense(V),
        length_penalty_weight=0.6,
        coverage_penalty_weight=0.4,
        maximum_iterations=5,
    )
    config = keras.saving.serialize_keras_object(decoder)
    rebuilt = keras.saving.deserialize_keras_object(config)
    outputs, state = decode_with_beams(decoder, mechanisms)
    again, again_state = decode_with_beams(
        rebuilt, rebuilt.cell.attention_mechanisms, decoder.get_weights()
    )
    np.testing.assert_array_equal(
        numpy(again.predicted_ids), numpy(outputs.predicted_ids)
    )
    np.testing.assert_allclose(
        numpy(again_state.log_probs), numpy(state.log_probs), atol=1e-6
    )
    np.testing.assert_allclose(
        numpy(again_state.cell_state.alignment_history[1]),
        numpy(state.cell_state.alignment_history[1]),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "sampler",
    [
        tfa.TrainingSampler(time_major=True),
        tfa.GreedyEmbeddingSampler(),
        tfa.SampleEmbeddingSampler(softmax_temperature=0.5, seed=3),
        tfa.ScheduledEmbeddingTrainingSampler(
            keras.Variable(0.25), seed=1, scheduling_seed=2
        ),
        tfa.ScheduledOutputTrainingSampler([0.5, 0.75, 1.0], seed=4),
    ],
    ids=lambda sampler: type(sampler).__name__,
)
def test_a_sampler_round_trips_its_arguments(sampler):
    config = keras.saving.serialize_keras_object(sampler)
    rebuilt = keras.saving.deserialize_keras_object(config)
    assert type(rebuilt) is type(sampler)
    assert rebuilt.get_config() == sampler.get_config()
    for key in sampler.get_config():
        np.testing.assert_array_equal(
            np.asarray(numpy(getattr(rebuilt, key)), dtype=object),
            np.asarray(numpy(getattr(sampler, key)), dtype=object),
        )


# --- A custom logits layer without `compute_output_shape` (Keras 2's
# default traced `call`; TFA sizes its output arrays with it): decoding no
# step (every `sequence_length` 0) and TensorFlow's graph loop (a
# `tf.function` over batches of any length) raised NotImplementedError.


class Logits(keras.layers.Layer):
    """`x W`, with no `compute_output_shape`."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, inputs_shape):
        self.kernel = self.add_weight(shape=(inputs_shape[-1], self.units))

    def call(self, inputs):
        return ops.matmul(inputs, self.kernel)


def test_an_output_layer_without_compute_output_shape_sizes_the_outputs():
    decoder = tfa.BasicDecoder(
        keras.layers.GRUCell(C), tfa.TrainingSampler(), output_layer=Logits(V)
    )
    inputs, state = normal(10, B, 4, E), normal(11, B, C)
    outputs, final_state, lengths = decoder(
        inputs, initial_state=state, sequence_length=[0, 0, 0]
    )
    # TFA: no row runs a step; the outputs have no step, the state is
    # the initial one.
    assert tuple(outputs.rnn_output.shape) == (B, 0, V)
    assert tuple(outputs.sample_id.shape) == (B, 0)
    np.testing.assert_array_equal(numpy(lengths), [0, 0, 0])
    np.testing.assert_array_equal(numpy(final_state), state)
    eager, _, _ = decoder(
        inputs, initial_state=state, sequence_length=[4, 1, 3]
    )
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, E]),
            tf.TensorSpec([None], tf.int32),
        ]
    )
    def decode(inputs, lengths):
        outputs, _, _ = decoder(
            inputs, initial_state=state, sequence_length=lengths
        )
        return outputs.rnn_output

    np.testing.assert_allclose(
        numpy(decode(inputs, np.array([4, 1, 3], "int32"))),
        numpy(eager.rnn_output),
        atol=1e-6,
    )


# --- A TensorFlow serving function over sources of any length
# (`@tf.function(input_signature=[tf.TensorSpec([None, None, D]), ...])`,
# as TFA programs export `translate`): the mechanism's `alignments_size`
# was the static `None`, and `get_initial_state` raised; beam search
# reshaped its beams with that `None`. TFA falls back on the dynamic size.


def serving_function(decoder, mechanism, beam_width=1):
    import tensorflow as tf

    embedding = normal(12, V, E)

    def translate(memory, lengths):
        mechanism.setup_memory(
            tfa.tile_batch(memory, beam_width),
            tfa.tile_batch(lengths, beam_width),
        )
        batch_size = tf.shape(memory)[0]
        state = decoder.cell.get_initial_state(
            batch_size=batch_size * beam_width, dtype=tf.float32
        )
        outputs, final_state, lengths = decoder(
            embedding,
            start_tokens=tf.fill([batch_size], 0),
            end_token=1,
            initial_state=state,
        )
        if beam_width > 1:
            return outputs.predicted_ids, lengths
        return outputs.sample_id, final_state.alignment_history.stack()

    signature = [
        tf.TensorSpec([None, None, D], tf.float32),
        tf.TensorSpec([None], tf.int32),
    ]
    return translate, tf.function(translate, input_signature=signature)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="only TensorFlow graphs have axes of unknown length",
)
@pytest.mark.parametrize("beam_width", [1, 3])
def test_a_serving_function_takes_sources_of_any_length(beam_width):
    mechanism = tfa.LuongAttention(C)
    wrapper = tfa.AttentionWrapper(
        keras.layers.LSTMCell(C),
        mechanism,
        attention_layer_size=5,
        alignment_history=beam_width == 1,
    )
    output_layer = keras.layers.Dense(V)
    if beam_width == 1:
        decoder = tfa.BasicDecoder(
            wrapper,
            tfa.GreedyEmbeddingSampler(),
            output_layer=output_layer,
            maximum_iterations=6,
        )
    else:
        decoder = tfa.BeamSearchDecoder(
            wrapper,
            beam_width,
            output_layer=output_layer,
            coverage_penalty_weight=0.4,
            maximum_iterations=6,
        )
    eager, graph = serving_function(decoder, mechanism, beam_width)
    for steps, lengths in [(TS, LENGTHS), (2, np.array([1, 2, 2]))]:
        memory = normal(13, B, steps, D)
        lengths = lengths.astype("int32")
        want = eager(memory, lengths)
        got = graph(memory, lengths)
        np.testing.assert_array_equal(numpy(got[0]), numpy(want[0]))
        np.testing.assert_allclose(numpy(got[1]), numpy(want[1]), atol=1e-6)


# --- A memory that carries a Keras mask (an encoder over
# `Embedding(mask_zero=True)`): TFA sets a memory given to the constructor
# up through `__call__`, which hands over that mask, so padded steps get
# no attention. The constructor ignored it (every step got weight), and
# `mechanism(memory, setup_memory=True)` warned that the layer destroys
# the mask.


@pytest.mark.parametrize("setup", ["constructor", "call"])
def test_a_memory_with_a_keras_mask_is_masked_as_in_tfa(setup):
    source = np.array([[3, 4, 5, 0, 0], [2, 0, 0, 0, 0], [1, 2, 3, 4, 5]])
    embedding = keras.layers.Embedding(V, E, mask_zero=True)
    memory = keras.layers.GRU(D, return_sequences=True)(embedding(source))
    if setup == "constructor":
        mechanism = tfa.BahdanauAttention(4, memory=memory)
    else:
        mechanism = tfa.BahdanauAttention(4)
        mechanism(memory, setup_memory=True)
    by_lengths = tfa.BahdanauAttention(
        4, memory=memory, memory_sequence_length=[3, 1, 5]
    )
    query = normal(14, B, C)
    alignments, _ = mechanism([query, mechanism.initial_state(B, "float32")])
    by_lengths([query, by_lengths.initial_state(B, "float32")])  # builds
    by_lengths.set_weights(mechanism.get_weights())
    expected, _ = by_lengths([query, by_lengths.initial_state(B, "float32")])
    np.testing.assert_allclose(numpy(alignments), numpy(expected), atol=1e-6)
    np.testing.assert_array_equal(numpy(alignments)[:2, 3:], 0.0)


# --- Scheduled sampling inside a compiled step (`model.fit`,
# `model.predict`): TFA draws anew at every step. On JAX the sampler's
# seed generator was not one of the model's variables, so every compiled
# call replayed the draws of its trace: the same rows were fed their own
# samples, at the same steps, batch after batch.


class ScheduledModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.embedding = keras.layers.Embedding(V, E)
        sampler = tfa.ScheduledEmbeddingTrainingSampler(
            0.5, embedding_fn=self.embedding, seed=1, scheduling_seed=2
        )
        self.decoder = tfa.BasicDecoder(
            keras.layers.GRUCell(C), sampler, output_layer=keras.layers.Dense(V)
        )

    def call(self, targets, training=None):
        batch_size = ops.shape(targets)[0]
        outputs, _, _ = self.decoder(
            self.embedding(targets),
            initial_state=ops.zeros((batch_size, C)),
            training=training,
        )
        return outputs.sample_id


def test_scheduled_sampling_draws_anew_at_every_compiled_call():
    model = ScheduledModel()
    targets = np.random.default_rng(15).integers(1, V, size=(4, 6))
    draws = [model.predict(targets, verbose=0) for _ in range(3)]
    # A row not chosen at a step has id -1 (TFA); chosen rows get a
    # sampled id. Three calls of 24 draws each must not all be equal.
    chosen = [d >= 0 for d in draws]
    assert 0 < np.mean(chosen) < 1
    assert not np.array_equal(chosen[0], chosen[1])
    assert not np.array_equal(chosen[1], chosen[2])
