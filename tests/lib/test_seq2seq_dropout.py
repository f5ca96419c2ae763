"""`Seq2Seq(dropout=...)`: active while training only, saved, compiled."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq.models import Seq2Seq

B, TS, TT, V = 4, 6, 5, 13
SIZES = dict(
    source_vocab_size=11,
    target_vocab_size=V,
    embedding_dim=4,
    encoder_units=3,
    encoder_layers=2,
    decoder_units=6,
    attention_units=5,
    attention_layer_size=7,
)
# Compiled and eager searches agree (test_generate.py); the searches here
# run the faster one: on TensorFlow XLA takes seconds per search, and on
# JAX the eager loop is compiled too.
COMPILE = keras.backend.backend() == "jax"


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def batch(seed=0, rows=B):
    """Source and target-in ids with padding, and target-out labels."""
    rng = np.random.default_rng(seed)
    source = rng.integers(3, 11, size=(rows, TS)).astype("int32")
    source[1, 3:] = 0
    target = rng.integers(3, V, size=(rows, TT + 1)).astype("int32")
    target[:, 0] = 1
    target[2, 2:] = 0
    return (source, target[:, :-1]), target[:, 1:]


@pytest.fixture(scope="module")
def twins():
    """A model with dropout and one without, sharing their weights (the
    tests only call, decode and save them)."""
    keras.utils.set_random_seed(0)
    model = Seq2Seq(**SIZES, dropout=0.4)
    plain = Seq2Seq(**SIZES)
    model.build()
    plain.build()
    plain.set_weights(model.get_weights())
    return model, plain


def test_dropout_acts_while_training_only(twins):
    model, plain = twins
    inputs, _ = batch()
    inference = ops.convert_to_numpy(model(inputs))
    np.testing.assert_allclose(
        inference, ops.convert_to_numpy(plain(inputs)), 1e-6, 1e-6
    )
    training = ops.convert_to_numpy(model(inputs, training=True))
    assert np.isfinite(training).all()
    assert not np.allclose(training, inference)
    # The searches never drop anything. Greedy search stands for all of
    # them: every search encodes with `model.encode` and steps with the
    # same step function.
    options = dict(method="greedy", max_length=7, jit_compile=COMPILE)
    ids = model.generate(inputs[0], **options)["ids"]
    want = plain.generate(inputs[0], **options)["ids"]
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ids), ops.convert_to_numpy(want)
    )


@pytest.mark.parametrize("dropout", [-0.1, 1.0, 1.5])
def test_a_rate_outside_zero_one_raises(dropout):
    with pytest.raises(ValueError, match="dropout"):
        Seq2Seq(**SIZES, dropout=dropout)


def test_saved_model_keeps_the_rate_and_predicts_the_same(twins, tmp_path):
    model, _ = twins
    inputs, _ = batch()
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.dropout == 0.4
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(inputs)),
        ops.convert_to_numpy(model(inputs)),
        1e-6,
        1e-6,
    )


@pytest.mark.parametrize(
    "scheduled_sampling, rows",
    # Scheduled sampling draws its embeddings' mask for the batch's size,
    # before its loop: 5 rows in batches of 3 and 2, one mask per batch
    # shape. `Seq2Seq.call`'s Dropout layers draw for the tensor they get,
    # sized by nothing else: one batch shape (each shape is one more XLA
    # compilation of the training step, ~10 s).
    [(None, 3), (0.5, 5)],
)
def test_compiled_training_with_dropout_changes_every_weight(
    scheduled_sampling, rows
):
    model = Seq2Seq(**SIZES, dropout=0.3, scheduled_sampling=scheduled_sampling)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=keras.backend.backend() != "torch",
    )
    inputs, labels = batch(rows=rows)
    model.build()
    before = [ops.convert_to_numpy(w) for w in model.trainable_weights]
    steps = []  # the training step's Python calls: traces, or eager steps
    train_step = model.train_step
    model.train_step = lambda *args: steps.append(1) or train_step(*args)
    history = model.fit(inputs, labels, batch_size=3, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    for weight, old in zip(model.trainable_weights, before, strict=True):
        assert not np.array_equal(ops.convert_to_numpy(weight), old)
    # Traced once: on TensorFlow, whose dataset leaves the batch axis
    # unknown (Keras left the optimizer's slots to the first trace, and a
    # `tf.function` that creates variables traces twice); on JAX, once per
    # batch shape. PyTorch runs the step eagerly, each batch.
    batches = -(-rows // 3)
    expected = {"tensorflow": 1, "jax": len({3, rows - 3 * (batches - 1)})}
    assert len(steps) == expected.get(keras.backend.backend(), 2 * batches)
