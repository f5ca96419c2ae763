"""TFA's `AttentionWrapperState`: the state an `AttentionWrapper` carries."""

import collections

import keras
from keras import ops

from keras_seq2seq.tfa.alignment_history import stack_histories

_FIELDS = (
    "cell_state",
    "attention",
    "alignments",
    "alignment_history",
    "attention_state",
)


class AttentionWrapperState(
    collections.namedtuple("AttentionWrapperState", _FIELDS)
):
    """TFA's wrapper state.

    With a list of mechanisms (even a list of one, as in TFA) the fields
    `alignments`, `alignment_history` and `attention_state` are tuples with
    one entry per mechanism, in the list's order.

    Fields:
        cell_state: the wrapped cell's state (a tensor for a single-state cell
            such as `GRUCell`, a list `[h, c]` for `LSTMCell`).
        attention: `(B, A)` attention vector of the last step (with several
            mechanisms, their attentions concatenated).
        alignments: `(B, T)` alignments of the last step.
        alignment_history: when the wrapper keeps it, an
            `AlignmentHistory`, read as TFA's `TensorArray`:
            `alignment_history.stack()` is time-major `(steps, B, T)`;
            else `()`.
        attention_state: `(B, T)` the mechanism's state (its alignments).
    """

    def clone(self, **kwargs):
        """A copy with the given fields replaced (TFA's `clone`).

        As in TFA, each new tensor must have the shape of the one it
        replaces (dimensions not known statically are not compared); a
        list may replace a tuple, and `()` any field (to drop an alignment
        history before returning the state from a compiled function).

        Raises:
            ValueError: for a new field of another shape or with another
                number of tensors (an LSTM state given as one tensor).
        """
        for name, new in kwargs.items():
            _check_same_shapes(name, getattr(self, name), new)
        return self._replace(**kwargs)


def _check_same_shapes(name, old, new):
    """Raises a ValueError unless `new` has the tensors shapes of `old`."""
    old_leaves = keras.tree.flatten(stack_histories(old))
    new_leaves = keras.tree.flatten(stack_histories(new))
    if not new_leaves:
        return
    if len(old_leaves) != len(new_leaves):
        raise ValueError(
            f"clone({name}=...) must keep the structure of the state: "
            f"{len(old_leaves)} tensors, not {len(new_leaves)}."
        )
    for old_x, new_x in zip(old_leaves, new_leaves, strict=True):
        old_shape = tuple(getattr(old_x, "shape", ()))
        new_shape = tuple(ops.shape(new_x))
        known = [
            (a, b)
            for a, b in zip(old_shape, new_shape, strict=False)
            if isinstance(a, int) and isinstance(b, int)
        ]
        if len(old_shape) != len(new_shape) or any(a != b for a, b in known):
            raise ValueError(
                "The shape of the AttentionWrapperState is expected to be "
                f"the same as the one to clone: {name} has shape {old_shape}, "
                f"received {new_shape}."
            )
