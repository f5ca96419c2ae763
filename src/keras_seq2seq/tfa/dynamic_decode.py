"""TFA's `dynamic_decode`: the loop that drives a `Decoder`.

`dynamic_decode` calls the decoder's `initialize` once and its `step` until
every row has finished, with TFA's bookkeeping: finished rows, sequence
lengths, `impute_finished`, `maximum_iterations` (None or > 0), and an
early stop once every row has finished.

The loop is a Python loop over `keras.ops` steps, so that decoders whose
state grows by one entry per step (the wrapper's alignment history, TFA's
`TensorArray`) and outputs of any nested structure work on every backend.
The loop carries such a history as its plain stacked tensor; the final
state gets back the `AlignmentHistory` (TFA's `TensorArray` API) that the
initial state had. Eagerly the loop stops as soon as every row has
finished, and the time axis has TFA's data-dependent length. Inside a
compiled function (`tf.function`, `jax.jit`) tensors have no value to stop
on: the loop then runs a static number of steps (`maximum_iterations`, else
the decoder's `steps_bound`, the input length of a `TrainingSampler`), and
steps after every row has finished emit zeros, change no state and add a
step of zeros to a history, so the results equal the eager ones padded to
that length.
"""

import keras
from keras import ops

from keras_seq2seq.ops import tracing_shapes
from keras_seq2seq.tfa.alignment_history import (
    restore_histories,
    stack_histories,
)


def dynamic_decode(
    decoder,
    output_time_major=False,
    impute_finished=False,
    maximum_iterations=None,
    parallel_iterations=32,
    swap_memory=False,
    training=None,
    scope=None,
    enable_tflite_convertible=False,
    **kwargs,
):
    """Runs `decoder` step by step until every row has finished (TFA's).

    A row's length is the number of steps until it finished, that step
    included (for a greedy decoder: the end token counts). With
    `impute_finished`, a row's outputs after it finished are zeros and its
    state is copied through (state entries that grow by one per step, such
    as `alignment_history`, keep recording, as TFA's `TensorArray`s do).

    Args:
        decoder: a `Decoder` (or `BaseDecoder`).
        output_time_major: bool. Outputs `(T, B, ...)` instead of
            `(B, T, ...)`. Defaults to `False`.
        impute_finished: bool. Defaults to `False`.
        maximum_iterations: optional int > 0 (a Python int or an int scalar
            tensor). The most steps. Defaults to `None` (until every row
            has finished).
        parallel_iterations: accepted for TFA compatibility; no effect.
        swap_memory: accepted for TFA compatibility; no effect.
        training: optional bool, passed to `decoder.step`.
        scope: accepted for TFA compatibility; no effect.
        enable_tflite_convertible: accepted for TFA compatibility; no
            effect.
        **kwargs: `decoder_init_input` (the first argument of
            `decoder.initialize`) and `decoder_init_kwargs` (a dict of its
            keyword arguments), for a decoder that is a Keras layer
            (`BaseDecoder`); TFA's `Decoder` interface is initialized
            with no arguments.

    Returns:
        `(final_outputs, final_state, final_sequence_lengths)`: the step
        outputs stacked over time (batch-major unless `output_time_major`),
        after `decoder.finalize` when the decoder has one; the last state;
        int32 lengths `(B,)` (or the state's `lengths` for a decoder that
        tracks its own finished flags).

    Raises:
        TypeError: when `decoder` has no `initialize` and `step`.
        ValueError: for a bad `maximum_iterations`, unknown keyword
            arguments, a compiled call with no bound on the steps, or
            `impute_finished` with beam search's `(B, K)` flags.
    """
    del parallel_iterations, swap_memory, scope, enable_tflite_convertible
    if not all(hasattr(decoder, name) for name in ("initialize", "step")):
        raise TypeError(
            "Expected decoder to be a tfa Decoder or BaseDecoder. "
            f"Received: {type(decoder).__name__}"
        )
    limit = check_maximum_iterations(maximum_iterations)
    if maximum_iterations is not None and limit is None:
        raise ValueError(
            "Inside a compiled function `maximum_iterations` must be a "
            "Python int (a traced tensor has no value to bound the loop). "
            f"Received: maximum_iterations={maximum_iterations!r}"
        )
    init_input = kwargs.pop("decoder_init_input", None)
    init_kwargs = kwargs.pop("decoder_init_kwargs", None) or {}
    if kwargs:
        raise ValueError(
            "dynamic_decode takes `decoder_init_input` and "
            f"`decoder_init_kwargs` only. Received: {sorted(kwargs)}"
        )
    if isinstance(decoder, keras.layers.Layer):
        finished, inputs, initial_state = decoder.initialize(
            init_input, **init_kwargs
        )
    else:
        # TFA's `Decoder` interface (not a layer) sets itself up in its
        # constructor: `initialize()` takes no inputs.
        finished, inputs, initial_state = decoder.initialize()
    if impute_finished and len(ops.shape(finished)) > 1:
        # TFA's copy of finished rows broadcasts the (B, K) flags over one
        # more axis than the (B, K) log-probs have, and raises; freezing
        # beams would also corrupt their backtracking.
        raise ValueError(
            "`impute_finished=True` cannot freeze the rows of a decoder "
            "whose finished flags are (B, K) (beam search); TFA raises "
            "too. Use impute_finished=False."
        )
    loop = _Loop(decoder, impute_finished, training, finished, limit)
    emitted, state, lengths = loop.run(inputs, stack_histories(initial_state))
    state = restore_histories(state, like=initial_state)
    if emitted:
        outputs = keras.tree.map_structure(
            lambda *steps: ops.stack(steps, axis=0), *emitted
        )
    else:
        outputs = _empty_outputs(decoder)
    try:
        outputs, state = decoder.finalize(outputs, state, lengths)
    except NotImplementedError:
        pass
    if not output_time_major:
        outputs = keras.tree.map_structure(_batch_major, outputs)
    return outputs, state, lengths


class _Loop:
    """The bookkeeping of one `dynamic_decode` run."""

    def __init__(self, decoder, impute_finished, training, finished, limit):
        self.decoder = decoder
        self.impute_finished = impute_finished
        self.training = training
        self.finished = ops.cast(finished, "bool")
        self.limit = limit
        self.lengths = ops.zeros(ops.shape(self.finished), "int32")

    def run(self, inputs, state):
        emitted = []
        time = 0
        # Keras tracing the output shapes (`BaseDecoder.compute_output_spec`,
        # or PyTorch's run on ones before `fit`) hands over stand-in values,
        # whatever the data says: the inputs' static length, else one step,
        # gives the shapes.
        shapes_only = tracing_shapes()
        while True:
            all_finished = None if shapes_only else known_all(self.finished)
            if all_finished is None:  # traced: the steps must be static
                if shapes_only:
                    bound = self.decoder.steps_bound or 1
                else:
                    bound = self.static_bound()
                if time >= bound:
                    break
            elif all_finished or self.limit is not None and time >= self.limit:
                break
            outputs, inputs, state = self.step(
                time, inputs, state, frozen=all_finished is None
            )
            emitted.append(outputs)
            time += 1
        return emitted, state, self.lengths

    def static_bound(self):
        bound = self.limit
        if bound is None:
            bound = self.decoder.steps_bound
        if bound is None:
            raise ValueError(
                "Inside a compiled function dynamic_decode runs a fixed "
                "number of steps and cannot stop on a tensor's value: pass "
                "`maximum_iterations`, or keep the inputs' time axis "
                "static (a tf.function traced for batches of several "
                "lengths sees it as None: pad the batches to one length or "
                "give it an input_signature with a fixed length)."
            )
        return bound

    def step(self, time, inputs, state, frozen):
        finished, lengths = self.finished, self.lengths
        t = ops.convert_to_tensor(time, "int32")
        # `training` is positional, as TFA passes it: TF1-style decoders
        # name their fourth argument otherwise.
        outputs, next_state, next_inputs, step_finished = self.decoder.step(
            t, inputs, state, self.training
        )
        own_lengths = None
        if self.decoder.tracks_own_finished:
            next_finished = ops.cast(step_finished, "bool")
            own_lengths = getattr(next_state, "lengths", None)
        else:
            next_finished = ops.logical_or(step_finished, finished)
        if own_lengths is not None:
            next_lengths = ops.cast(own_lengths, "int32")
        else:
            next_lengths = ops.where(
                finished, lengths, ops.full_like(lengths, time + 1)
            )
        if self.impute_finished:
            outputs = _zero_where(finished, outputs)
            next_state = _copy_where(finished, state, next_state)
        if frozen:
            # Compiled: steps after every row finished must change nothing.
            done = ops.all(finished)
            outputs = _zero_where(done, outputs)
            next_state = _copy_where(done, state, next_state)
            next_inputs = _copy_where(done, inputs, next_inputs)
            next_finished = ops.where(done, finished, next_finished)
            next_lengths = ops.where(done, lengths, next_lengths)
        self.finished, self.lengths = next_finished, next_lengths
        return outputs, next_inputs, next_state


def check_maximum_iterations(maximum_iterations):
    """`maximum_iterations` as a Python int, checked as TFA checks it.

    TFA takes `None`, a Python int or an int scalar tensor, and asserts that
    the value is > 0.

    Returns:
        The int, `None` for `None`, or `None` for a tensor that has no
        value yet (traced inside a compiled function).

    Raises:
        ValueError: for anything else: 0, a negative number, a bool, a
            float, a list, a tensor that is not an int scalar.
    """
    if maximum_iterations is None:
        return None
    value = maximum_iterations
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, (bool, int)):
        dtype = keras.backend.standardize_dtype(value.dtype)
        if tuple(shape) == () and "int" in dtype:
            value = _known_value(value)
            if value is None:
                return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            "`maximum_iterations` must be None or an int > 0 (a Python int "
            "or an int scalar tensor). "
            f"Received: maximum_iterations={maximum_iterations!r}"
        )
    return value


def _known_value(scalar):
    """The Python int value of an int scalar tensor, or `None` when it has
    no value (a traced tensor; see `known_all`)."""
    try:
        return int(ops.convert_to_numpy(scalar))
    except (NotImplementedError, TypeError):
        return None


def known_all(flags):
    """`all(flags)` as a Python bool, or `None` when `flags` has no value.

    Inside `tf.function` and `jax.jit` a tensor is symbolic until the
    compiled program runs; converting it raises (TensorFlow:
    NotImplementedError; JAX: a TypeError subclass).
    """
    try:
        return bool(ops.convert_to_numpy(ops.all(flags)))
    except (NotImplementedError, TypeError):
        return None


def _expand_to(flags, x):
    """`flags` `(B, ...)` with trailing axes to broadcast against `x`."""
    extra = len(x.shape) - len(flags.shape)
    return ops.reshape(flags, tuple(ops.shape(flags)) + (1,) * extra)


def _zero_where(flags, structure):
    def zero(x):
        if len(x.shape) < len(flags.shape):
            return x
        return ops.where(_expand_to(flags, x), ops.zeros_like(x), x)

    return keras.tree.map_structure(zero, structure)


def _copy_where(flags, old, new):
    """`old` where `flags`, else `new`, for each entry of the structures.

    Scalars pass through as `new`. An entry that grew by one step (an
    alignment history, TFA's `TensorArray`) records every step for rows
    flagged `(B,)` (TFA's `impute_finished`); for a scalar flag (a
    compiled step after decoding ended) its new step is zeros.
    """

    def copy(old_x, new_x):
        if len(new_x.shape) == 0 or len(new_x.shape) < len(flags.shape):
            return new_x
        # A history has more steps; other entries may differ in the static
        # shape only (a graph's batch axis: None before, 2 after).
        if _grew(old_x, new_x):
            if len(flags.shape) > 0:
                return new_x
            step = ops.zeros_like(new_x[-1:])
            old_x = ops.concatenate([old_x, step], axis=0)
        return ops.where(_expand_to(flags, new_x), old_x, new_x)

    new = keras.tree.pack_sequence_as(old, keras.tree.flatten(new))
    return keras.tree.map_structure(copy, old, new)


def _grew(old, new):
    """Whether `new` has more steps than `old` on its first axis (statically
    known: an unknown size, a graph's batch axis, is no growth)."""
    before, after = old.shape[0], new.shape[0]
    return isinstance(before, int) and isinstance(after, int) and after > before


def _empty_outputs(decoder):
    """Zero-step outputs `(0, B, ...)` from the decoder's sizes and dtypes."""
    batch_size = int(ops.convert_to_numpy(decoder.batch_size))
    shapes = []
    keras.tree.map_shape_structure(
        lambda s: shapes.append((s,) if isinstance(s, int) else tuple(s)),
        decoder.output_size,
    )
    dtypes = keras.tree.flatten(decoder.output_dtype)
    zeros = [
        ops.zeros((0, batch_size) + shape, dtype)
        for shape, dtype in zip(shapes, dtypes, strict=True)
    ]
    return keras.tree.pack_sequence_as(decoder.output_dtype, zeros)


def _batch_major(x):
    if len(x.shape) < 2:
        return x
    return ops.swapaxes(x, 0, 1)
