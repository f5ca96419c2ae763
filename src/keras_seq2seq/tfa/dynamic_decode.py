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

In a TensorFlow graph whose number of steps has no Python value (a tensor
`maximum_iterations`; a `TrainingSampler` whose time axis is None, as in
`model.fit` on batches of several lengths; greedy decoding with no bound)
the loop is one `ops.while_loop` (TFA's `tf.while_loop`) around the same
step: it stops once every row has finished or at the bound, and the
results equal the eager ones, lengths of the time axis included.
"""

import keras
from keras import ops

from keras_seq2seq.ops import tracing_shapes
from keras_seq2seq.tfa.alignment_history import (
    AlignmentHistory,
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
            tensor; inside `jax.jit` a Python int). The most steps.
            Defaults to `None` (until every row has finished).
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
            arguments, a `jax.jit` call with no static bound on the steps,
            or `impute_finished` with beam search's `(B, K)` flags.
    """
    del parallel_iterations, swap_memory, scope, enable_tflite_convertible
    if not all(hasattr(decoder, name) for name in ("initialize", "step")):
        raise TypeError(
            "Expected decoder to be a tfa Decoder or BaseDecoder. "
            f"Received: {type(decoder).__name__}"
        )
    limit = check_maximum_iterations(maximum_iterations)
    if maximum_iterations is not None and limit is None:
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                "Inside a compiled function `maximum_iterations` must be a "
                "Python int (a traced tensor has no value to bound the "
                "loop). "
                f"Received: maximum_iterations={maximum_iterations!r}"
            )
        # A tensor of a TensorFlow graph: the graph's loop stops on it.
        limit = ops.cast(maximum_iterations, "int32")
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
    histories = [
        isinstance(x, AlignmentHistory)
        for x in keras.tree.flatten(initial_state)
    ]
    outputs, state, lengths = loop.run(
        inputs, stack_histories(initial_state), histories
    )
    state = restore_histories(state, like=initial_state)
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

    def run(self, inputs, state, histories):
        """Returns `(outputs, state, lengths)`: the outputs time-major.

        `histories`: a bool per leaf of `state`, True where it holds an
        alignment history (a tensor that grows by one step per step).
        """
        # Keras tracing the output shapes (`BaseDecoder.compute_output_spec`,
        # or PyTorch's run on ones before `fit`) hands over stand-in values,
        # whatever the data says: the inputs' static length, else one step,
        # gives the shapes.
        shapes_only = tracing_shapes()
        traced = not shapes_only and known_all(self.finished) is None
        if traced and keras.backend.backend() == "tensorflow":
            bound = self.bound()
            if not isinstance(bound, int):
                return self.run_graph(inputs, state, histories, bound)
        emitted = []
        time = 0
        while True:
            all_finished = None if shapes_only else known_all(self.finished)
            if all_finished is None:  # traced: the steps must be static
                if shapes_only:
                    bound = self.decoder.steps_bound
                    bound = bound if isinstance(bound, int) else 1
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
        if emitted:
            outputs = keras.tree.map_structure(
                lambda *steps: ops.stack(steps, axis=0), *emitted
            )
        else:
            outputs = _output_buffers(self.decoder, 0)
        return outputs, state, self.lengths

    def run_graph(self, inputs, state, histories, bound):
        """The loop as one `ops.while_loop` (TensorFlow's `tf.while_loop`),
        for a TensorFlow graph whose number of steps has no Python value.

        It runs `step` until every row has finished or `bound` steps (an
        int scalar tensor, or `None`: no bound), so the results equal the
        eager loop's. Each step's outputs go to row `time` of buffers
        shaped from the decoder's `output_size` and `output_dtype` (as
        TFA's `TensorArray`s are; an output of another dtype is cast to
        the declared one), `bound` rows long or, with no bound,
        growing by a row per step; an alignment history likewise, after
        the steps it held already. The step sees a history of no steps
        (the wrapper appends its step to it), so the loop's variables keep
        their shapes.

        As in TFA: with no bound, a row that never finishes loops forever
        (so does the eager loop), and XLA cannot compile the loop (TFA
        asks for `maximum_iterations` under XLA). Each write copies its
        buffer (TFA's `TensorArray` wrote in place, and `ops.scan`, which
        writes one, has a fixed number of steps): the copies grow with the
        steps times the buffers' size.
        """
        grow = bound is None
        rows = _unknown_zero() if grow else bound
        flat_state = keras.tree.flatten(state)
        slots = [i for i, kept in enumerate(histories) if kept]
        begins, empties, history_buffers = [], [], []
        for i in slots:
            history = flat_state[i]
            shape = tuple(ops.shape(history))
            begins.append(shape[0])
            empties.append(ops.zeros((0,) + shape[1:], history.dtype))
            steps = ops.zeros((rows,) + shape[1:], history.dtype)
            history_buffers.append(ops.concatenate([history, steps], axis=0))
        output_buffers = keras.tree.flatten(_output_buffers(self.decoder, rows))

        def without_histories(structure):
            flat = keras.tree.flatten(structure)
            for i, empty in zip(slots, empties, strict=True):
                flat[i] = empty
            return keras.tree.pack_sequence_as(structure, flat)

        def cond(time, inputs, state, finished, *_):
            going = ops.logical_not(ops.all(finished))
            if bound is not None:
                going = ops.logical_and(going, ops.less(time, bound))
            return going

        def body(time, inputs, state, finished, lengths, outputs, histories):
            self.finished, self.lengths = finished, lengths
            step_outputs, next_inputs, next_state = self.step(
                time, inputs, state, frozen=False
            )
            step_outputs = keras.tree.flatten(step_outputs)
            outputs = [
                _write(buffer, time, ops.expand_dims(x, 0), grow)
                for buffer, x in zip(outputs, step_outputs, strict=True)
            ]
            flat = keras.tree.flatten(next_state)
            histories = [
                _write(buffer, begin + time, flat[i], grow)
                for buffer, begin, i in zip(
                    histories, begins, slots, strict=True
                )
            ]
            next_state = without_histories(next_state)
            return (
                time + 1,
                next_inputs,
                next_state,
                self.finished,
                self.lengths,
                outputs,
                histories,
            )

        time, _, state, finished, lengths, outputs, histories = ops.while_loop(
            cond,
            body,
            (
                ops.convert_to_tensor(0, "int32"),
                inputs,
                without_histories(state),
                self.finished,
                self.lengths,
                output_buffers,
                history_buffers,
            ),
            # XLA needs it to compile the loop's gradient.
            maximum_iterations=bound,
        )
        if not grow:  # the rows of the steps that ran
            outputs = [_first_rows(x, time) for x in outputs]
            histories = [
                _first_rows(x, begin + time)
                for x, begin in zip(histories, begins, strict=True)
            ]
        flat = keras.tree.flatten(state)
        for i, history in zip(slots, histories, strict=True):
            flat[i] = history
        state = keras.tree.pack_sequence_as(state, flat)
        outputs = keras.tree.pack_sequence_as(
            self.decoder.output_dtype, outputs
        )
        self.finished, self.lengths = finished, lengths
        return outputs, state, lengths

    def bound(self):
        """`maximum_iterations`, else the decoder's `steps_bound`: a Python
        int, an int scalar tensor (TensorFlow graphs) or `None`."""
        if self.limit is not None:
            return self.limit
        return self.decoder.steps_bound

    def static_bound(self):
        bound = self.bound()
        if not isinstance(bound, int):
            # TensorFlow's graphs run `run_graph` instead.
            raise ValueError(
                "Inside a compiled function (jax.jit) dynamic_decode runs a "
                "fixed number of steps and cannot stop on a tensor's value: "
                "pass `maximum_iterations` (a Python int), or keep the "
                "inputs' time axis static."
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


def _output_buffers(decoder, steps):
    """Zeros `(steps, B, ...)` in the structure, shapes and dtypes of the
    decoder's outputs (its `output_size` and `output_dtype`, from which TFA
    makes its `TensorArray`s). `steps` and `B` may be int scalar tensors."""
    batch_size = decoder.batch_size
    known = _known_value(batch_size)
    batch_size = batch_size if known is None else known
    shapes = []
    keras.tree.map_shape_structure(
        lambda s: shapes.append((s,) if isinstance(s, int) else tuple(s)),
        decoder.output_size,
    )
    dtypes = keras.tree.flatten(decoder.output_dtype)
    zeros = [
        ops.zeros((steps, batch_size) + shape, dtype)
        for shape, dtype in zip(shapes, dtypes, strict=True)
    ]
    return keras.tree.pack_sequence_as(decoder.output_dtype, zeros)


def _unknown_zero():
    """An int32 zero whose value a TensorFlow graph does not know while it
    is built.

    `tf.while_loop` keeps the static shape of each loop variable, and
    `ops.while_loop` takes no `shape_invariants`: a buffer that grows by a
    row per step must start with a first axis of unknown length. Zeros of a
    constant length have a known one (TensorFlow folds constants into
    static shapes); a while loop's result is not folded.
    """
    (zero,) = ops.while_loop(
        lambda n: ops.less(n, 0), lambda n: (n,), (ops.zeros((), "int32"),)
    )
    return zero


def _write(buffer, index, rows, grow):
    """`buffer` with `rows` `(1, ...)` at `index` on its first axis, after
    a row of zeros is appended when `grow`.

    Neither op keeps the buffer for the gradient (a `concatenate` would
    keep every step's buffer: memory quadratic in the steps), and both
    have gradients on TensorFlow (`slice_update` has none there).
    """
    if grow:
        buffer = ops.pad(buffer, [[0, 1]] + [[0, 0]] * (len(buffer.shape) - 1))
    index = ops.reshape(ops.cast(index, "int32"), (1, 1))
    return ops.scatter_update(buffer, index, ops.cast(rows, buffer.dtype))


def _first_rows(x, count):
    """The first `count` rows of `x` (`count` an int scalar tensor)."""
    shape = (count,) + tuple(ops.shape(x))[1:]
    return ops.slice(x, [0] * len(x.shape), shape)


def _batch_major(x):
    if len(x.shape) < 2:
        return x
    return ops.swapaxes(x, 0, 1)
