"""Checks every public layer passes, and backend-neutral gradients.

`check_layer` is our `run_layer_test` (Keras's is private): eager call,
symbolic call in a `keras.Input` model, config round trip, `.keras` save and
load, and one SGD `fit` step. `gradients` differentiates a layer's first
output on whichever backend `KERAS_BACKEND` names. `run_python` runs a
program in a fresh process on the same backend. `small_seq2seq` builds the
tiny `Seq2Seq` the `generate` tests decode with.
"""

import inspect
import os
import subprocess
import sys

import keras
import numpy as np
from keras import ops

from keras_seq2seq.models import Seq2Seq

# A Seq2Seq small enough for a test to build and train in well under a
# second: `Seq2Seq(source_vocab, target_vocab, **TINY_SEQ2SEQ)`.
TINY_SEQ2SEQ = dict(
    embedding_dim=4,
    encoder_units=4,
    decoder_units=6,
    attention_units=4,
    attention_layer_size=5,
)


def check_layer(layer_factory, inputs, tmp_path, train=True):
    """Runs the checks of STYLE.md "Tests" on a layer; returns its outputs.

    Args:
        layer_factory: callable with no arguments returning a new layer.
        inputs: dict of NumPy arrays: the layer's tensor arguments by name,
            each with the batch on the first axis. They are passed by
            keyword, and become the `keras.Input`s of the functional model.
        tmp_path: folder for the `.keras` file.
        train: bool. Whether one SGD step must change every trainable
            weight; `False` for layers that pass no gradient to their weights
            (hard monotonic attention). Defaults to `True`.

    Returns:
        list of NumPy arrays: the eager outputs, flattened.
    """
    layer = layer_factory()
    eager = to_numpy(layer(**inputs))

    symbolic = {
        name: keras.Input(x.shape[1:], dtype=str(x.dtype), name=name)
        for name, x in inputs.items()
    }
    outputs = keras.tree.flatten(layer(**symbolic))
    assert [tuple(y.shape) for y in outputs] == [
        (None,) + y.shape[1:] for y in eager
    ]
    model = keras.Model(symbolic, outputs)
    assert_all_close(to_numpy(model(inputs)), eager)
    check_output_shape(layer, inputs, eager)

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(**inputs)  # Builds the weights, to be overwritten.
    clone.set_weights(layer.get_weights())
    assert_all_close(to_numpy(clone(**inputs)), eager)

    path = tmp_path / f"{layer.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert_all_close(to_numpy(loaded(inputs)), eager)

    if train:
        check_fit_step(model, layer, inputs, eager)
    return eager


def check_output_shape(layer, inputs, outputs):
    """`compute_output_shape` of the tensor arguments' shapes (the names of
    its `<argument>_shape` parameters) must give the outputs' shapes."""
    names = inspect.signature(layer.compute_output_shape).parameters
    shapes = {
        f"{name}_shape": x.shape
        for name, x in inputs.items()
        if f"{name}_shape" in names
    }
    computed = _flatten_shapes(layer.compute_output_shape(**shapes))
    assert computed == [tuple(y.shape) for y in outputs]


def _flatten_shapes(shapes):
    """A nest of shapes as a flat list; a shape is a leaf, not a nest."""
    if isinstance(shapes, tuple) and all(
        isinstance(d, (int, type(None))) for d in shapes
    ):
        return [shapes]
    return [shape for part in shapes for shape in _flatten_shapes(part)]


def check_fit_step(model, layer, inputs, outputs):
    """One SGD step on a mean-squared error must move every weight."""
    assert layer.trainable_weights, f"{layer.name} has nothing to train"
    rng = np.random.default_rng(0)
    targets = [rng.normal(size=y.shape).astype("float32") for y in outputs]
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss=["mean_squared_error"] * len(outputs),
    )
    before = [ops.convert_to_numpy(w) for w in layer.trainable_weights]
    batch_size = len(next(iter(inputs.values())))
    model.fit(inputs, targets, batch_size=batch_size, epochs=1, verbose=0)
    for weight, old in zip(layer.trainable_weights, before, strict=True):
        new = ops.convert_to_numpy(weight)
        assert not np.array_equal(new, old), f"{weight.path} did not change"


def gradients(layer, inputs, wrt):
    """Gradients of `sum(first output)` for the backend `keras` runs on.

    Args:
        layer: a layer; called once on `inputs` if not built.
        inputs: dict of NumPy arrays, the layer's tensor arguments by name.
        wrt: str. Name of the float input to differentiate against.

    Returns:
        `(input_gradient, weight_gradients)`: a NumPy array of the shape of
        `inputs[wrt]`, and one NumPy array per trainable weight of the
        layer, in `layer.trainable_weights` order; zeros where the output
        does not depend on it.
    """
    if not layer.built:
        layer(**inputs)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        grads = _tensorflow_gradients(layer, inputs, wrt)
    elif backend == "jax":
        grads = _jax_gradients(layer, inputs, wrt)
    elif backend == "torch":
        grads = _torch_gradients(layer, inputs, wrt)
    else:
        raise NotImplementedError(f"no gradients for backend {backend!r}")
    targets = [inputs[wrt]] + layer.trainable_weights
    grads = [
        np.zeros(target.shape) if grad is None else ops.convert_to_numpy(grad)
        for grad, target in zip(grads, targets, strict=True)
    ]
    return grads[0], grads[1:]


def _summed_output(outputs):
    return ops.sum(ops.cast(keras.tree.flatten(outputs)[0], "float32"))


def _tensorflow_gradients(layer, inputs, wrt):
    import tensorflow as tf

    tensors = {name: tf.constant(x) for name, x in inputs.items()}
    with tf.GradientTape() as tape:
        tape.watch(tensors[wrt])
        total = _summed_output(layer(**tensors))
    return tape.gradient(total, [tensors[wrt]] + layer.trainable_weights)


def _jax_gradients(layer, inputs, wrt):
    import jax

    # `stateless_call` takes `trainable_variables` and
    # `non_trainable_variables` (seed states included), whose order may
    # differ from the weights' (layers that list weights in TFA's order).
    variables = layer.trainable_variables
    trainable = [w.value for w in variables]
    non_trainable = [w.value for w in layer.non_trainable_variables]

    def total(x, trainable):
        outputs, _ = layer.stateless_call(
            trainable, non_trainable, **{**inputs, wrt: x}
        )
        return _summed_output(outputs)

    # Under `jit`, as JAX programs take gradients: one XLA program, where
    # an eager `grad` compiles each primitive of both passes apart (the
    # GRU encoder-decoder's gradients took 15-21 s, now 7).
    x_grad, weight_grads = jax.jit(jax.grad(total, argnums=(0, 1)))(
        inputs[wrt], trainable
    )
    pairs = zip(variables, weight_grads, strict=True)
    by_variable = {id(v): g for v, g in pairs}
    return [x_grad] + [by_variable[id(w)] for w in layer.trainable_weights]


def _torch_gradients(layer, inputs, wrt):
    import torch

    # On Keras' device (the GPU when there is one), as the weights are.
    tensors = {name: ops.convert_to_tensor(x) for name, x in inputs.items()}
    tensors[wrt].requires_grad_(True)
    total = _summed_output(layer(**tensors))
    sources = [tensors[wrt]] + [w.value for w in layer.trainable_weights]
    grads = torch.autograd.grad(total, sources, allow_unused=True)
    return [None if g is None else g.detach() for g in grads]


def dtype_of(x):
    """`x`'s dtype by Keras' name (`"float32"`), on every backend."""
    return keras.backend.standardize_dtype(x.dtype)


def to_numpy(outputs):
    """Flattens a layer's outputs into a list of NumPy arrays."""
    return [ops.convert_to_numpy(y) for y in keras.tree.flatten(outputs)]


def assert_all_close(actual, expected, rtol=0.0, atol=0.0):
    """Compares two lists of arrays; equal by default."""
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
        np.testing.assert_allclose(
            a, e, rtol=rtol, atol=atol, err_msg=f"output {index}"
        )


def run_python(program):
    """Runs `program` in a fresh Python on this backend; fails if it fails.

    Returns:
        the `subprocess.CompletedProcess`, with `stdout` and `stderr` text.
    """
    return subprocess.run(
        [sys.executable, "-c", program],
        env=dict(os.environ, KERAS_BACKEND=keras.backend.backend()),
        capture_output=True,
        text=True,
        check=True,
    )


def small_seq2seq(**options):
    """A tiny built `Seq2Seq` for the `generate` tests, drawn from seed 0.

    Source vocabulary 11, target vocabulary 13, ids pad 0, bos 1, eos 2.
    The eos logit's bias is raised (1.2), so that some rows end before
    `max_length`. `options` are more `Seq2Seq` arguments (`cell="lstm"`).
    """
    keras.utils.set_random_seed(0)
    model = Seq2Seq(
        source_vocab_size=11,
        target_vocab_size=13,
        embedding_dim=4,
        encoder_units=3,
        decoder_units=6,
        attention_units=5,
        attention_layer_size=7,
        **options,
    )
    model.build()
    model.output_layer.bias.assign(np.eye(13)[model.eos_id] * 1.2)
    return model
