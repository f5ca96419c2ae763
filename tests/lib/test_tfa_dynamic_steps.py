"""`tfa.dynamic_decode` in a TensorFlow graph whose number of steps is a
tensor, as TFA's `tf.while_loop` ran it.

TFA programs train a `BasicDecoder` + `TrainingSampler` model with
`model.fit` on `padded_batch`es whose lengths vary (Keras traces the train
step again with the time axis as None), run `dynamic_decode` in a
`tf.function` whose `input_signature` leaves the time axis None (a custom
training loop), and decode greedily in a `tf.function` with a tensor
`maximum_iterations`, or with none. Each must give what the eager decoding
gives: the outputs of the steps until every row has finished, the final
state (the alignment history too), the lengths, and the gradients.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.function graphs with axes of unknown size are TensorFlow's: "
    "jax.jit traces static shapes (one trace per shape) and PyTorch runs "
    "eagerly; the other tests cover those on every backend",
)

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

B, E, U, V, TS = 2, 4, 6, 10, 5


def assert_trees_close(got, want, atol=1e-5):
    got, want = keras.tree.flatten(got), keras.tree.flatten(want)
    assert len(got) == len(want)
    for have, expected in zip(got, want, strict=True):
        if expected is None:  # a weight the loss does not reach
            assert have is None
            continue
        have = ops.convert_to_numpy(have)
        expected = ops.convert_to_numpy(expected)
        assert have.shape == expected.shape
        np.testing.assert_allclose(have, expected, atol=atol)


# --- (a) model.fit on padded batches of several lengths: Keras' train
# step is traced again with the time axis as None (`reduce_retracing`),
# and dynamic_decode raised "runs a fixed number of steps".


def functional_model():
    source = keras.Input((None,), dtype="int32")
    target_in = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(V, E)
    _, h, c = keras.layers.LSTM(U, return_state=True)(embedding(source))
    decoder = tfa.BasicDecoder(
        keras.layers.LSTMCell(U),
        tfa.TrainingSampler(),
        output_layer=keras.layers.Dense(V),
    )
    outputs, _, _ = decoder(embedding(target_in), initial_state=[h, c])
    model = keras.Model([source, target_in], outputs.rnn_output)
    return model, decoder


def examples(target_lengths, seed=0):
    """(source, target_in, target) rows; the sources' lengths vary too."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, length in enumerate(target_lengths):
        target = rng.integers(1, V, length).astype("int32")
        source = rng.integers(1, V, TS - i % 2).astype("int32")
        target_in = np.r_[0, target[:-1]].astype("int32")
        rows.append((source, target_in, target))
    return rows


def padded_batches(rows):
    """TFA's input pipeline: `padded_batch` pads each batch to its own
    longest row, so the time axis is None for the traced step."""
    spec = tf.TensorSpec((None,), tf.int32)
    dataset = tf.data.Dataset.from_generator(
        lambda: (((s, t_in), t) for s, t_in, t in rows),
        output_signature=((spec, spec), spec),
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(rows)))
    return dataset.padded_batch(B)


def test_a_functional_model_trains_on_batches_of_several_lengths():
    model, decoder = functional_model()
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # Batches of 3, 5, 4 and 6 target steps (rows padded within a batch).
    rows = examples([3, 2, 5, 4, 4, 4, 6, 3])
    before = [w.copy() for w in decoder.get_weights()]
    losses = model.fit(padded_batches(rows), epochs=4, shuffle=False, verbose=0)
    losses = losses.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    for after, old in zip(decoder.get_weights(), before, strict=True):
        assert not np.array_equal(after, old)
    # The predict function is traced for the first length, then again with
    # the time axis None: every length must give the eager logits.
    for batch, ((source, target_in), _) in enumerate(padded_batches(rows)):
        graph = model.predict_on_batch([source, target_in])
        eager = model([source, target_in], training=False)
        assert graph.shape == (B, [3, 5, 4, 6][batch], V)
        eager = ops.convert_to_numpy(eager)
        np.testing.assert_allclose(graph, eager, atol=1e-5)
    assert model.predict_function.experimental_get_tracing_count() == 2


# --- (b) a tf.function whose input_signature leaves the batch and time
# axes None (a custom training loop): outputs, the final state with its
# alignment history, the lengths and the gradients equal the eager ones.


def attention_decoder(impute_finished):
    memory = np.random.default_rng(1).normal(size=(B, TS, U))
    mechanism = tfa.LuongAttention(U, memory=memory.astype("float32"))
    cell = tfa.AttentionWrapper(
        keras.layers.LSTMCell(U),
        mechanism,
        attention_layer_size=U,
        alignment_history=True,
    )
    decoder = tfa.BasicDecoder(
        cell,
        tfa.TrainingSampler(),
        output_layer=keras.layers.Dense(V),
        impute_finished=impute_finished,
    )
    return decoder, cell


@pytest.mark.parametrize(
    "impute_finished, xla",
    [(False, False), (True, False), (True, True)],
    ids=["plain", "impute_finished", "impute_finished_xla"],
)
def test_a_tf_function_with_axes_of_unknown_length(impute_finished, xla):
    # The sampler's inputs' length, a tensor here, bounds the loop: XLA
    # (Keras' default for `fit` on a GPU) compiles only a bounded loop.
    decoder, cell = attention_decoder(impute_finished)

    def decode(inputs, lengths):
        batch_size = ops.shape(inputs)[0]
        initial = cell.get_initial_state(batch_size=batch_size, dtype="float32")
        with tf.GradientTape() as tape:
            outputs, state, got_lengths = decoder(
                inputs, initial_state=initial, sequence_length=lengths
            )
            loss = ops.sum(ops.square(outputs.rnn_output))
        gradients = tape.gradient(loss, decoder.trainable_weights)
        history = state.alignment_history.stack()
        state = state._replace(alignment_history=history)
        return outputs, state, got_lengths, gradients

    signature = [
        tf.TensorSpec((None, None, E), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]
    graph = tf.function(decode, input_signature=signature, jit_compile=xla)
    rng = np.random.default_rng(2)
    # 5 steps, one row shorter; 4 steps but every row done after 2 (the
    # loop stops early, as eagerly).
    for steps, lengths in [(5, [5, 3]), (4, [2, 1])]:
        inputs = rng.normal(size=(B, steps, E)).astype("float32")
        lengths = np.array(lengths, "int32")
        want = decode(inputs, lengths)
        got = graph(inputs, lengths)
        assert got[0].rnn_output.shape == (B, max(lengths), V)
        assert got[1].alignment_history.shape == (max(lengths), B, TS)
        assert_trees_close(got, want)
        np.testing.assert_array_equal(ops.convert_to_numpy(got[2]), lengths)
    assert graph.experimental_get_tracing_count() == 1


def test_a_static_time_axis_with_a_batch_of_unknown_size():
    # The loop of a static length, which pads to it: `impute_finished`
    # took entries whose batch axis is None before a step and 2 after it
    # for alignment histories, and failed.
    decoder, cell = attention_decoder(impute_finished=True)

    def decode(inputs, lengths):
        batch_size = ops.shape(inputs)[0]
        initial = cell.get_initial_state(batch_size=batch_size, dtype="float32")
        outputs, state, lengths = decoder(
            inputs, initial_state=initial, sequence_length=lengths
        )
        history = state.alignment_history.stack()
        return outputs, state._replace(alignment_history=history), lengths

    signature = [
        tf.TensorSpec((None, TS, E), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    ]
    inputs = np.random.default_rng(3).normal(size=(B, TS, E))
    inputs, lengths = inputs.astype("float32"), np.array([TS, 2], "int32")
    want = decode(inputs, lengths)
    assert_trees_close(tf.function(decode, signature)(inputs, lengths), want)


# --- (c) greedy decoding in a tf.function with a tensor
# maximum_iterations (it raised "must be a Python int"), or with none.


def greedy_setup():
    rng = np.random.default_rng(8)
    embedding = rng.normal(size=(V, E)).astype("float32")
    state = [rng.normal(size=(B, U)).astype("float32") for _ in range(2)]
    decoder = tfa.BasicDecoder(
        keras.layers.LSTMCell(U),
        tfa.GreedyEmbeddingSampler(),
        output_layer=keras.layers.Dense(V),
    )

    def decode(maximum_iterations, end_token):
        return tfa.dynamic_decode(
            decoder,
            maximum_iterations=maximum_iterations,
            decoder_init_input=embedding,
            decoder_init_kwargs=dict(
                start_tokens=np.zeros(B, "int32"),
                end_token=end_token,
                initial_state=state,
            ),
        )

    return decode


# End tokens of the greedy decoder above: 9 ends row 0 after 2 steps and
# never row 1; 3 ends the rows after 3 and 6 steps; 10 is never emitted.
ONE_ROW, BOTH_ROWS, NEVER = 9, 3, V
LENGTHS = {ONE_ROW: [2, 8], BOTH_ROWS: [3, 6], NEVER: [8, 8]}


def test_greedy_decoding_in_a_tf_function_with_a_tensor_maximum_iterations():
    decode = greedy_setup()
    for end_token, lengths in LENGTHS.items():  # the premise, eagerly
        _, _, got = decode(8, end_token)
        np.testing.assert_array_equal(ops.convert_to_numpy(got), lengths)
    scalar = tf.TensorSpec((), tf.int32)
    graph = tf.function(decode, input_signature=[scalar, scalar])
    for maximum_iterations in [1, 3, 8]:
        for end_token in LENGTHS:
            want = decode(maximum_iterations, end_token)
            got = graph(maximum_iterations, end_token)
            assert_trees_close(got, want)
    assert graph.experimental_get_tracing_count() == 1


def test_greedy_decoding_in_a_tf_function_without_maximum_iterations():
    # TFA's while_loop runs until every row has emitted the end token.
    decode = greedy_setup()
    graph = tf.function(
        lambda end_token: decode(None, end_token),
        input_signature=[tf.TensorSpec((), tf.int32)],
    )
    want = decode(None, BOTH_ROWS)
    assert tuple(want[0].sample_id.shape) == (B, 6)
    assert_trees_close(graph(BOTH_ROWS), want)


def test_beam_search_reorders_its_alignment_history_in_a_tf_function():
    # `gather_tree_from_array` read the steps from a static shape.
    rng = np.random.default_rng(9)
    k = 3
    memory = tfa.tile_batch(rng.normal(size=(B, TS, U)).astype("float32"), k)
    cell = tfa.AttentionWrapper(
        keras.layers.GRUCell(U),
        tfa.BahdanauAttention(U, memory=memory),
        alignment_history=True,
    )
    decoder = tfa.BeamSearchDecoder(
        cell, beam_width=k, output_layer=keras.layers.Dense(V)
    )
    embedding = rng.normal(size=(V, E)).astype("float32")

    def decode(maximum_iterations):
        outputs, state, lengths = tfa.dynamic_decode(
            decoder,
            maximum_iterations=maximum_iterations,
            decoder_init_input=embedding,
            decoder_init_kwargs=dict(
                start_tokens=np.zeros(B, "int32"),
                end_token=1,
                initial_state=cell.get_initial_state(
                    batch_size=B * k, dtype="float32"
                ),
            ),
        )
        # TFA's `finalize` stacks the history it reorders: a tensor.
        history = state.cell_state.alignment_history
        return outputs.predicted_ids, lengths, history

    graph = tf.function(decode, input_signature=[tf.TensorSpec((), tf.int32)])
    for maximum_iterations in [2, 4]:
        want = decode(maximum_iterations)
        assert tuple(want[2].shape) == (maximum_iterations, B * k, TS)
        assert_trees_close(graph(maximum_iterations), want)


def test_a_float32_output_layer_under_mixed_precision_keeps_its_dtype():
    # The loop's buffers take the decoder's `output_dtype`: the logits of a
    # float32 output layer were cast to the cell's float16.
    decoder = tfa.BasicDecoder(
        keras.layers.LSTMCell(U, dtype="mixed_float16"),
        tfa.TrainingSampler(),
        output_layer=keras.layers.Dense(V, dtype="float32"),
        dtype="mixed_float16",
    )
    state = [np.zeros((B, U), "float16")] * 2  # the cell's dtype

    def decode(inputs):
        return decoder(inputs, initial_state=state)[0].rnn_output

    inputs = np.random.default_rng(4).normal(size=(B, 3, E)).astype("float32")
    want = decode(inputs)
    signature = [tf.TensorSpec((B, None, E), tf.float32)]
    got = tf.function(decode, input_signature=signature)(inputs)
    dtypes = {keras.backend.standardize_dtype(x.dtype) for x in (want, got)}
    assert dtypes == {"float32"}
    assert_trees_close(got, want, atol=1e-2)
