"""Decoding a model built from the layers in a functional model (README).

The README's functional model trains teacher-forced through
`AttentionDecoder`; translating with it goes through the same layers:
`decoder.step` (the `AttentionRNNCell`), the target embedding and the output
layer make the step function of the searches. Checked here: what the searches
choose is what the functional model itself scores, step by step.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq import AttentionDecoder, BahdanauAttention, LuongAttention
from keras_seq2seq.decoding import (
    attention_step,
    beam_search,
    compiled,
    greedy_search,
    sample,
)

VOCAB = 23
BOS, EOS = 1, 2
MAX_LENGTH = 7


def build(cell, attention, query_order):
    """The README's functional model, its layers kept by name."""
    source = keras.Input((None,), dtype="int32")
    target_in = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 8, mask_zero=True)(source)
    rnn = keras.layers.LSTM if cell == "lstm" else keras.layers.GRU
    memory, *state = rnn(12, return_sequences=True, return_state=True)(x)
    target_embedding = keras.layers.Embedding(VOCAB, 8, mask_zero=True)
    decoder = AttentionDecoder(
        keras.layers.LSTMCell(12)
        if cell == "lstm"
        else keras.layers.GRUCell(12),
        attention,
        query_order=query_order,
        attention_layer_size=10,
    )
    outputs = decoder(target_embedding(target_in), memory, initial_state=state)
    # A wide initial scale keeps the argmax clear of float rounding.
    output_layer = keras.layers.Dense(
        VOCAB, kernel_initializer=keras.initializers.RandomNormal(stddev=2.0)
    )
    model = keras.Model([source, target_in], output_layer(outputs))
    # Never emit the padding id 0: fed back to the functional model, it
    # would be masked (skipped), to the step function not.
    kernel, bias = output_layer.get_weights()
    output_layer.set_weights([kernel, bias - 50.0 * (np.arange(VOCAB) == 0)])
    encoder = keras.Model(source, [memory, *state])
    return model, encoder, decoder, target_embedding, output_layer


def source_batch():
    rng = np.random.default_rng(3)
    ids = rng.integers(3, VOCAB, (4, 6)).astype("int32")
    ids[1, 4:] = 0  # padded
    ids[3, 2:] = 0
    return ids


def search_inputs(encoder, decoder, target_embedding, output_layer, ids):
    values, *state = encoder(ids)
    cell = decoder.step
    memory = cell.prepare(values, value_mask=ops.not_equal(ids, 0))
    step = attention_step(cell, output_layer, target_embedding)
    return step, cell.get_initial_state(memory, state), memory


def searchable_model(seed, cell, attention, order):
    """The model, a source batch, and the searches' inputs for it."""
    keras.utils.set_random_seed(seed)
    model, *layers = build(cell, attention, order)
    ids = source_batch()
    return model, ids, search_inputs(*layers, ids)


def teacher_forced_log_probs(model, ids, tokens):
    """log p of every next token, from the functional model itself."""
    target_in = np.concatenate(
        [np.full((len(tokens), 1), BOS, "int32"), tokens[:, :-1]], axis=1
    )
    logits = model.predict([ids, target_in], verbose=0)
    return ops.convert_to_numpy(ops.log_softmax(logits))


MODELS = [
    ("gru", BahdanauAttention(6), "bahdanau"),
    ("lstm", LuongAttention(), "luong"),
]


@pytest.mark.parametrize(("cell", "attention", "order"), MODELS)
def test_greedy_search_takes_the_functional_models_argmax(
    cell, attention, order
):
    model, ids, (step, state, memory) = searchable_model(
        0, cell, attention, order
    )
    result = greedy_search(
        step, state, BOS, EOS, MAX_LENGTH, stop_early=False, constants=memory
    )
    tokens = ops.convert_to_numpy(result["ids"])
    log_probs = teacher_forced_log_probs(model, ids, tokens)
    lengths = ops.convert_to_numpy(result["lengths"])
    chosen = np.take_along_axis(log_probs, tokens[..., None], -1)[..., 0]
    for row, length in enumerate(lengths):
        real = slice(0, length)
        # Each token is the model's most probable one (ties aside) ...
        np.testing.assert_allclose(
            chosen[row, real], log_probs[row, real].max(-1), atol=1e-5
        )
    # ... and the score is what the model gives the whole sequence.
    expected = [
        chosen[row, :length].sum() for row, length in enumerate(lengths)
    ]
    np.testing.assert_allclose(
        ops.convert_to_numpy(result["scores"]), expected, atol=1e-4
    )


@pytest.mark.parametrize(("cell", "attention", "order"), MODELS)
def test_beam_search_hypotheses_are_scored_as_the_model_scores_them(
    cell, attention, order
):
    model, ids, (step, state, memory) = searchable_model(
        1, cell, attention, order
    )
    search = compiled(beam_search)
    result = search(
        step, state, BOS, EOS, MAX_LENGTH, 3, n_best=3, constants=memory
    )
    tokens = ops.convert_to_numpy(result["ids"])  # (B, 3, T)
    lengths = ops.convert_to_numpy(result["lengths"])
    log_probs = teacher_forced_log_probs(
        model, np.repeat(ids, 3, axis=0), tokens.reshape(-1, MAX_LENGTH)
    )
    chosen = np.take_along_axis(
        log_probs, tokens.reshape(-1, MAX_LENGTH, 1), -1
    )[..., 0].reshape(4, 3, MAX_LENGTH)
    expected = [
        [chosen[b, k, : lengths[b, k]].sum() for k in range(3)]
        for b in range(4)
    ]
    np.testing.assert_allclose(
        ops.convert_to_numpy(result["log_probs"]), expected, atol=1e-4
    )
    greedy = greedy_search(step, state, BOS, EOS, MAX_LENGTH, constants=memory)
    best = ops.convert_to_numpy(result["log_probs"])[:, 0]
    assert np.all(best >= ops.convert_to_numpy(greedy["scores"]) - 1e-5)


def test_more_padding_changes_no_search_result():
    keras.utils.set_random_seed(2)
    _, *layers = build("gru", BahdanauAttention(6), "bahdanau")
    ids = source_batch()
    wider = np.concatenate([ids, np.zeros((4, 5), "int32")], axis=1)
    results = []
    for source in (ids, wider):
        step, state, memory = search_inputs(*layers, source)
        results.append(
            beam_search(step, state, BOS, EOS, MAX_LENGTH, 2, constants=memory)
        )
    narrow, wide = (
        {k: ops.convert_to_numpy(v) for k, v in r.items()} for r in results
    )
    np.testing.assert_array_equal(narrow["ids"], wide["ids"])
    np.testing.assert_allclose(narrow["scores"], wide["scores"], atol=1e-5)
    np.testing.assert_allclose(
        narrow["weights"], wide["weights"][..., :6], atol=1e-6
    )
    assert np.all(wide["weights"][..., 6:] == 0)
    assert np.all(wide["weights"][1, ..., 4:] == 0)


def test_sampling_draws_sequences_of_the_vocabulary():
    keras.utils.set_random_seed(4)
    _, *layers = build("lstm", LuongAttention(), "luong")
    ids = source_batch()
    step, state, memory = search_inputs(*layers, ids)
    result = sample(
        step, state, BOS, EOS, MAX_LENGTH, top_k=5, seed=7, constants=memory
    )
    tokens = ops.convert_to_numpy(result["ids"])
    assert tokens.shape == (4, MAX_LENGTH)
    assert tokens.min() >= 0 and tokens.max() < VOCAB
