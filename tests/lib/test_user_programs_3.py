"""Programs Keras users write that the other audits did not: a dtype
policy given to one layer only, and the like."""

import keras
import numpy as np
import pytest
from keras import ops

from helpers import to_numpy
from keras_seq2seq import (
    AttentionDecoder,
    BahdanauAttention,
    BahdanauMonotonicAttention,
    LuongMonotonicAttention,
    SequenceLoss,
)

B, TT, TS, E, DV = 2, 3, 4, 5, 6
LENGTHS = np.array([TS, 2])


def decoder_inputs(seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(B, TT, E)).astype("float32")
    value = rng.normal(size=(B, TS, DV)).astype("float32")
    value_mask = np.arange(TS)[None] < LENGTHS[:, None]
    return inputs, value, value_mask


CELLS = {
    "gru_dropout": lambda: keras.layers.GRUCell(
        8, dropout=0.2, recurrent_dropout=0.2
    ),
    "stacked_lstm": lambda: keras.layers.StackedRNNCells(
        [keras.layers.LSTMCell(8), keras.layers.LSTMCell(8)]
    ),
}


@pytest.mark.parametrize(
    "cell, query_order, attention_layer_size",
    [
        ("gru_dropout", "luong", None),
        ("gru_dropout", "bahdanau", 7),
        ("stacked_lstm", "luong", 7),
        ("stacked_lstm", "bahdanau", None),
    ],
)
def test_decoder_policy_given_to_the_decoder_alone(
    cell, query_order, attention_layer_size
):
    # `keras.layers.RNN(cell, dtype="mixed_float16")` runs a cell built
    # with the default policy in float16; so must the decoder.
    def decoder(dtype):
        return AttentionDecoder(
            CELLS[cell](),
            BahdanauAttention(3, normalize=True),
            query_order=query_order,
            attention_layer_size=attention_layer_size,
            return_weights=True,
            return_state=True,
            dtype=dtype,
        )

    inputs, value, value_mask = decoder_inputs()
    mixed, full = decoder("mixed_float16"), decoder("float32")
    want = to_numpy(full(inputs, value, value_mask=value_mask))
    mixed(inputs, value, value_mask=value_mask)
    mixed.set_weights(full.get_weights())
    assert {v.dtype for v in mixed.weights} == {"float32"}
    for training in (False, True):
        got = mixed(inputs, value, value_mask=value_mask, training=training)
        assert {keras.backend.standardize_dtype(x.dtype) for x in got} == {
            "float16"
        }
    got = to_numpy(mixed(inputs, value, value_mask=value_mask))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.astype("float32"), w, atol=2e-2)
    weights = got[1]
    assert np.all(weights[1, :, LENGTHS[1] :] == 0)


def functional_model_with_a_decoder_in(policy):
    """A float32 functional model whose `AttentionDecoder` alone has the
    dtype `policy`, and its data `((source_ids, target_ids), target_ids)`.
    Also `bench/float16_probe.py`'s model (NaN on one GPU on JAX)."""
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(9, E, mask_zero=True)(source)
    memory, state = keras.layers.GRU(
        8, return_sequences=True, return_state=True
    )(x)
    embedded = keras.layers.Embedding(9, E, mask_zero=True)(target)
    outputs = AttentionDecoder(
        keras.layers.GRUCell(8),
        BahdanauAttention(3),
        attention_layer_size=8,
        dtype=policy,
    )(embedded, memory, initial_state=state)
    model = keras.Model([source, target], keras.layers.Dense(9)(outputs))
    rng = np.random.default_rng(0)
    source_ids = rng.integers(1, 9, (4, TS)) * (np.arange(TS) < 3)
    target_ids = rng.integers(1, 9, (4, TT))
    return model, ((source_ids, target_ids), target_ids)


def test_functional_model_with_a_mixed_decoder_trains():
    model, ((source_ids, target_ids), _) = functional_model_with_a_decoder_in(
        "mixed_float16"
    )
    model.compile(
        "adam", SequenceLoss(), jit_compile=keras.backend.backend() != "torch"
    )
    history = model.fit(
        [source_ids, target_ids], target_ids, epochs=2, verbose=0
    )
    assert np.all(np.isfinite(history.history["loss"]))
    logits = model.predict([source_ids, target_ids], verbose=0)
    assert logits.shape == (4, TT, 9) and np.all(np.isfinite(logits))


def fit_and_predict(model, x, y):
    """One compiled fit step (XLA on TensorFlow, jit on JAX), then the
    compiled `predict` against an eager call."""
    model.compile("sgd", "mse", jit_compile=keras.backend.backend() != "torch")
    history = model.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    want = ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-5)


@pytest.mark.parametrize(
    "attention",
    [
        lambda: BahdanauMonotonicAttention(3, normalize=True),
        lambda: LuongMonotonicAttention(mode="recursive"),
    ],
    ids=["bahdanau_parallel", "luong_recursive"],
)
def test_monotonic_attention_over_query_sequence_trains_compiled(attention):
    # A query sequence scans the alignments over Tq (and a recursive mode
    # over Tv): TensorFlow's XLA must get loops of fixed length.
    _, value, _ = decoder_inputs()
    queries = np.flip(value, axis=1)[:, :TT]  # (B, TT, DV)
    query = keras.Input((None, DV))
    memory = keras.Input((None, DV))
    context, _ = attention()(query, memory)
    model = keras.Model([query, memory], context)
    fit_and_predict(model, [queries, value], value[:, :TT])


@pytest.mark.parametrize("query_order", ["luong", "bahdanau"])
def test_recursive_monotonic_decoder_trains_compiled(query_order):
    inputs, value, _ = decoder_inputs()
    target = keras.Input((None, E))
    memory = keras.Input((None, DV))
    outputs = AttentionDecoder(
        keras.layers.GRUCell(4),
        BahdanauMonotonicAttention(3, mode="recursive"),
        query_order=query_order,
    )(target, memory)
    model = keras.Model([target, memory], outputs)
    fit_and_predict(model, [inputs, value], np.zeros((B, TT, DV)))


def test_sigmoid_noise_in_decoder_applies_while_training_or_raises_on_jax():
    inputs, value, value_mask = decoder_inputs()
    decoder = AttentionDecoder(
        keras.layers.GRUCell(4),
        BahdanauMonotonicAttention(3, sigmoid_noise=1.0),
        return_weights=True,
    )
    quiet = to_numpy(decoder(inputs, value, value_mask=value_mask))
    again = to_numpy(decoder(inputs, value, value_mask=value_mask))
    for a, q in zip(again, quiet, strict=True):
        np.testing.assert_array_equal(a, q)
    if keras.backend.backend() == "jax":
        with pytest.raises(ValueError, match="sigmoid_noise=1.0"):
            decoder(inputs, value, value_mask=value_mask, training=True)
        return
    noisy = to_numpy(
        decoder(inputs, value, value_mask=value_mask, training=True)
    )
    assert not np.allclose(noisy[1], quiet[1])
    assert np.all(noisy[1][1, :, LENGTHS[1] :] == 0)
