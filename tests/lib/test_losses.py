"""`sequence_loss`, `SequenceLoss` and `MaskedTokenAccuracy`.

TFA parity on the fixtures, a NumPy reference for label smoothing and
accuracy, and training with padding through `model.compile` / `fit`.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq.losses import SequenceLoss, sequence_loss
from keras_seq2seq.metrics import MaskedTokenAccuracy
from shared_data import assert_outputs, case_ids, load_case

FLAGS = (
    "average_across_timesteps",
    "average_across_batch",
    "sum_over_timesteps",
    "sum_over_batch",
)
# Every average flag with every sum flag: TFA rejects them all.
ILLEGAL = [
    {"average_across_timesteps": True, "sum_over_timesteps": True},
    {"average_across_batch": True, "sum_over_batch": True},
    {"average_across_batch": True, "sum_over_timesteps": True},
    {"average_across_timesteps": True, "sum_over_batch": True},
]


def numpy_token_loss(logits, targets, label_smoothing=0.0):
    """`(B, T)` smoothed cross-entropy in float64: the target distribution
    is `(1 - e) * one_hot + e / V`."""
    logits = np.float64(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    vocab = logits.shape[-1]
    one_hot = np.eye(vocab)[targets]
    smoothed = (1 - label_smoothing) * one_hot + label_smoothing / vocab
    return -(smoothed * log_probs).sum(axis=-1)


def numpy_accuracy(logits, targets, pad_id):
    real = targets != pad_id
    hits = (logits.argmax(axis=-1) == targets) & real
    return hits.sum() / real.sum()


def random_batch(rng, batch=3, steps=5, vocab=7, lengths=(5, 2, 1)):
    """Logits `(B, T, V)`, ids in `[1, V)` and `pad_id = 0` past `lengths`."""
    logits = rng.normal(size=(batch, steps, vocab)).astype("float32")
    targets = rng.integers(1, vocab, (batch, steps)).astype("int32")
    real = np.arange(steps)[None, :] < np.array(lengths)[:, None]
    return logits, np.where(real, targets, 0), real


def to_numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("cid", case_ids("loss"))
def test_loss_matches_tfa(cid):
    case, a = load_case(cid)
    if case["name"] == "SequenceLoss_default":
        loss = SequenceLoss()(
            a["targets"], a["logits"], sample_weight=a["weights"]
        )
    else:
        targets = a.get("soft_targets", a["targets"])
        loss = sequence_loss(a["logits"], targets, a["weights"], **case["args"])
    assert_outputs(case, a, {"loss": to_numpy(loss)})


@pytest.mark.parametrize(
    "cid", case_ids("loss", lambda n: n.startswith("sequence_loss_"))
)
def test_sequence_loss_class_with_the_case_flags_matches_tfa(cid):
    case, a = load_case(cid)
    flags = {name: case["args"].get(name, False) for name in FLAGS}
    targets = a.get("soft_targets", a["targets"])
    loss = SequenceLoss(**flags)(
        targets, a["logits"], sample_weight=a["weights"]
    )
    assert_outputs(case, a, {"loss": to_numpy(loss)})


@pytest.mark.parametrize("flags", ILLEGAL)
def test_an_average_flag_with_a_sum_flag_raises(flags):
    rng = np.random.default_rng(0)
    logits, targets, real = random_batch(rng)
    args = {name: False for name in FLAGS} | flags
    with pytest.raises(ValueError, match="cannot be combined"):
        sequence_loss(logits, targets, np.float32(real), **args)
    with pytest.raises(ValueError, match="cannot be combined"):
        SequenceLoss(**args)


@pytest.mark.parametrize(
    "flags, shape",
    [
        ({"average_across_timesteps": True}, "B"),
        ({"sum_over_timesteps": True}, "B"),
        ({"average_across_timesteps": True, "average_across_batch": True}, ""),
        ({"sum_over_timesteps": True, "sum_over_batch": True}, ""),
    ],
)
def test_all_zero_weights_give_zero_not_nan(flags, shape):
    rng = np.random.default_rng(1)
    logits, targets, _ = random_batch(rng)
    weights = np.ones(targets.shape, "float32")
    weights[1] = 0.0  # one row with no real token
    args = {name: False for name in FLAGS} | flags
    loss = to_numpy(sequence_loss(logits, targets, weights, **args))
    assert np.all(np.isfinite(loss))
    if shape == "B":
        assert loss[1] == 0.0 and np.all(loss[[0, 2]] > 0)
    zero = to_numpy(sequence_loss(logits, targets, 0 * weights, **args))
    np.testing.assert_array_equal(zero, np.zeros_like(zero))


@pytest.mark.parametrize(
    "logits_shape, targets_shape, weights_shape, name",
    [
        ((3, 5), (3, 5), (3, 5), "logits"),
        ((3, 5, 7), (3,), (3, 5), "targets"),
        ((3, 5, 7), (3, 5, 1), (3, 5), "targets"),
        ((3, 5, 7), (3, 5), (3, 5, 1), "weights"),
    ],
)
def test_wrong_ranks_raise_naming_the_argument(
    logits_shape, targets_shape, weights_shape, name
):
    logits = np.zeros(logits_shape, "float32")
    targets = np.zeros(targets_shape, "int32")
    weights = np.ones(weights_shape, "float32")
    with pytest.raises(ValueError, match=f"`{name}`.*Received"):
        sequence_loss(logits, targets, weights)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1, 0.5])
def test_label_smoothing_matches_numpy(label_smoothing):
    rng = np.random.default_rng(2)
    logits, targets, real = random_batch(rng)
    weights = rng.uniform(0.5, 2.0, targets.shape).astype("float32") * real
    token = numpy_token_loss(logits, targets, label_smoothing)
    got = sequence_loss(
        logits, targets, weights, label_smoothing=label_smoothing
    )
    want = (token * weights).sum() / weights.sum()
    np.testing.assert_allclose(to_numpy(got), want, rtol=1e-5)
    per_token = sequence_loss(
        logits,
        targets,
        weights,
        average_across_timesteps=False,
        average_across_batch=False,
        label_smoothing=label_smoothing,
    )
    np.testing.assert_allclose(
        to_numpy(per_token), token * weights, rtol=1e-5, atol=1e-6
    )


def test_label_smoothing_of_ids_equals_smoothed_soft_targets():
    rng = np.random.default_rng(3)
    logits, targets, real = random_batch(rng)
    vocab = logits.shape[-1]
    soft = np.float32(0.8 * np.eye(vocab)[targets] + 0.2 / vocab)
    weights = np.float32(real)
    smoothed = sequence_loss(logits, targets, weights, label_smoothing=0.2)
    from_soft = sequence_loss(logits, soft, weights)
    np.testing.assert_allclose(to_numpy(smoothed), to_numpy(from_soft), 1e-6)


@pytest.mark.parametrize("label_smoothing", [1.0, -0.1, True, "0.1"])
def test_label_smoothing_outside_zero_one_raises(label_smoothing):
    with pytest.raises(ValueError, match="label_smoothing"):
        SequenceLoss(label_smoothing=label_smoothing)


def test_softmax_loss_function_gets_flat_labels_and_logits():
    rng = np.random.default_rng(4)
    logits, targets, real = random_batch(rng)
    batch, steps, vocab = logits.shape
    received = {}

    def label_as_loss(labels, logits):
        received["shapes"] = (tuple(labels.shape), tuple(logits.shape))
        return ops.cast(labels, "float32")

    loss = sequence_loss(
        logits,
        targets,
        np.float32(real),
        average_across_timesteps=False,
        average_across_batch=False,
        softmax_loss_function=label_as_loss,
    )
    assert received["shapes"] == ((batch * steps,), (batch * steps, vocab))
    np.testing.assert_array_equal(to_numpy(loss), targets * real)
    with pytest.raises(ValueError, match="softmax_loss_function"):
        sequence_loss(
            logits,
            targets,
            np.float32(real),
            softmax_loss_function=label_as_loss,
            label_smoothing=0.1,
        )


@pytest.mark.parametrize("flags", [{}, {"average_across_batch": False}])
def test_unknown_ids_are_nan_where_weighted_and_ignored_elsewhere(flags):
    # Every backend alike: PyTorch gave a number, JAX NaN, TensorFlow an
    # error. An unweighted position (padding marked -1) changes nothing.
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 3, 5)).astype("float32")
    ids = np.array([[1, 4, 0], [2, 3, 1]])
    weights = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], "float32")
    want = to_numpy(sequence_loss(logits, ids, weights, **flags))
    for bad in (-1, 5, 1000):
        padded = ids.copy()
        padded[0, 2] = padded[1, 1] = padded[1, 2] = bad
        got = to_numpy(sequence_loss(logits, padded, weights, **flags))
        np.testing.assert_allclose(got, want, rtol=1e-6)
        loss = SequenceLoss()
        np.testing.assert_allclose(
            to_numpy(loss(padded, logits, sample_weight=weights)),
            to_numpy(loss(ids, logits, sample_weight=weights)),
            rtol=1e-6,
        )
        weighted = ids.copy()
        weighted[0, 1] = bad
        got = to_numpy(sequence_loss(logits, weighted, weights, **flags))
        assert np.isnan(np.ravel(got)[0]), (bad, got)
        if flags:  # The other row keeps its loss.
            np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_pad_id_gives_padded_positions_no_weight():
    rng = np.random.default_rng(5)
    logits, targets, real = random_batch(rng)
    loss = SequenceLoss(pad_id=0, label_smoothing=0.1)
    got = loss(targets, logits)
    token = numpy_token_loss(logits, targets, 0.1)
    np.testing.assert_allclose(to_numpy(got), token[real].mean(), rtol=1e-5)
    changed = np.where(real[..., None], logits, 100 * logits)
    np.testing.assert_allclose(
        to_numpy(loss(targets, changed)), to_numpy(got), rtol=1e-6
    )


def test_per_sequence_sample_weight_scales_rows():
    rng = np.random.default_rng(6)
    logits, targets, real = random_batch(rng)
    row_weights = np.array([1.0, 3.0, 0.0], "float32")
    loss = SequenceLoss(
        average_across_timesteps=True,
        sum_over_timesteps=False,
        average_across_batch=True,
        sum_over_batch=False,
        pad_id=0,
    )
    got = loss(targets, logits, sample_weight=row_weights)
    weights = real * row_weights[:, None]
    token = numpy_token_loss(logits, targets)
    want = (token * weights).sum() / weights.sum()
    np.testing.assert_allclose(to_numpy(got), want, rtol=1e-5)


def tagger(vocab, mask_zero=False):
    """Per-position model: ids `(B, T)` -> logits `(B, T, V)`."""
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab, 8, mask_zero=mask_zero)(ids)
    logits = keras.layers.Dense(vocab)(keras.layers.Dense(8, "tanh")(x))
    return keras.Model(ids, logits)


def test_keras_mask_of_y_pred_gives_padded_positions_no_weight():
    rng = np.random.default_rng(7)
    _, ids, real = random_batch(rng)
    model = tagger(7, mask_zero=True)
    targets = rng.integers(0, 7, ids.shape).astype("int32")  # no pad_id
    logits = model(ids)
    got = SequenceLoss()(targets, logits)
    want = SequenceLoss()(
        targets, to_numpy(logits), sample_weight=np.float32(real)
    )
    np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-6)
    unmasked = SequenceLoss()(targets, to_numpy(logits))
    assert abs(float(unmasked) - float(want)) > 1e-4


def test_compiled_evaluate_reads_the_keras_mask_of_y_pred():
    rng = np.random.default_rng(10)
    _, ids, real = random_batch(rng)
    model = tagger(7, mask_zero=True)
    model.compile(loss=SequenceLoss())  # no pad_id: only the mask masks
    targets = rng.integers(0, 7, ids.shape).astype("int32")
    loss = model.evaluate(ids, targets, verbose=0)
    token = numpy_token_loss(to_numpy(model(ids)), targets)
    np.testing.assert_allclose(loss, token[real].mean(), rtol=1e-5)


def test_fit_with_sequence_loss_learns_and_ignores_padding():
    rng = np.random.default_rng(8)
    vocab, batch, steps = 6, 16, 5
    lengths = rng.integers(1, steps + 1, batch)
    real = np.arange(steps)[None, :] < lengths[:, None]
    ids = np.where(real, rng.integers(1, vocab, (batch, steps)), 0)
    targets = np.where(real, (ids % (vocab - 1)) + 1, 0).astype("int32")
    model = tagger(vocab)
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=SequenceLoss(pad_id=0),
        metrics=[MaskedTokenAccuracy(pad_id=0)],
    )
    history = model.fit(ids, targets, epochs=15, batch_size=batch, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    # Other inputs at padded positions: other logits there, same loss.
    noisy_ids = np.where(real, ids, rng.integers(1, vocab, ids.shape))
    clean = model.evaluate(ids, targets, verbose=0, return_dict=True)
    noisy = model.evaluate(noisy_ids, targets, verbose=0, return_dict=True)
    logits = to_numpy(model(ids))
    assert not np.allclose(logits, to_numpy(model(noisy_ids)))
    np.testing.assert_allclose(noisy["loss"], clean["loss"], rtol=1e-5)
    token = numpy_token_loss(logits, targets)
    np.testing.assert_allclose(clean["loss"], token[real].mean(), rtol=1e-4)
    np.testing.assert_allclose(
        clean["masked_token_accuracy"],
        numpy_accuracy(logits, targets, 0),
        rtol=1e-6,
    )


def test_sequence_loss_config_round_trip():
    loss = SequenceLoss(
        average_across_timesteps=True,
        average_across_batch=True,
        sum_over_timesteps=False,
        sum_over_batch=False,
        pad_id=3,
        label_smoothing=0.1,
        name="nll",
    )
    config = loss.get_config()
    assert SequenceLoss.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert isinstance(restored, SequenceLoss)
    assert restored.get_config() == config


@pytest.mark.parametrize("pad_id", [1.5, True, "0"])
def test_bad_pad_id_raises(pad_id):
    with pytest.raises(ValueError, match="pad_id"):
        SequenceLoss(pad_id=pad_id)
    with pytest.raises(ValueError, match="pad_id"):
        MaskedTokenAccuracy(pad_id=pad_id)


def test_masked_token_accuracy_matches_numpy_over_batches():
    rng = np.random.default_rng(9)
    metric = MaskedTokenAccuracy(pad_id=0)
    batches = [random_batch(rng, lengths=(5, 2, 1)) for _ in range(2)]
    for logits, targets, _ in batches:
        # Make some predictions right, so that the accuracy is not ~1/V.
        logits[:, ::2] += 10 * np.eye(logits.shape[-1])[targets[:, ::2]]
        metric.update_state(targets, logits)
    logits = np.concatenate([b[0] for b in batches])
    targets = np.concatenate([b[1] for b in batches])
    want = numpy_accuracy(logits, targets, 0)
    assert 0.0 < want < 1.0
    np.testing.assert_allclose(float(metric.result()), want, rtol=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_masked_token_accuracy_counts_predicted_pad_as_wrong():
    metric = MaskedTokenAccuracy(pad_id=0)
    targets = np.array([[2, 1, 0]])
    logits = np.eye(3, dtype="float32")[[[2, 0, 0]]]  # predicts pad at t=1
    metric.update_state(targets, logits)
    assert float(metric.result()) == 0.5


def test_masked_token_accuracy_sample_weight_and_config():
    metric = MaskedTokenAccuracy(pad_id=None, name="acc")
    targets = np.array([[1, 2], [1, 2]])
    logits = np.eye(3, dtype="float32")[[[1, 2], [0, 0]]]
    metric.update_state(targets, logits, sample_weight=np.array([3.0, 1.0]))
    assert float(metric.result()) == pytest.approx(6.0 / 8.0)
    config = metric.get_config()
    assert config["pad_id"] is None and config["name"] == "acc"
    assert MaskedTokenAccuracy.from_config(config).get_config() == config
