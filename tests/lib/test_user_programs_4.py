"""`keras_seq2seq.tfa` run as TFA users' programs, fourth audit round.

Each test ports a way TFA 0.23 programs (docs, tutorials, answers) call
`tfa.seq2seq` that an earlier version of this module got wrong, with
`import keras_seq2seq.tfa as tfa` in place of TFA's import. The expected
values come from TFA's documented semantics, checked in NumPy or as
identities that must hold.
"""

import importlib

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa

B, TS, E, C, V, K = 2, 5, 4, 6, 7, 3


def normal(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# --- BeamSearchDecoder's `embedding` may be a callable, such as the
# decoder's `keras.layers.Embedding`: it must equal passing its matrix
# (it raised Keras' "cannot add new elements of state" error, the layer
# being tracked by the already built decoder).


def test_beam_search_takes_an_embedding_layer_as_its_embedding():
    embedding = keras.layers.Embedding(V, E)
    embedding.build((None,))
    decoder = tfa.seq2seq.BeamSearchDecoder(
        keras.layers.GRUCell(C),
        K,
        output_layer=keras.layers.Dense(V),
        maximum_iterations=4,
    )
    state = tfa.seq2seq.tile_batch(normal(1, B, C), K)
    start = np.array([0, 3], "int32")
    by_matrix = decoder(
        embedding.embeddings,
        start_tokens=start,
        end_token=1,
        initial_state=state,
    )
    by_layer = decoder(
        embedding, start_tokens=start, end_token=1, initial_state=state
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(by_layer[0].predicted_ids),
        ops.convert_to_numpy(by_matrix[0].predicted_ids),
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(by_layer[1].log_probs),
        ops.convert_to_numpy(by_matrix[1].log_probs),
    )
    # The per-call embedding is not one of the decoder's weights.
    assert len(decoder.weights) == 3 + 2


# --- TFA's submodules: programs (the "Hands-On Machine Learning" book's
# among them) write `tfa.seq2seq.basic_decoder.BasicDecoder`,
# `tfa.seq2seq.attention_wrapper.AttentionWrapper`, and import them as
# `from tensorflow_addons.seq2seq.sampler import TrainingSampler` (no such
# attribute or module existed).

TFA_MODULES = {
    "attention_wrapper": [
        "AttentionMechanism",
        "AttentionWrapper",
        "AttentionWrapperState",
        "BahdanauAttention",
        "BahdanauMonotonicAttention",
        "LuongAttention",
        "LuongMonotonicAttention",
        "hardmax",
        "monotonic_attention",
        "safe_cumprod",
    ],
    "basic_decoder": ["BasicDecoder", "BasicDecoderOutput"],
    "beam_search_decoder": [
        "BeamSearchDecoder",
        "BeamSearchDecoderOutput",
        "BeamSearchDecoderState",
        "FinalBeamSearchDecoderOutput",
        "gather_tree",
        "gather_tree_from_array",
        "tile_batch",
    ],
    "decoder": ["BaseDecoder", "Decoder", "dynamic_decode"],
    "loss": ["SequenceLoss", "sequence_loss"],
    "sampler": [
        "CustomSampler",
        "GreedyEmbeddingSampler",
        "InferenceSampler",
        "SampleEmbeddingSampler",
        "Sampler",
        "ScheduledEmbeddingTrainingSampler",
        "ScheduledOutputTrainingSampler",
        "TrainingSampler",
    ],
}


@pytest.mark.parametrize("module", sorted(TFA_MODULES))
def test_tfas_submodules_hold_tfas_names(module):
    by_attribute = getattr(tfa.seq2seq, module)
    by_import = importlib.import_module(f"keras_seq2seq.tfa.seq2seq.{module}")
    for name in TFA_MODULES[module]:
        assert getattr(by_attribute, name) is getattr(tfa.seq2seq, name)
        assert getattr(by_import, name) is getattr(tfa.seq2seq, name)


def books_model():
    # The program as the book writes it (`tf.keras` read `keras`): target
    # sequences of any length, `keras.Input(shape=[None])`.
    encoder_inputs = keras.Input(shape=[None], dtype="int32")
    decoder_inputs = keras.Input(shape=[None], dtype="int32")
    sequence_lengths = keras.Input(shape=[], dtype="int32")
    embeddings = keras.layers.Embedding(V, E)
    encoder = keras.layers.LSTM(C, return_state=True)
    _, state_h, state_c = encoder(embeddings(encoder_inputs))
    sampler = tfa.seq2seq.sampler.TrainingSampler()
    decoder_cell = keras.layers.LSTMCell(C)
    output_layer = keras.layers.Dense(V)
    decoder = tfa.seq2seq.basic_decoder.BasicDecoder(
        decoder_cell, sampler, output_layer=output_layer
    )
    final_outputs, _, _ = decoder(
        embeddings(decoder_inputs),
        initial_state=[state_h, state_c],
        sequence_length=sequence_lengths,
    )
    assert tuple(final_outputs.rnn_output.shape) == (None, None, V)
    y_proba = keras.ops.softmax(final_outputs.rnn_output)
    model = keras.Model(
        inputs=[encoder_inputs, decoder_inputs, sequence_lengths],
        outputs=[y_proba],
    )
    return model, embeddings, encoder, decoder


def books_data(steps):
    rng = np.random.default_rng(3)
    x = rng.integers(0, V, size=(4, TS))
    y = rng.integers(0, V, size=(4, steps))
    x_decoder = np.c_[np.zeros((4, 1), "int64"), y[:, :-1]]
    lengths = np.array([steps, 1, steps - 1, 2])
    return [x, x_decoder, lengths], y


def test_the_books_functional_basic_decoder_predicts_the_decoders_steps():
    # Building the model traced the decoder on a time axis of unknown
    # length, and raised "pass `maximum_iterations`".
    model, embeddings, encoder, decoder = books_model()
    inputs, _ = books_data(4)
    probabilities = model.predict(inputs, verbose=0)
    _, h, c = encoder(embeddings(inputs[0]))
    eager, _, lengths = decoder(
        embeddings(inputs[1]), initial_state=[h, c], sequence_length=inputs[2]
    )
    assert probabilities.shape == (4, 4, V)
    np.testing.assert_allclose(
        probabilities,
        ops.convert_to_numpy(ops.softmax(eager.rnn_output)),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(lengths), inputs[2])


def test_the_books_functional_basic_decoder_trains():
    # On torch, Keras runs the model on tensors of ones before the first
    # step (a `sequence_length` of 1 everywhere): the decoder stopped after
    # one step and the loss refused the (4, 1, V) outputs.
    model, _, _, decoder = books_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    inputs, y = books_data(3)
    before = [w.copy() for w in decoder.get_weights()]
    model.fit(inputs, y, batch_size=4, verbose=0)
    after = decoder.get_weights()
    assert all(
        not np.array_equal(a, b) for a, b in zip(after, before, strict=True)
    )


# --- `gather_tree_from_array(t, parent_ids, sequence_length)`: TFA's
# public function (it reorders a beam search's stacked `TensorArray`s) was
# missing. TFA backtracks each final beam's slots with `gather_tree` and
# keeps a beam's own slot at the steps past its length.


def reference_gather_tree_from_array(t, parent_ids, lengths):
    steps, batch_size, k = parent_ids.shape
    grouped = t.reshape(steps, batch_size, k, -1)
    ordered = grouped.copy()
    for b, j in np.ndindex(batch_size, k):
        # The slots of final beam j, backtracked from the batch's longest.
        path = [j] * steps
        for step in reversed(range(lengths[b].max() - 1)):
            path[step] = parent_ids[step + 1, b, path[step + 1]]
        for step in range(lengths[b, j]):
            ordered[step, b, j] = grouped[step, b, path[step]]
    return ordered.reshape(t.shape)


@pytest.mark.parametrize("merged", [True, False], ids=["BK", "B_K"])
def test_gather_tree_from_array_follows_the_backtracked_slots(merged):
    steps, batch_size, depth = 5, 2, 3
    rng = np.random.default_rng(4)
    parent_ids = rng.integers(0, K, size=(steps, batch_size, K)).astype("int32")
    lengths = np.array([[5, 2, 4], [1, 3, 3]], "int32")
    shape = (
        (steps, batch_size * K, depth)
        if merged
        else (steps, batch_size, K, depth)
    )
    t = rng.normal(size=shape).astype("float32")
    got = tfa.seq2seq.gather_tree_from_array(t, parent_ids, lengths)
    assert tuple(got.shape) == shape
    np.testing.assert_array_equal(
        ops.convert_to_numpy(got),
        reference_gather_tree_from_array(t, parent_ids, lengths),
    )


# --- Bad input that TFA refuses with a message (or that gave a backend's
# broadcasting error here, or silently ran with rows that do not exist):
# each raises one clear error naming the argument.


def memory():
    return normal(5, B, TS, C)


def attention_cell():
    mechanism = tfa.seq2seq.LuongAttention(C, memory(), [TS, 2])
    return tfa.seq2seq.AttentionWrapper(keras.layers.GRUCell(C), mechanism)


def training_decoder():
    return tfa.seq2seq.BasicDecoder(
        keras.layers.GRUCell(C), tfa.seq2seq.TrainingSampler()
    )


def greedy_decoder():
    return tfa.seq2seq.BasicDecoder(
        keras.layers.GRUCell(C),
        tfa.seq2seq.GreedyEmbeddingSampler(),
        output_layer=keras.layers.Dense(V),
        maximum_iterations=3,
    )


BAD_INPUTS = {
    # TFA: "memory_sequence_length and memory tensor batch sizes do not
    # match."
    "memory_lengths_of_another_batch": (
        lambda: tfa.seq2seq.BahdanauAttention(
            3, memory(), memory_sequence_length=[TS, 2, 1]
        ),
        ValueError,
        "memory_sequence_length and memory tensor batch sizes do not match",
    ),
    "memory_lengths_not_a_vector": (
        lambda: tfa.seq2seq.BahdanauAttention(
            3, memory(), memory_sequence_length=[[TS], [2]]
        ),
        ValueError,
        "memory_sequence_length must be a vector",
    ),
    # TFA's op: "step_ids.shape must match parent_ids.shape".
    "gather_tree_shapes": (
        lambda: tfa.seq2seq.gather_tree(
            np.zeros((4, B, K), "int32"),
            np.zeros((4, B, K + 1), "int32"),
            [4, 4],
            1,
        ),
        ValueError,
        "step_ids.shape must match parent_ids.shape",
    ),
    "gather_tree_lengths": (
        lambda: tfa.seq2seq.gather_tree(
            np.zeros((4, B, K), "int32"),
            np.zeros((4, B, K), "int32"),
            [4, 4, 4],
            1,
        ),
        ValueError,
        "max_sequence_lengths",
    ),
    # Three lengths for two rows ran, and returned three lengths.
    "sequence_length_of_another_batch": (
        lambda: training_decoder()(
            normal(6, B, 3, E),
            initial_state=np.zeros((B, C), "float32"),
            sequence_length=[3, 2, 1],
        ),
        ValueError,
        "sequence_length has 3 rows, the inputs 2",
    ),
    # TFA: "Expected state to be instance of AttentionWrapperState or
    # values that can construct AttentionWrapperState."
    "cell_state_for_the_wrapper": (
        lambda: attention_cell()(
            np.ones((B, E), "float32"), np.zeros((B, C), "float32")
        ),
        TypeError,
        "Expected state to be instance of AttentionWrapperState",
    ),
    "greedy_without_end_token": (
        lambda: greedy_decoder()(
            normal(7, V, E),
            initial_state=np.zeros((B, C), "float32"),
            start_tokens=[0, 0],
        ),
        ValueError,
        "`end_token` is required",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_one_clear_error(case):
    program, error, match = BAD_INPUTS[case]
    with pytest.raises(error, match=match):
        program()


# --- A Keras mask on a decoder's inputs: TFA on Keras 2 handed it to the
# sampler (`TrainingSampler.initialize(mask=...)`), so the rows' lengths
# came from `Embedding(mask_zero=True)`.


def masked_ids():
    ids = np.array([[3, 4, 5, 6, 0], [6, 7, 0, 0, 0]], "int32")
    return ids, np.array([4, 2], "int32")


def test_a_keras_mask_on_the_inputs_gives_the_sampler_its_lengths():
    ids, lengths = masked_ids()
    embedding = keras.layers.Embedding(9, 4, mask_zero=True)
    decoder = tfa.BasicDecoder(
        keras.layers.GRUCell(5),
        tfa.TrainingSampler(),
        output_layer=keras.layers.Dense(9),
        impute_finished=True,
    )
    initial = ops.zeros((2, 5))
    masked = decoder(embedding(ids), initial_state=initial)
    plain = embedding(ids)  # the same values; drop the mask by a copy
    given = decoder(
        ops.add(plain, 0.0), initial_state=initial, sequence_length=lengths
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(masked[2]), lengths)
    for got, want in zip(
        keras.tree.flatten(masked), keras.tree.flatten(given), strict=True
    ):
        np.testing.assert_allclose(
            ops.convert_to_numpy(got), ops.convert_to_numpy(want), atol=1e-6
        )
    # In a functional model too, where Keras hands the mask to the layer.
    inputs = keras.Input((None,), dtype="int32")
    state = keras.Input((5,))
    outputs, _, model_lengths = decoder(embedding(inputs), initial_state=state)
    model = keras.Model([inputs, state], [outputs.rnn_output, model_lengths])
    logits, got_lengths = model.predict([ids, np.zeros((2, 5))], verbose=0)
    np.testing.assert_array_equal(got_lengths, lengths)
    # Compiled, the loop runs the inputs' 5 steps: the last one, after every
    # row has ended, emits zeros (`impute_finished`).
    want = ops.convert_to_numpy(given[0].rnn_output)
    np.testing.assert_allclose(logits[:, :4], want, atol=1e-5)
    assert not logits[:, 4:].any()
