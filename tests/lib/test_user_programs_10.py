"""The native API as demanding Keras users meet it, tenth audit round.

This round plugs the library into Keras itself: `Seq2Seq.predict` over
data whose batches have different lengths (a generator, a
`keras.utils.PyDataset`), `generate` traced inside a user's compiled
function or a TensorFlow `ExportArchive`, and the `.keras` round trip of
a frozen model. Each test pins one defect of an earlier version: a
backend's error (NumPy's "all the input array dimensions ... must match
exactly" on JAX and PyTorch, a `RaggedTensor` on TensorFlow) or a wrong
result where the documented one is expected. Expected values come from
the same computation done another way (the model called batch by batch,
padded with NumPy) or from identities that must hold.
"""

import keras
import numpy as np
import pytest
from keras import ops

from helpers import TINY_SEQ2SEQ
from keras_seq2seq import Seq2Seq, SequenceLoss

SOURCE = np.array([[3, 4, 5, 2], [6, 2, 0, 0], [7, 0, 0, 0]])
TARGET_IN = np.array([[1, 3, 4], [1, 5, 0], [1, 0, 0]])
TARGET_OUT = np.array([[3, 4, 2], [5, 2, 0], [2, 0, 0]])

# Two batches of other source and target lengths, padded with 0 inside.
BATCHES = [
    (np.array([[3, 4, 2], [5, 2, 0]]), np.array([[1, 3, 4, 5], [1, 6, 0, 0]])),
    (
        np.array([[3, 4, 5, 6, 7, 2], [8, 2, 0, 0, 0, 0]]),
        np.array([[1, 3, 4, 5, 6, 7], [1, 0, 0, 0, 0, 0]]),
    ),
]


def small_model(**compile_options):
    keras.utils.set_random_seed(0)
    model = Seq2Seq(9, 10, **TINY_SEQ2SEQ)
    model.compile("sgd", SequenceLoss(), **compile_options)
    model.build()
    # A bias of zeros would make the logits of a padded target step (a
    # zero decoder output) zeros already.
    model.output_layer.bias.assign(np.linspace(-1.0, 1.0, 10))
    return model


@pytest.fixture(scope="module")
def model():
    return small_model()


def numpy(x):
    return ops.convert_to_numpy(x)


def logits_padded_with_zeros(model, batches):
    """The model called batch by batch, its logits zeroed at padded target
    steps (not the first) and padded with zeros to the longest target."""
    width = max(target.shape[1] for _, target in batches)
    rows = []
    for source, target in batches:
        logits = numpy(model((source, target)))
        real = (target != 0) | (np.arange(target.shape[1]) == 0)
        logits = np.where(real[..., None], logits, 0.0)
        padding = ((0, 0), (0, width - target.shape[1]), (0, 0))
        rows.append(np.pad(logits, padding))
    return np.concatenate(rows)


class Batches(keras.utils.PyDataset):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        return (self.batches[index],)


def generator(batches):
    for batch in batches:
        yield (batch,)


# --- `predict` on batches of different target lengths: Keras concatenates
# the batches' logits with NumPy, which failed on JAX and PyTorch ("all the
# input array dimensions except for the concatenation axis must match"),
# and on TensorFlow it returned a `RaggedTensor`. Now every backend pads
# the time axis with zeros to the longest target, and padded target steps
# within a batch are zeros too.


@pytest.mark.parametrize("kind", ["generator", "py_dataset"])
def test_predict_pads_batches_of_other_lengths_with_zeros(kind, model):
    data = generator(BATCHES) if kind == "generator" else Batches(BATCHES)
    # A generator's length is unknown: without `steps`, Keras warns that
    # it ran out of data.
    got = model.predict(data, steps=len(BATCHES), verbose=0)
    assert isinstance(got, np.ndarray)
    want = logits_padded_with_zeros(model, BATCHES)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_predict_on_batch_gives_zeros_at_padded_target_steps(model):
    got = model.predict_on_batch((SOURCE, TARGET_IN))
    want = logits_padded_with_zeros(model, [(SOURCE, TARGET_IN)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_predict_or_evaluate_that_fails_keeps_the_weights():
    # On JAX, Keras' predict and evaluate take the variables' values out
    # for the call and put them back at its end, but not after an error:
    # a step that failed (a source of the wrong rank; a second batch whose
    # source and target disagree in batch size) left every weight unset,
    # and each later call failed with "'NoneType' object is not callable".
    model = small_model()
    weights = model.get_weights()
    want = model.predict((SOURCE, TARGET_IN), verbose=0)
    bad_second = [(SOURCE, TARGET_IN), (SOURCE, TARGET_IN[:2])]
    with_targets = [
        ((SOURCE, TARGET_IN), TARGET_OUT),
        ((SOURCE, TARGET_IN[:2]), TARGET_OUT[:2]),
    ]
    for fail in (
        lambda: model.predict((SOURCE[..., None], TARGET_IN), verbose=0),
        lambda: model.predict(generator(bad_second), steps=2, verbose=0),
        lambda: model.evaluate(Batches(with_targets), verbose=0),
    ):
        with pytest.raises(Exception):  # noqa: B017 (each backend its own)
            fail()
        for got, value in zip(model.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(got, value)
        got = model.predict((SOURCE, TARGET_IN), verbose=0)
        np.testing.assert_array_equal(got, want)
    assert np.isfinite(
        model.evaluate((SOURCE, TARGET_IN), TARGET_OUT, verbose=0)
    )


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="Keras' PyTorch trainer takes steps_per_execution=1 only",
)
def test_predict_joins_batches_of_one_execution_of_other_lengths():
    # With `steps_per_execution=2`, JAX joins the two batches inside its
    # predict function (`jnp.concatenate`), before `predict` does.
    model = small_model(steps_per_execution=2)
    got = model.predict(Batches(BATCHES), verbose=0)
    want = logits_padded_with_zeros(model, BATCHES)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def ids(result):
    return numpy(result["ids"])


# --- `generate` inside a function the user compiles (`tf.function`,
# `jax.jit`) or exports (`keras.export.ExportArchive`): the check of the
# source ids' range read their values with NumPy, and failed on traced
# ids ("Cannot convert a symbolic tf.Tensor to a numpy array", JAX's
# TracerArrayConversionError). Traced ids are not checked; a float
# `max_length` on ids of unknown width is one clear error.


def compiled_function(fn):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    import jax

    return jax.jit(fn)


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="PyTorch runs generate eagerly: its ids are never traced",
)
@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_generate_runs_inside_a_compiled_function(method, model):
    want = ids(model.generate(SOURCE, method=method, max_length=6))
    translate = compiled_function(
        lambda source: model.generate(source, method=method, max_length=6)
    )
    got = ids(translate(ops.convert_to_tensor(SOURCE, "int32")))
    np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="an endpoint of any source width is a TensorFlow graph",
)
@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_an_export_archive_serves_generate_for_any_source_width(
    method, model, tmp_path
):
    import tensorflow as tf

    spec = keras.InputSpec(shape=(None, None), dtype="int32")
    by_ratio = tf.function(
        lambda source: model.generate(source)["ids"],  # max_length=2.0
        input_signature=[tf.TensorSpec((None, None), "int32")],
    )
    with pytest.raises(ValueError, match="float `max_length` .* int"):
        by_ratio.get_concrete_function()
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "translate",
        lambda source: model.generate(source, method, max_length=6)["ids"],
        input_signature=[spec],
    )
    archive.write_out(str(tmp_path / "exported"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "exported"))
    for source in (SOURCE, BATCHES[1][0]):
        got = loaded.translate(tf.constant(source, "int32")).numpy()
        want = ids(model.generate(source, method, max_length=6))
        np.testing.assert_array_equal(got, want)


# --- A frozen model (`model.trainable = False`, as for a model served or
# used as a fixed teacher) saved to `.keras`: `Seq2Seq.from_config`
# dropped the `trainable` entry of its config, and the loaded model
# trained every weight again.


# Keras says so on TensorFlow and PyTorch (not on JAX): as it should.
@pytest.mark.filterwarnings("ignore:The model does not have any trainable")
def test_a_frozen_model_loads_frozen(tmp_path):
    model = small_model()
    model.trainable = False
    path = str(tmp_path / "frozen.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.trainable is False
    assert loaded.trainable_weights == []
    before = [numpy(w) for w in loaded.weights]
    # No XLA on TensorFlow: the step only has to try to move the loaded
    # weights. JAX's jitted step is faster than its eager one.
    loaded.compile(
        "sgd", SequenceLoss(), jit_compile=keras.backend.backend() == "jax"
    )
    loaded.fit((SOURCE, TARGET_IN), TARGET_OUT, verbose=0)
    for weight, value in zip(loaded.weights, before, strict=True):
        np.testing.assert_array_equal(numpy(weight), value)


# --- `ModelCheckpoint(..., save_weights_only=True)` to a `.weights.h5`,
# then the weights loaded into a new `Seq2Seq` of the same config (a new
# process, a served model): Keras refused to load them into a model not
# yet built ("Try building the model first"), although `Seq2Seq` builds
# from its config alone.


def test_checkpointed_weights_load_into_a_new_model(tmp_path):
    # No XLA on TensorFlow: what is checked is the checkpoint, not the
    # step. JAX's jitted step is faster than its eager one.
    model = small_model(jit_compile=keras.backend.backend() == "jax")
    path = str(tmp_path / "best.weights.h5")
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            path, monitor="loss", save_best_only=True, save_weights_only=True
        ),
        keras.callbacks.EarlyStopping(
            monitor="loss", patience=1, restore_best_weights=True
        ),
    ]
    x = (SOURCE, TARGET_IN)
    model.fit(x, TARGET_OUT, epochs=2, callbacks=callbacks, verbose=0)
    new = Seq2Seq.from_config(model.get_config())
    new.load_weights(path)
    for weight, value in zip(new.weights, model.weights, strict=True):
        np.testing.assert_array_equal(numpy(weight), numpy(value))
    np.testing.assert_array_equal(numpy(new(x)), numpy(model(x)))
