"""`dynamic_decode`'s loop: TFA's bookkeeping around one decoder step.

`DecodeLoop.step` runs the decoder's `step` once and keeps TFA's books:
finished rows, sequence lengths, `impute_finished`. `DecodeLoop.run` is a
Python loop over those steps, so that decoders whose state grows by one
entry per step (the wrapper's alignment history, TFA's `TensorArray`) and
outputs of any nested structure work on every backend. Eagerly the loop
stops as soon as every row has finished, and the time axis has TFA's
data-dependent length. Inside a compiled function (`tf.function`,
`jax.jit`) tensors have no value to stop on: the loop then runs a static
number of steps (`maximum_iterations`, else the decoder's `steps_bound`,
the input length of a `TrainingSampler`), and steps after every row has
finished emit zeros, change no state and add a step of zeros to a history,
so the results equal the eager ones padded to that length. A TensorFlow
graph whose number of steps has no Python value runs the same step in one
`ops.while_loop` instead (`graph_decode_loop.py`).
"""

import keras
from keras import ops

from keras_seq2seq.decoding.compile import in_xla_function
from keras_seq2seq.ops import tracing_shapes
from keras_seq2seq.tfa.graph_decode_loop import output_buffers, run_graph
from keras_seq2seq.tfa.samplers.sampler import expand_to
from keras_seq2seq.tfa.tensor_values import known_all


class DecodeLoop:
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
            if bound is None and in_xla_function():
                raise ValueError(
                    "maximum_iterations is required for XLA compilation "
                    "(as in TFA): with no bound the loop's buffers grow by "
                    "a step per step, which XLA cannot compile."
                )
            if not isinstance(bound, int):
                return run_graph(self, inputs, state, histories, bound)
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
            outputs = output_buffers(self.decoder, 0)
        return outputs, state, self.lengths

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


def _zero_where(flags, structure):
    def zero(x):
        if len(x.shape) < len(flags.shape):
            return x
        return ops.where(expand_to(flags, x), ops.zeros_like(x), x)

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
        return ops.where(expand_to(flags, new_x), old_x, new_x)

    new = keras.tree.pack_sequence_as(old, keras.tree.flatten(new))
    return keras.tree.map_structure(copy, old, new)


def _grew(old, new):
    """Whether `new` has more steps than `old` on its first axis (statically
    known: an unknown size, a graph's batch axis, is no growth)."""
    before, after = old.shape[0], new.shape[0]
    return isinstance(before, int) and isinstance(after, int) and after > before
