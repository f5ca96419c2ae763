"""The native API as Keras users write it: shapes, masks and models that
the other tests do not use (unknown lengths, odd sizes, user containers)."""

import keras
import numpy as np
import pytest
from keras import ops

from helpers import assert_all_close, to_numpy
from keras_seq2seq import (
    BahdanauMonotonicAttention,
    LuongMonotonicAttention,
    MaskedTokenAccuracy,
    Seq2Seq,
    SequenceLoss,
    tile_batch,
)
from keras_seq2seq.decoding import beam_search, greedy_search

B, TQ, TV, HQ = 2, 3, 5, 4


@pytest.mark.parametrize(
    "factory",
    [
        lambda: BahdanauMonotonicAttention(3, mode="recursive"),
        lambda: LuongMonotonicAttention(mode="recursive"),
    ],
    ids=["bahdanau", "luong"],
)
def test_recursive_monotonic_takes_an_unknown_source_length(factory):
    # `keras.Input((None,))` leaves Tv unknown while the model is traced.
    source = keras.Input((None,), dtype="int32")
    query = keras.Input((None, HQ))
    embedded = keras.layers.Embedding(9, 6, mask_zero=True)(source)
    layer = factory()
    outputs = layer(query, embedded)
    model = keras.Model([source, query], outputs)
    rng = np.random.default_rng(5)
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 1, 2]])
    queries = rng.normal(size=(B, TQ, HQ)).astype("float32")
    context, weights = to_numpy(model([ids, queries]))
    assert weights.shape == (B, TQ, TV)
    assert np.all(weights[0, :, 3:] == 0)  # padded source steps
    embedding = model.layers[2]
    expected = layer(queries, embedding(ids), value_mask=ids != 0)
    assert_all_close([context, weights], to_numpy(expected))


# A step function whose best path from bos (1) spells 3, 4, eos (0).
TABLE = np.full((5, 5), 0.025, "float32")
for _previous, _next in [(1, 3), (3, 4), (4, 0), (0, 0), (2, 2)]:
    TABLE[_previous, _next] = 0.9
LOG_TABLE = np.log(TABLE / TABLE.sum(axis=1, keepdims=True))


def table_step(token_ids, state):
    log_probs = ops.take(LOG_TABLE, token_ids, axis=0)
    return log_probs, state, ops.ones((ops.shape(token_ids)[0], 2))


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_searches_take_numpy_integer_sizes(search):
    # Sizes computed with NumPy (`lengths.max() + 2`) are np.int64.
    lengths = np.array([1, 2])
    options = dict(bos_id=1, eos_id=0, max_length=lengths.max() + 2)
    state = {"h": np.zeros((B, 3), "float32")}
    if search == "greedy":
        ids = greedy_search(table_step, state, **options)["ids"]
    else:
        ids = beam_search(table_step, state, beam_size=np.int64(2), **options)[
            "ids"
        ][:, 0]
    assert ops.convert_to_numpy(ids).tolist() == [[3, 4, 0, 0]] * B
    tiled = tile_batch(np.arange(B), np.int64(2))
    assert ops.convert_to_numpy(tiled).tolist() == [0, 0, 1, 1]


def test_a_step_function_returning_two_values_gets_a_clear_error():
    def two_values(token_ids, state):
        return table_step(token_ids, state)[:2]

    with pytest.raises(ValueError, match="must return three values"):
        greedy_search(two_values, np.zeros((B, 1)), 1, 0, max_length=3)


SMALL = dict(
    source_vocab_size=12,
    target_vocab_size=10,
    embedding_dim=4,
    encoder_units=3,
    decoder_units=6,
    attention_units=3,
    attention_layer_size=5,
)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(encoder_layers=0), "encoder_layers"),
        (dict(eos_id=10), "eos_id"),  # == target_vocab_size
        (dict(bos_id=-1), "bos_id"),
        (dict(pad_id=None), "pad_id"),
    ],
)
def test_seq2seq_rejects_sizes_and_ids_it_cannot_use(bad, match):
    with pytest.raises(ValueError, match=f"`{match}` must be an int"):
        Seq2Seq(**SMALL, **bad)


def test_seq2seq_dtype_reaches_its_layers_and_survives_save(tmp_path):
    model = Seq2Seq(**SMALL, dtype="mixed_float16")
    source = np.array([[3, 4, 5, 0], [6, 0, 0, 0]])
    target_in = np.array([[1, 3, 4], [1, 0, 0]])
    logits = model((source, target_in))
    assert keras.backend.standardize_dtype(logits.dtype) == "float16"
    assert model.decoder.step.cell.compute_dtype == "float16"
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.dtype_policy.name == "mixed_float16"
    assert_all_close(to_numpy(loaded((source, target_in))), to_numpy(logits))


def test_masked_token_accuracy_reads_the_keras_mask_of_predictions():
    # pad_id=None: only the Keras mask from `Embedding(mask_zero=True)`
    # says which steps are padding, as for Keras' own metrics.
    ids = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(5, 3, mask_zero=True)(ids)
    logits = keras.layers.Dense(5)(embedded)
    model = keras.Model(ids, logits)
    y = np.array([[3, 1, 0, 0], [2, 4, 4, 0], [1, 0, 0, 0]])
    model.compile(loss=SequenceLoss(), metrics=[MaskedTokenAccuracy(None)])
    result = model.evaluate(y, y, verbose=0, return_dict=True)
    predicted = ops.convert_to_numpy(model(y)).argmax(-1)
    real = y != 0
    expected = np.sum((predicted == y) & real) / np.sum(real)
    assert abs(result["masked_token_accuracy"] - expected) < 1e-6


def test_masked_token_accuracy_takes_ids_with_a_trailing_axis():
    y = np.array([[3, 1, 0], [2, 4, 4]])
    logits = np.eye(5, dtype="float32")[[[3, 2, 1], [2, 4, 0]]]
    metric = MaskedTokenAccuracy(pad_id=0)
    metric.update_state(y[..., None], logits)  # (B, T, 1), as Keras feeds
    assert abs(float(metric.result()) - 3 / 5) < 1e-6


def test_seq2seq_refuses_a_loss_on_probabilities():
    # The model outputs logits: such a loss trains on wrong numbers.
    rng = np.random.default_rng(0)
    x = (rng.integers(3, 12, (4, 5)), rng.integers(3, 10, (4, 6)))
    y = rng.integers(3, 10, (4, 6))
    model = Seq2Seq(**SMALL)
    for loss in (
        "sparse_categorical_crossentropy",
        keras.losses.CategoricalCrossentropy(),
    ):
        model.compile(optimizer="adam", loss=loss)
        with pytest.raises(ValueError, match="from_logits=True"):
            model.train_on_batch(x, y)
        with pytest.raises(ValueError, match="from_logits=True"):
            model.evaluate(x, y, verbose=0)
    # The same model, compiled again as a notebook user would, trains (after
    # both refusals: one compiled training step instead of one per loss).
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert np.isfinite(model.fit(x, y, verbose=0).history["loss"][0])
