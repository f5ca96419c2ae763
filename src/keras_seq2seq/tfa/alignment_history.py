"""TFA's `alignment_history`: a `TensorArray`'s read API over a tensor.

In TFA, `AttentionWrapperState.alignment_history` is a `tf.TensorArray`
that the wrapper writes one step's alignments `(B, Ts)` to, and programs
read it with `stack()` (time-major `(steps, B, Ts)`), `read(t)`, `size()`
or `gather(ts)`. Here it is an `AlignmentHistory` over the stacked tensor,
on every backend. The computations never carry it: the wrapper's `call`
and every decoding loop work on the plain stacked tensor, and only what a
program gets back (the wrapper's next state, `dynamic_decode`'s final
state) holds an `AlignmentHistory` where the state it gave had one.
"""

import keras
import numpy as np
from keras import ops


class AlignmentHistory:
    """The alignments of every step so far, read as TFA's `TensorArray`.

    `np.asarray(history)`, `shape` and `dtype` give the stacked array, as
    the plain tensor that this class replaces did. A compiled function
    (`tf.function`, `jax.jit`) must return `history.stack()`, not the
    history: compilers only return tensors and their structures.

    Args:
        values: `(steps, B, Ts)` the stacked alignments.

    Example:

    >>> history = AlignmentHistory(ops.ones((3, 2, 5)) / 5)
    >>> int(history.size()), tuple(history.stack().shape)
    (3, (3, 2, 5))
    >>> tuple(history.read(0).shape), np.asarray(history).shape
    ((2, 5), (3, 2, 5))
    """

    def __init__(self, values):
        self._values = values

    @property
    def shape(self):
        """The stacked shape `(steps, B, Ts)`."""
        return self._values.shape

    @property
    def element_shape(self):
        """One step's shape `(B, Ts)` (TensorArray's)."""
        return self._values.shape[1:]

    @property
    def dtype(self):
        """The alignments' dtype, a Keras dtype name (`"float32"`)."""
        return keras.backend.standardize_dtype(self._values.dtype)

    def stack(self, name=None):
        """Every step, time-major: `(steps, B, Ts)`."""
        del name  # TFA's op name; no effect.
        return self._values

    def read(self, index, name=None):
        """The alignments `(B, Ts)` of step `index`.

        Raises:
            IndexError: for a Python int outside `[0, steps)`.
        """
        del name
        steps = self._values.shape[0]
        if isinstance(index, int) and not 0 <= index < steps:
            raise IndexError(
                f"Tried to read step {index} of an alignment history of "
                f"{steps} steps."
            )
        return ops.take(self._values, index, axis=0)

    def gather(self, indices, name=None):
        """The alignments of the steps `indices`: `(len(indices), B, Ts)`."""
        del name
        indices = ops.convert_to_tensor(indices, "int32")
        return ops.take(self._values, indices, axis=0)

    def size(self, name=None):
        """The number of steps, an int32 scalar tensor."""
        del name
        return ops.convert_to_tensor(ops.shape(self._values)[0], "int32")

    def unstack(self, value, name=None):
        """A new history holding the steps of `value` `(steps, B, Ts)`."""
        del name
        return AlignmentHistory(ops.convert_to_tensor(value))

    def __array__(self, dtype=None, copy=None):
        try:
            values = ops.convert_to_numpy(self._values)
        except (NotImplementedError, TypeError) as error:
            # A traced tensor has no value (TensorFlow raises
            # NotImplementedError, JAX a TypeError subclass).
            raise TypeError(
                "An alignment history inside a compiled function has no "
                "value: return `alignment_history.stack()` instead."
            ) from error
        return np.asarray(values, dtype=dtype)

    def __repr__(self):
        return (
            f"AlignmentHistory(size={self.shape[0]}, "
            f"element_shape={tuple(self.element_shape)}, dtype={self.dtype})"
        )


def stack_histories(structure):
    """`structure` with each `AlignmentHistory` replaced by its tensor."""
    return keras.tree.map_structure(
        lambda x: x.stack() if isinstance(x, AlignmentHistory) else x,
        structure,
    )


def restore_histories(structure, like):
    """`structure` with an `AlignmentHistory` wherever `like`, a structure
    of the same nesting (the state before `stack_histories`), has one."""
    leaves = [
        AlignmentHistory(x) if isinstance(kind, AlignmentHistory) else x
        for kind, x in zip(
            keras.tree.flatten(like), keras.tree.flatten(structure), strict=True
        )
    ]
    return keras.tree.pack_sequence_as(structure, leaves)
