"""`dynamic_decode`'s loop as one `ops.while_loop`, for TensorFlow graphs.

In a TensorFlow graph whose number of steps has no Python value (a tensor
`maximum_iterations`; a `TrainingSampler` whose time axis is None, as in
`model.fit` on batches of several lengths; greedy decoding with no bound)
the loop is one `ops.while_loop` (TFA's `tf.while_loop`) around the same
step as the eager loop's (`DecodeLoop.step`, in `decode_loop.py`): it stops
once every row has finished or at the bound, and the results equal the
eager ones, lengths of the time axis included.

Also here: `output_buffers`, the zeros shaped as the decoder's outputs
(TFA's `TensorArray`s), which both loops use.
"""

import keras
from keras import ops

from keras_seq2seq.tfa.tensor_values import known_value


def run_graph(loop, inputs, state, histories, bound):
    """The loop as one `ops.while_loop` (TensorFlow's `tf.while_loop`),
    for a TensorFlow graph whose number of steps has no Python value.

    It runs `loop.step` (a `DecodeLoop`'s) until every row has finished or
    `bound` steps (an int scalar tensor, or `None`: no bound), so the
    results equal the eager loop's. Each step's outputs go to row `time` of
    buffers shaped from the decoder's `output_size` and `output_dtype` (as
    TFA's `TensorArray`s are; an output of another dtype is cast to the
    declared one), `bound` rows long or, with no bound, growing by a row
    per step; an alignment history likewise, after the steps it held
    already. The step sees a history of no steps (the wrapper appends its
    step to it), so the loop's variables keep their shapes.

    As in TFA: with no bound, a row that never finishes loops forever
    (so does the eager loop); under XLA `DecodeLoop.run` asks for
    `maximum_iterations` instead, as TFA did. Each write copies its
    buffer (TFA's `TensorArray` wrote in place, and `ops.scan`, which
    writes one, has a fixed number of steps): the copies grow with the
    steps times the buffers' size.

    Args:
        loop: the `DecodeLoop` whose `step`, `finished` and `lengths` the
            graph's loop runs and updates.
        inputs: the first step's inputs.
        state: the initial state, its alignment histories stacked tensors.
        histories: a bool per leaf of `state`, True where it holds an
            alignment history.
        bound: an int scalar tensor, or `None`.

    Returns:
        `(outputs, state, lengths)`: the outputs time-major.
    """
    return _GraphLoop(loop, state, histories, bound).run(inputs, state)


class _GraphLoop:
    """One `run_graph`: where the histories sit in the flat state, and the
    `ops.while_loop`'s condition and body."""

    def __init__(self, loop, state, histories, bound):
        self.loop = loop
        self.bound = bound
        self.grow = bound is None
        self.slots = [i for i, kept in enumerate(histories) if kept]
        flat_state = keras.tree.flatten(state)
        self.begins, self.empties = [], []
        for i in self.slots:
            history = flat_state[i]
            shape = tuple(ops.shape(history))
            self.begins.append(shape[0])
            self.empties.append(ops.zeros((0,) + shape[1:], history.dtype))

    def run(self, inputs, state):
        rows = _unknown_zero() if self.grow else self.bound
        flat_state = keras.tree.flatten(state)
        history_buffers = []
        for i in self.slots:
            history = flat_state[i]
            shape = tuple(ops.shape(history))
            steps = ops.zeros((rows,) + shape[1:], history.dtype)
            history_buffers.append(ops.concatenate([history, steps], axis=0))
        buffers = keras.tree.flatten(output_buffers(self.loop.decoder, rows))
        time, _, state, finished, lengths, outputs, histories = ops.while_loop(
            self.cond,
            self.body,
            (
                ops.convert_to_tensor(0, "int32"),
                inputs,
                self.without_histories(state),
                self.loop.finished,
                self.loop.lengths,
                buffers,
                history_buffers,
            ),
            # XLA needs it to compile the loop's gradient.
            maximum_iterations=self.bound,
        )
        if not self.grow:  # the rows of the steps that ran
            outputs = [_first_rows(x, time) for x in outputs]
            histories = [
                _first_rows(x, begin + time)
                for x, begin in zip(histories, self.begins, strict=True)
            ]
        flat = keras.tree.flatten(state)
        for i, history in zip(self.slots, histories, strict=True):
            flat[i] = history
        state = keras.tree.pack_sequence_as(state, flat)
        outputs = keras.tree.pack_sequence_as(
            self.loop.decoder.output_dtype, outputs
        )
        self.loop.finished, self.loop.lengths = finished, lengths
        return outputs, state, lengths

    def without_histories(self, structure):
        flat = keras.tree.flatten(structure)
        for i, empty in zip(self.slots, self.empties, strict=True):
            flat[i] = empty
        return keras.tree.pack_sequence_as(structure, flat)

    def cond(self, time, inputs, state, finished, *_):
        going = ops.logical_not(ops.all(finished))
        if self.bound is not None:
            going = ops.logical_and(going, ops.less(time, self.bound))
        return going

    def body(self, time, inputs, state, finished, lengths, outputs, histories):
        loop, grow = self.loop, self.grow
        loop.finished, loop.lengths = finished, lengths
        step_outputs, next_inputs, next_state = loop.step(
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
                histories, self.begins, self.slots, strict=True
            )
        ]
        next_state = self.without_histories(next_state)
        return (
            time + 1,
            next_inputs,
            next_state,
            loop.finished,
            loop.lengths,
            outputs,
            histories,
        )


def output_buffers(decoder, steps):
    """Zeros `(steps, B, ...)` in the structure, shapes and dtypes of the
    decoder's outputs (its `output_size` and `output_dtype`, from which TFA
    makes its `TensorArray`s). `steps` and `B` may be int scalar tensors."""
    batch_size = decoder.batch_size
    known = known_value(batch_size)
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
