"""The native API as demanding Keras users meet it, eleventh audit round.

This round uses `Seq2Seq` as Keras users use any model: as a layer of
their own functional model (whose loss and metrics must skip the target
padding as `Seq2Seq.fit` does), with some sublayers frozen (the encoder
as one) across a `.keras` round trip, through `summary`, and in `fit`
with `class_weight`, `BackupAndRestore` and a target of no steps. Each
test pins one defect of an earlier version: a silently wrong result, or
a backend's error, where the documented (or Keras') result or one clear
`ValueError` line is expected. Expected values come from NumPy, from the
same computation done another way, or from identities that must hold.
"""

import keras
import numpy as np
import pytest

from helpers import TINY_SEQ2SEQ
from keras_seq2seq import Seq2Seq, SequenceLoss
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


def test_a_functional_model_around_seq2seq_skips_the_target_padding():
    model = small_model()
    source = keras.Input((None,), dtype="int32")
    target_in = keras.Input((None,), dtype="int32")
    functional = keras.Model([source, target_in], model([source, target_in]))
    # Top 5 of 10: an untrained model's accuracy is not 0.
    top_5 = keras.metrics.SparseTopKCategoricalAccuracy
    for m in (model, functional):
        m.compile(
            loss=SequenceLoss(),
            metrics=[top_5(5, name="top_5")],
            run_eagerly=RUN_EAGERLY,
        )
    want = model.evaluate((SOURCE, TARGET_IN), TARGET_OUT, verbose=0)
    # Other ids at the padded target steps change nothing.
    garbage = np.where(REAL, TARGET_OUT, 7)
    got = functional.evaluate([SOURCE, TARGET_IN], garbage, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # Keras' own cross-entropy on the functional model: the mean over the
    # real target tokens (Keras divides by the mask's count).
    functional.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=RUN_EAGERLY,
    )
    loss = functional.evaluate(
        [SOURCE, TARGET_IN], garbage, verbose=0, return_dict=True
    )["loss"]
    logits = numpy(model((SOURCE, TARGET_IN)))
    want = token_losses(logits, TARGET_OUT)[REAL].mean()
    np.testing.assert_allclose(loss, want, rtol=1e-5)


class MaskOf(keras.layers.Layer):
    """Returns the Keras mask of its input."""

    def call(self, inputs, mask=None):
        return mask

    def compute_mask(self, inputs, previous_mask=None):
        return None


def test_the_logits_carry_the_target_padding_as_their_keras_mask():
    # The first step is real even where pad_id is the BOS id.
    model = small_model(pad_id=1, bos_id=1)
    target_in = np.array([[1, 3, 1, 1], [1, 1, 1, 1]], "int32")
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    mask = keras.Model([source, target], MaskOf()(model([source, target])))
    want = [[True, True, False, False], [True, False, False, False]]
    np.testing.assert_array_equal(numpy(mask([SOURCE[:2], target_in])), want)


def test_frozen_sublayers_stay_frozen_after_a_keras_round_trip(tmp_path):
    model = small_model()
    model.source_embedding.trainable = False
    for rnn in model.encoder:
        rnn.trainable = False
    # Inside a frozen layer, one sublayer trains again.
    model.decoder.trainable = False
    model.decoder.step.cell.trainable = True
    flags = [layer.trainable for layer in model._flatten_layers()]
    trainable = [w.path for w in model.trainable_weights]
    assert 0 < len(trainable) < len(model.weights)
    model.compile("adam", SequenceLoss(), run_eagerly=RUN_EAGERLY)
    model.fit((SOURCE, TARGET_IN), TARGET_OUT, verbose=0)
    model.save(tmp_path / "frozen.keras")

    loaded = keras.saving.load_model(tmp_path / "frozen.keras")
    assert [layer.trainable for layer in loaded._flatten_layers()] == flags
    assert [w.path for w in loaded.trainable_weights] == trainable
    before = [numpy(w) for w in loaded.weights]
    # The optimizer's state loads (a warning said it was skipped), and
    # the next step moves the trainable weights only.
    loaded.fit((SOURCE, TARGET_IN), TARGET_OUT, verbose=0)
    for weight, old in zip(loaded.weights, before, strict=True):
        moved = not np.array_equal(numpy(weight), old)
        assert moved == (weight.path in trainable), weight.path


def test_summary_shows_the_shapes_of_any_batch_and_length():
    model = Seq2Seq(11, 13, **TINY_SEQ2SEQ)
    model.build()
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    rows = {
        row.split("(")[0].strip("│ "): row
        for row in "\n".join(lines).splitlines()
        if "│" in row
    }
    assert "(None, None, 4)" in rows["source_embedding"], rows
    assert "(None, None, 5)" in rows["decoder"], rows
    assert "(None, None, 13)" in rows["output_layer"], rows
    assert "(None, 6)" in rows["bridge_0"], rows
    assert "(1, " not in "\n".join(lines)


def test_the_encoder_freezes_as_one_layer():
    # `model.encoder` was a list: this set an attribute of the list, and
    # froze nothing.
    model = Seq2Seq(9, 10, **TINY_SEQ2SEQ, encoder_layers=2)
    model.build()
    model.encoder.trainable = False
    assert not any(rnn.trainable for rnn in model.encoder)
    encoder = {w.path for rnn in model.encoder for w in rnn.weights}
    trainable = {w.path for w in model.trainable_weights}
    assert trainable == {w.path for w in model.weights} - encoder
    model.encoder.trainable = True
    assert len(model.trainable_weights) == len(model.weights)


def test_class_weight_weighs_each_target_token_by_its_id():
    # Keras read (B, Tt) targets as one-hot rows: each sentence got the
    # weight of the class at its argmax, its longest id's position.
    class_weight = {2: 5.0, 4: 0.5, 7: 0.0}
    per_token = np.vectorize(lambda i: class_weight.get(i, 1.0))(TARGET_OUT)
    history, weights, evaluated = [], [], []
    for options in (
        {"class_weight": class_weight},
        {"sample_weight": per_token},
    ):
        model = small_model()
        model.compile("sgd", SequenceLoss(), run_eagerly=RUN_EAGERLY)
        data = (SOURCE, TARGET_IN), TARGET_OUT
        fitted = model.fit(*data, shuffle=False, verbose=0, **options)
        history.append(fitted.history["loss"])
        weights.append([numpy(w) for w in model.weights])
        # Keras' `evaluate` (and validation) take no class weights.
        evaluated.append(model.evaluate(*data, verbose=0))
    np.testing.assert_allclose(history[0], history[1], rtol=1e-6)
    for got, want in zip(*weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(evaluated[0], evaluated[1], rtol=1e-6)


def test_an_unbuilt_model_fits_with_backup_and_restore(tmp_path):
    # On TensorFlow the callback refused a model not built before `fit`,
    # though `Seq2Seq` builds from its arguments alone.
    keras.utils.set_random_seed(0)
    model = Seq2Seq(9, 10, **TINY_SEQ2SEQ)
    model.compile("sgd", SequenceLoss(), run_eagerly=RUN_EAGERLY)
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup")
    data = (SOURCE, TARGET_IN), TARGET_OUT
    history = model.fit(*data, epochs=2, verbose=0, callbacks=[backup])
    assert len(history.history["loss"]) == 2


def test_an_empty_target_predicts_no_steps_and_cannot_be_learned():
    model = small_model()
    model.compile("sgd", SequenceLoss())
    empty = TARGET_IN[:, :0]
    # On TensorFlow the compiled decoder loop failed on zero steps.
    assert model.predict((SOURCE, empty), verbose=0).shape == (3, 0, 10)
    with pytest.raises(ValueError, match="no steps") as error:
        model.fit((SOURCE, empty), TARGET_OUT[:, :0], verbose=0)
    assert len(str(error.value).splitlines()) == 1
