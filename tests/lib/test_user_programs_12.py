"""The native API as demanding Keras users meet it, twelfth audit round.

This round compiles `Seq2Seq` with Keras' own losses (whose mean over a
padded target must be Keras' masked mean, as in a functional model around
the model), trains it with the end token also the padding id
(`eos_id == pad_id`), passes `fit`'s arguments by position, and runs it
in float64 (`keras.config.set_floatx("float64")`). Each test
pins one defect of an earlier version: a silently wrong result where the
documented (or Keras') result is expected. Expected values come from
NumPy, or from the same computation done another way.
"""

import keras
import numpy as np
import pytest

from keras_seq2seq import SequenceLoss
from tiny_batch import (
    REAL,
    RUN_EAGERLY,
    SOURCE,
    TARGET_IN,
    TARGET_OUT,
    numpy,
    small_model,
    token_losses,
)

SENTENCE_WEIGHTS = np.array([1.0, 3.0, 0.5], "float32")


def keras_cross_entropy(y_true, y_pred):
    """A loss function of one's own: Keras wraps it in a `Loss`."""
    return keras.losses.sparse_categorical_crossentropy(
        y_true, y_pred, from_logits=True
    )


def test_keras_losses_average_over_the_real_target_tokens():
    # Keras' masked convention, as in a functional model around Seq2Seq:
    # sum(loss * sample_weight) over the real tokens / their count. `fit`
    # and `evaluate` divided by every position, padding included.
    model = small_model()
    ce = token_losses(numpy(model((SOURCE, TARGET_IN))), TARGET_OUT)
    # Per token: a functional model's masked loss takes no (B,) weights,
    # nor (B, 1) on PyTorch.
    weights = np.repeat(SENTENCE_WEIGHTS[:, None], 4, axis=1)
    weighted = (ce * weights * REAL).sum() / REAL.sum()
    data = (SOURCE, TARGET_IN), TARGET_OUT
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=RUN_EAGERLY,
    )
    got = model.evaluate(*data, verbose=0)
    np.testing.assert_allclose(got, ce[REAL].mean(), rtol=1e-5)
    for loss in (model.loss, keras_cross_entropy):
        model.compile(loss=loss, run_eagerly=RUN_EAGERLY)
        got = model.evaluate(*data, sample_weight=weights, verbose=0)
        np.testing.assert_allclose(got, weighted, rtol=1e-5)
    # The same number as the functional model's, and as SequenceLoss'
    # (its mean over the tokens of non-zero weight).
    source = keras.Input((None,), dtype="int32")
    target_in = keras.Input((None,), dtype="int32")
    functional = keras.Model([source, target_in], model([source, target_in]))
    functional.compile(loss=keras_cross_entropy, run_eagerly=RUN_EAGERLY)
    model.compile(loss=SequenceLoss(), run_eagerly=RUN_EAGERLY)
    for m in (functional, model):
        got = m.evaluate(
            [SOURCE, TARGET_IN], TARGET_OUT, sample_weight=weights, verbose=0
        )
        np.testing.assert_allclose(got, weighted, rtol=1e-5)


def test_the_end_token_counts_when_it_is_the_padding_id():
    # eos_id == pad_id == 0: each target ends with its first 0, which the
    # loss and metrics dropped with the padding after it: no gradient ever
    # taught the model to stop.
    model = small_model(pad_id=0, bos_id=1, eos_id=0)
    target_out = np.where(TARGET_OUT == 2, 0, TARGET_OUT)
    counted = np.array(
        [
            [True, True, True, True],  # ends at its last step
            [True, True, False, False],
            [True, True, True, False],
        ]
    )
    logits = numpy(model((SOURCE, TARGET_IN)))
    ce = token_losses(logits, target_out)
    # Top 5 of 10: an untrained model's accuracy is not 0.
    rank = logits > np.take_along_axis(logits, target_out[..., None], -1)
    top_5 = rank.sum(-1) < 5
    for loss in (
        SequenceLoss(),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ):
        model.compile(
            loss=loss,
            metrics=[keras.metrics.SparseTopKCategoricalAccuracy(5)],
            run_eagerly=RUN_EAGERLY,
        )
        loss, top = model.evaluate((SOURCE, TARGET_IN), target_out, verbose=0)
        np.testing.assert_allclose(loss, ce[counted].mean(), rtol=1e-5)
        np.testing.assert_allclose(top, top_5[counted].mean(), rtol=1e-6)


def test_class_weight_passed_by_position_weighs_tokens_by_id():
    # fit(x, y, batch_size, epochs, verbose, callbacks, validation_split,
    # validation_data, shuffle, class_weight): by position it went to
    # Keras, which weighs each sentence by one class.
    class_weight = {2: 5.0, 4: 0.5, 7: 0.0}
    per_token = np.vectorize(lambda i: class_weight.get(i, 1.0))(TARGET_OUT)
    ce = token_losses(numpy(small_model()((SOURCE, TARGET_IN))), TARGET_OUT)
    # SequenceLoss' mean over the tokens of non-zero weight.
    weights = per_token * REAL
    want = (ce * weights).sum() / np.count_nonzero(weights)
    model = small_model()
    model.compile(keras.optimizers.SGD(0.0), SequenceLoss())
    data = (SOURCE, TARGET_IN), TARGET_OUT
    positional = model.fit(*data, 3, 1, 0, None, 0.0, None, False, class_weight)
    keyword = model.fit(
        *data, 3, 1, 0, shuffle=False, class_weight=class_weight
    )
    np.testing.assert_allclose(positional.history["loss"], [want], rtol=1e-5)
    np.testing.assert_allclose(keyword.history["loss"], [want], rtol=1e-5)


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="float64 on JAX needs jax_enable_x64, a switch of the process",
)
def test_a_float64_model_trains_with_scheduled_sampling_and_beams():
    # Under keras.config.set_floatx("float64"): on TensorFlow the sampling
    # draws (float64) met the float32 probability, and beam search wrote
    # float64 scores into its float32 buffers (an XLA type error); on
    # PyTorch beam scores came back float64, greedy ones float32.
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")  # conftest set float32's
    try:
        model = small_model(scheduled_sampling=0.5)
        assert model.output_layer.kernel.dtype == "float64"
        model.compile("sgd", SequenceLoss())
        history = model.fit((SOURCE, TARGET_IN), TARGET_OUT, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        greedy = model.generate(SOURCE, max_length=5)
        beams = model.generate(SOURCE, method="beam", beam_size=2, max_length=5)
    finally:
        keras.config.set_floatx("float32")
    for result in (greedy, beams):
        for name in ("scores", "weights"):
            assert keras.backend.standardize_dtype(result[name].dtype) == (
                "float32"
            ), name
    # Beam 1 of 2 is at least as likely as the greedy path.
    assert numpy(beams["scores"])[:, 0].min() > -np.inf
    np.testing.assert_array_less(
        numpy(greedy["scores"]) - 1e-5, numpy(beams["scores"])[:, 0] + 1e-9
    )
