"""`Seq2Seq.compute_loss`: padding weighs nothing, whatever loss is compiled."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq import SequenceLoss
from keras_seq2seq.models import Seq2Seq

B, T, V = 3, 5, 7


def model_and_batch(loss):
    model = Seq2Seq(
        source_vocab_size=V,
        target_vocab_size=V,
        embedding_dim=4,
        encoder_units=3,
        decoder_units=4,
        attention_units=3,
    )
    model.compile(optimizer="sgd", loss=loss)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(B, T, V)).astype("float32")
    labels = rng.integers(3, V, size=(B, T)).astype("int32")
    labels[1, 3:] = 0  # padding
    labels[2, 1:] = 0
    return model, labels, logits


def per_token_loss(labels, logits):
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]


@pytest.mark.parametrize("row_weights", [None, [2.0, 0.5, 1.0]])
def test_loss_is_the_masked_token_mean(row_weights):
    model, labels, logits = model_and_batch(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    weights = (labels != 0).astype("float32")
    sample_weight = None
    if row_weights is not None:
        sample_weight = np.array(row_weights, "float32")  # one per sentence
        weights = weights * sample_weight[:, None]
    loss = model.compute_loss(
        y=labels,
        y_pred=ops.convert_to_tensor(logits),
        sample_weight=sample_weight,
    )
    # Keras' masked "sum_over_batch_size", as in a functional model: the
    # weighted sum over the real tokens, over their count.
    real = (labels != 0).sum()
    want = (per_token_loss(labels, logits) * weights).sum() / real
    np.testing.assert_allclose(ops.convert_to_numpy(loss), want, rtol=1e-5)


def test_a_sequence_loss_sees_the_whole_batch():
    # A loss that is not per token gets its (B, T, V) input, padding masked.
    model, labels, logits = model_and_batch(SequenceLoss())
    loss = model.compute_loss(y=labels, y_pred=ops.convert_to_tensor(logits))
    real = labels != 0
    want = per_token_loss(labels, logits)[real].sum() / real.sum()
    np.testing.assert_allclose(ops.convert_to_numpy(loss), want, rtol=1e-5)


@pytest.mark.parametrize("padding_rows", ["one_hot", "zeros"])
def test_one_hot_targets_take_the_mean_over_their_real_tokens(padding_rows):
    # Keras' CategoricalCrossentropy (label smoothing needs distributions)
    # reads (B, T, V) rows; padded steps, one-hot at pad_id or all zeros,
    # count for nothing, as the ids' padding does.
    model, labels, logits = model_and_batch(
        keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    one_hot = np.eye(V, dtype="float32")[labels]
    if padding_rows == "zeros":
        one_hot[labels == 0] = 0.0
    loss = model.compute_loss(y=one_hot, y_pred=ops.convert_to_tensor(logits))
    real = labels != 0
    want = per_token_loss(labels, logits)[real].sum() / real.sum()
    np.testing.assert_allclose(ops.convert_to_numpy(loss), want, rtol=1e-5)


def test_one_hot_targets_of_another_vocabulary_are_refused():
    model, labels, logits = model_and_batch(
        keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    one_hot = np.eye(V + 1, dtype="float32")[labels]
    with pytest.raises(ValueError, match="target_vocab_size"):
        model.compute_loss(y=one_hot, y_pred=ops.convert_to_tensor(logits))


def test_a_summed_loss_is_the_sum_over_the_real_tokens():
    # reduction="sum": no mean to take, padding still weighs nothing.
    model, labels, logits = model_and_batch(
        keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="sum"
        )
    )
    loss = model.compute_loss(y=labels, y_pred=ops.convert_to_tensor(logits))
    want = per_token_loss(labels, logits)[labels != 0].sum()
    np.testing.assert_allclose(ops.convert_to_numpy(loss), want, rtol=1e-5)


@pytest.fixture(scope="module")
def compiled_with_metrics():
    """A model compiled with both kinds of metrics, its inputs and its
    argmax predictions: the tests below only evaluate it."""
    keras.utils.set_random_seed(0)  # before the autouse seeding
    model, padded, _ = model_and_batch(None)
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy("plain")],
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy("real")],
    )
    rng = np.random.default_rng(1)
    inputs = (
        rng.integers(3, V, size=(B, 4)).astype("int32"),
        rng.integers(1, V, size=(B, T)).astype("int32"),
    )
    predicted = ops.convert_to_numpy(model.predict(inputs, verbose=0))
    return model, padded, inputs, predicted.argmax(-1)


@pytest.mark.parametrize("rows", [None, [2.0, 0.5, 1.0]])
def test_compiled_metrics_count_real_target_tokens_only(
    rows, compiled_with_metrics
):
    # As the loss: padded targets count in neither `metrics` nor
    # `weighted_metrics` (which also take the sentences' weights).
    model, padded, inputs, predicted = compiled_with_metrics
    # Every other real token is the model's choice: some hits, some misses
    # (never the pad id 0, which would make the position padding).
    miss = 1 + predicted % (V - 1)
    hit = np.where(predicted != 0, predicted, miss)
    labels = np.where(np.arange(T) % 2 == 0, hit, miss)
    real = padded != 0
    labels = np.where(real, labels, 0).astype("int32")
    sample_weight = None if rows is None else np.array(rows, "float32")
    result = model.evaluate(
        inputs, labels, sample_weight=sample_weight, verbose=0, return_dict=True
    )
    hits = (predicted == labels).astype("float64")
    weights = real * (1.0 if rows is None else np.array(rows)[:, None])
    assert 0 < (hits * weights).sum() < weights.sum()
    want = (hits * weights).sum() / weights.sum()
    assert want != hits.mean()
    np.testing.assert_allclose(result["real"], want, rtol=1e-6)
    plain = (hits * real).sum() / real.sum()
    np.testing.assert_allclose(result["plain"], plain, rtol=1e-6)
