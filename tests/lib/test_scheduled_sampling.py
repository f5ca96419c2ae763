"""Scheduled sampling in `Seq2Seq`: probabilities 0 and 1, schedules, saving.

Expected numbers come from the teacher-forced model with the same weights
(probability 0) and from a hand-written loop over the decoder's single step
that feeds back each step's argmax (probability 1).
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq.models import Seq2Seq

V, B, TS, TT = 11, 3, 6, 5
SOURCE_LENGTHS = np.array([TS, 1, 4])
TARGET_LENGTHS = np.array([TT, 2, 4])
TOL = dict(rtol=1e-5, atol=1e-6)


def small_model(scheduled_sampling=None, seed=1):
    """A built small Seq2Seq whose trainable weights are drawn from `seed`."""
    model = Seq2Seq(
        V,
        V,
        embedding_dim=4,
        encoder_units=3,
        decoder_units=5,
        attention_units=2,
        attention_layer_size=4,
        scheduled_sampling=scheduled_sampling,
    )
    model.build()
    rng = np.random.default_rng(seed)
    for weight in model.trainable_weights:
        weight.assign(rng.normal(scale=0.8, size=weight.shape))
    return model


def batch(seed=0, padded_targets=True):
    """`(source, target_in, target_out)` ids, padded with 0 after lengths."""
    rng = np.random.default_rng(seed)
    source = rng.integers(3, V, size=(B, TS))
    source = np.where(np.arange(TS) < SOURCE_LENGTHS[:, None], source, 0)
    target = rng.integers(3, V, size=(B, TT + 1))
    target[:, 0] = 1  # BOS
    if padded_targets:
        real = np.arange(TT + 1) < TARGET_LENGTHS[:, None] + 1
        target = np.where(real, target, 0)
    return source, target[:, :-1], target[:, 1:]


def fed_back_logits(model, source, target_in):
    """Logits `(B, TT, V)` of a loop that feeds back each step's argmax."""
    source = ops.convert_to_tensor(source)
    memory, memory_mask, cell_state = model.encode(source)
    step = model.decoder.step
    prepared = step.prepare(memory, value_mask=memory_mask)
    state = step.get_initial_state(prepared, cell_state)
    token = ops.convert_to_tensor(target_in[:, 0])
    logits = []
    for _ in range(target_in.shape[1]):
        output, state = step(model.target_embedding(token), state, prepared)
        logits.append(to_numpy(model.output_layer(output)))
        token = ops.argmax(logits[-1], axis=-1)
    return np.stack(logits, axis=1)


def to_numpy(x):
    return ops.convert_to_numpy(x)


def always(p):
    return lambda step: p


def test_probability_zero_equals_teacher_forcing():
    source, target_in, _ = batch()
    teacher = small_model()
    # A callable runs the sampling loop even though p is 0.
    sampled = small_model(always(0.0))

    want = to_numpy(teacher((source, target_in), training=True))
    got = to_numpy(sampled((source, target_in), training=True))

    np.testing.assert_allclose(got, want, **TOL)
    assert to_numpy(sampled.sampling_step) == 1  # The sampling loop ran.


def test_probability_one_feeds_back_the_argmax():
    source, target_in, _ = batch(padded_targets=False)
    model = small_model(1.0)

    got = to_numpy(model((source, target_in), training=True))
    want = fed_back_logits(model, source, target_in)
    teacher = to_numpy(model((source, target_in), training=False))

    np.testing.assert_allclose(got, want, **TOL)
    # The drawn weights make the model's own tokens differ from the targets.
    assert not np.allclose(got[:, 1:], teacher[:, 1:], atol=1e-3)
    np.testing.assert_allclose(got[:, 0], teacher[:, 0], **TOL)


def test_padded_target_steps_give_zero_outputs_before_projection():
    # At padded steps the decoder output is zero, so the logits are the bias.
    source, target_in, _ = batch()
    model = small_model(0.5)
    logits = to_numpy(model((source, target_in), training=True))
    bias = to_numpy(model.output_layer.bias)
    padded = target_in == 0
    assert padded.any()
    want = np.broadcast_to(bias, (padded.sum(), V))
    np.testing.assert_allclose(logits[padded], want, **TOL)


def test_gradients_reach_every_weight_with_fed_back_tokens():
    source, target_in, target_out = batch(padded_targets=False)
    model = small_model(1.0)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    before = [to_numpy(w) for w in model.trainable_weights]
    history = model.fit(
        (source, target_in), target_out, batch_size=B, epochs=1, verbose=0
    )
    assert np.isfinite(history.history["loss"][0])
    for weight, old in zip(model.trainable_weights, before, strict=True):
        assert not np.array_equal(to_numpy(weight), old), weight.path


def test_schedule_follows_the_optimizer_iterations():
    source, target_in, target_out = batch(padded_targets=False)
    # p = 0 at step 0, then 1.
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [0], [0.0, 1.0]
    )
    model = small_model(schedule)
    teacher = to_numpy(model((source, target_in), training=False))
    model.compile(
        # A zero learning rate keeps the weights, so outputs compare.
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    assert float(to_numpy(model.sampling_probability())) == 0.0

    model.fit((source, target_in), target_out, batch_size=B, verbose=0)

    iterations = int(to_numpy(model.optimizer.iterations))
    assert iterations == 1
    assert int(to_numpy(model.sampling_step)) == iterations
    assert float(to_numpy(model.sampling_probability())) == 1.0
    got = to_numpy(model((source, target_in), training=True))
    np.testing.assert_allclose(
        got, fed_back_logits(model, source, target_in), **TOL
    )
    assert not np.allclose(got, teacher, atol=1e-3)


def test_keras_round_trip_keeps_the_schedule_and_its_step(tmp_path):
    source, target_in, target_out = batch()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.5, 10, 0.9)
    model = small_model(schedule)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit((source, target_in), target_out, batch_size=B, verbose=0)
    want = to_numpy(model((source, target_in)))

    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")

    assert isinstance(
        loaded.scheduled_sampling, keras.optimizers.schedules.ExponentialDecay
    )
    assert loaded.scheduled_sampling.get_config() == schedule.get_config()
    assert int(to_numpy(loaded.sampling_step)) == 1
    np.testing.assert_allclose(
        to_numpy(loaded.sampling_probability()),
        to_numpy(schedule(1)),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(to_numpy(loaded((source, target_in))), want)
    config = Seq2Seq.from_config(small_model(0.25).get_config()).get_config()
    assert config["scheduled_sampling"] == 0.25


@pytest.mark.parametrize("value", [1.5, -0.1, "often", True])
def test_bad_probabilities_raise(value):
    with pytest.raises(ValueError, match="`scheduled_sampling` must be"):
        Seq2Seq(V, V, scheduled_sampling=value)
