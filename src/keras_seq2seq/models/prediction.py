"""`Seq2Seq.predict` over batches of different target lengths.

Keras joins the outputs of `predict`'s batches along the batch axis: with
NumPy on JAX and PyTorch, which fails when the batches' target lengths
`Tt` differ, and as a `RaggedTensor` on TensorFlow; JAX and TensorFlow
also join the batches of one execution (`steps_per_execution > 1`) inside
the compiled predict function. So each batch leaves `predict_step` as one
row of logits per target step, `(B * Tt, V)`, which joins along its first
axis whatever `Tt` is, with the number of steps of each sequence, `(B,)`;
`logits_from_rows` lays the joined rows out again as `(N, T, V)`, `T` the
longest `Tt`, with zeros after each sequence's steps.
"""

import contextlib

import keras
import numpy as np
from keras import ops

# The keys of `predict_step`'s outputs that `logits_from_rows` reads.
ROWS, STEPS = "logits", "steps"


def logits_as_rows(logits, target_mask):
    """`{ROWS: (B * Tt, V), STEPS: (B,)}` from logits `(B, Tt, V)`.

    Logits at padded target steps (`target_mask` False) become zeros, as
    those `logits_from_rows` adds after a sequence, so that a batch reads
    the same whatever length other batches pad it to.
    """
    logits = ops.where(target_mask[..., None], logits, 0)
    batch_size, steps, vocab_size = ops.shape(logits)
    return {
        ROWS: ops.reshape(logits, (-1, vocab_size)),
        STEPS: ops.full((batch_size,), steps, dtype="int32"),
    }


def are_rows(outputs):
    """Whether `outputs` are `logits_as_rows`' (a subclass may return its
    own from `call` or `predict_step`)."""
    return isinstance(outputs, dict) and set(outputs) == {ROWS, STEPS}


def logits_from_rows(outputs):
    """NumPy logits `(N, T, V)` from the joined outputs of `logits_as_rows`:
    each sequence's rows, then zeros up to `T`, the longest `Tt`."""
    rows = np.asarray(outputs[ROWS])
    steps = np.asarray(outputs[STEPS])
    width = int(steps.max(initial=0))
    logits = np.zeros((len(steps), width, rows.shape[-1]), rows.dtype)
    # Row-major order: sequence by sequence, step by step, as the rows.
    logits[np.arange(width) < steps[:, None]] = rows
    return logits


@contextlib.contextmanager
def weights_kept_on_error(model):
    """Keeps `model`'s weights through a Keras `predict` or `evaluate`
    that fails, on JAX.

    Keras' JAX trainer takes the variables' values out for the call (its
    compiled step takes them as arguments and gives them back) and puts
    them back at the end, but not after an error: a step that failed left
    every weight unset, and each later call failed with "'NoneType' object
    is not callable" (Keras 3.15). After an error this puts back the state
    of the last batch that ran (Keras' own `jax_state_sync`), or, before
    any, the values the variables held before the call. (Keras' `fit`
    puts the state back in a `finally`, and checks the data's shapes
    symbolically before it takes the values out.) Other backends hold
    their variables throughout: nothing to do.
    """
    if keras.backend.backend() != "jax":
        yield
        return
    if not model.built:  # built now, so that its values can be kept
        model.build()
    variables = {id(v): v for v in (*model.variables, *model.metrics_variables)}
    kept = [(v, v.value) for v in variables.values()]
    try:
        yield
    except BaseException:
        model.jax_state_sync()  # a no-op unless a batch ran
        for variable, value in kept:
            # `_value` is None while Keras holds the value outside; a value
            # the step was given (donated) is gone, and so was the weight.
            if variable._value is None and not value.is_deleted():
                variable.assign(value)
        raise


class PredictionMixin:
    """`Seq2Seq`'s `predict`, `predict_on_batch` and `predict_step`, over
    batches of any target lengths (the rows above).

    Reads the model's `target_mask`; mixed into `Seq2Seq` before
    `keras.Model`, whose methods `super()` calls.
    """

    def predict(
        self, x, batch_size=None, verbose="auto", steps=None, callbacks=None
    ):
        """`keras.Model.predict`, over batches of any target lengths.

        Returns the logits `(N, T, V)` as a NumPy array in the model's
        compute dtype, the same on every backend: `T` is the longest
        target of the data, and every padded target step (`pad_id` in
        `target_in_ids` after the first step, and the steps after a
        shorter batch's end) has logits 0. Keras itself cannot join
        batches of different lengths (see `models/prediction.py`);
        callbacks see each batch's logits as `predict_step` returns them.
        """
        with weights_kept_on_error(self):
            outputs = super().predict(
                x,
                batch_size=batch_size,
                verbose=verbose,
                steps=steps,
                callbacks=callbacks,
            )
        return logits_from_rows(outputs) if are_rows(outputs) else outputs

    def predict_on_batch(self, x):
        """`keras.Model.predict_on_batch`: logits `(B, Tt, V)` as
        `predict` gives them, zeros at padded target steps."""
        outputs = super().predict_on_batch(x)
        return logits_from_rows(outputs) if are_rows(outputs) else outputs

    def predict_step(self, *args):
        """Keras' predict step, its logits as `{"logits": (B * Tt, V),
        "steps": (B,)}` (`models/prediction.py`), which `predict` joins
        across batches of other lengths and lays out as `(N, T, V)`."""
        # JAX's trainer passes `(state, data)` and takes `(outputs,
        # state)` back; TensorFlow's and PyTorch's pass and take one.
        outputs = super().predict_step(*args)
        stateless = keras.backend.backend() == "jax"
        logits = outputs[0] if stateless else outputs
        x, _, _ = keras.utils.unpack_x_y_sample_weight(args[-1])
        if not (ops.is_tensor(logits) and len(logits.shape) == 3):
            return outputs  # A subclass's `call` returned something else.
        rows = logits_as_rows(logits, self.target_mask(x[1]))
        return (rows, outputs[1]) if stateless else rows
