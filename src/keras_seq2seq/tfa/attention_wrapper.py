"""TFA's `AttentionWrapper` and its state, over `AttentionRNNCell`."""

import collections

import keras
from keras import ops

from keras_seq2seq.decoder.attention_rnn_cell import (
    AttentionRNNCell,
    DecoderState,
)
from keras_seq2seq.tfa.alignment_history import (
    AlignmentHistory,
    restore_histories,
    stack_histories,
)
from keras_seq2seq.tfa.attention_mechanisms import AttentionMechanism

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

    Fields:
        cell_state: the wrapped cell's state (a tensor for a single-state cell
            such as `GRUCell`, a list `[h, c]` for `LSTMCell`).
        attention: `(B, A)` attention vector of the last step.
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


class AttentionWrapper(keras.layers.Layer):
    """TFA's `AttentionWrapper`: a cell with attention, TFA's (luong) order.

    The cell runs on `[input_t; previous attention]`, its new output queries
    the mechanism, and the attention is `W [cell_output; context]` (no bias)
    with `attention_layer_size`, else the context. Every computation is
    `keras_seq2seq.decoder.AttentionRNNCell` with `query_order="luong"`.

    Args:
        cell: a Keras RNN cell.
        attention_mechanism: a `keras_seq2seq.tfa` mechanism (one; lists of
            mechanisms are not supported).
        attention_layer_size: optional int, or a list of one int (TFA's
            one size per mechanism). Defaults to `None`.
        alignment_history: bool. Keep every step's alignments. Defaults to
            `False`.
        cell_input_fn: must be `None` (TFA's default concatenation).
        output_attention: bool. Output the attention (True) or the cell
            output. Defaults to `True`.
        initial_cell_state: optional cell state for `get_initial_state`.
        name: optional layer name.

    Call arguments:
        inputs: `(B, E)` the step's input.
        state: `AttentionWrapperState`.

    Returns:
        `(output, next_state)`.
    """

    def __init__(
        self,
        cell,
        attention_mechanism,
        attention_layer_size=None,
        alignment_history=False,
        cell_input_fn=None,
        output_attention=True,
        initial_cell_state=None,
        name=None,
        attention_layer=None,
        attention_fn=None,
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not isinstance(attention_mechanism, AttentionMechanism):
            raise ValueError(
                "`attention_mechanism` must be one keras_seq2seq.tfa "
                "mechanism (lists of mechanisms are not supported). "
                f"Received: {attention_mechanism!r}"
            )
        attention_layer_size = _single_size(attention_layer_size)
        for option, value in (
            ("cell_input_fn", cell_input_fn),
            ("attention_layer", attention_layer),
            ("attention_fn", attention_fn),
        ):
            if value is not None:
                raise ValueError(
                    f"`{option}` is not supported; use attention_layer_size. "
                    f"Received: {option}={value!r}"
                )
        self.attention_mechanism = attention_mechanism
        self.core = AttentionRNNCell(
            cell,
            attention_mechanism.core,
            query_order="luong",
            attention_layer_size=attention_layer_size,
            input_feeding=True,
            output_attention=output_attention,
            name="core",
        )
        self.cell = cell
        self.attention_layer_size = attention_layer_size
        self.alignment_history = alignment_history
        self.output_attention = output_attention
        self.initial_cell_state = initial_cell_state
        if initial_cell_state is not None and (
            attention_mechanism.memory_initialized
        ):
            _check_batch_size(
                _batch_size_of(initial_cell_state),
                attention_mechanism.batch_size,
                "initial_cell_state",
            )

    def build(self, inputs_shape, state_shape=None):
        memory = self._memory()
        query_depth = self.attention_mechanism.query_depth
        if (
            query_depth is not None
            and query_depth != self.core.cell_output_size
        ):
            raise ValueError(
                f"{type(self.attention_mechanism).__name__}(units="
                f"{query_depth}) scores queries of depth {query_depth}, but "
                f"the cell's output has depth {self.core.cell_output_size}."
            )
        self.core.build(tuple(inputs_shape), tuple(memory.values.shape))

    def _memory(self):
        if not self.attention_mechanism.memory_initialized:
            raise ValueError(
                "The attention mechanism has no memory: set it up with "
                "`setup_memory(memory, memory_sequence_length)` first."
            )
        return self.attention_mechanism._memory

    @property
    def weights(self):
        layer = self.core.attention_layer
        own = [layer.kernel] if layer is not None and layer.built else []
        return own + self.cell.weights + self.attention_mechanism.weights

    def set_weights(self, weights):
        # Through the mechanism's `set_weights`, so that the keys of a
        # memory already set up are recomputed with the new kernel.
        weights = list(weights)
        layer = self.core.attention_layer
        own = 1 if layer is not None and layer.built else 0
        if own:
            layer.set_weights(weights[:1])
        count = len(self.cell.weights)
        self.cell.set_weights(weights[own : own + count])
        self.attention_mechanism.set_weights(weights[own + count :])

    @property
    def output_size(self):
        if self.output_attention:
            return self._attention_depth()
        return self.core.cell_output_size

    def _attention_depth(self):
        """The attention's depth: `attention_layer_size`, else the
        memory's."""
        return self.attention_layer_size or self._memory().values.shape[-1]

    @property
    def state_size(self):
        """The sizes of `AttentionWrapperState`'s fields (TFA's).

        With it the wrapper runs in `keras.layers.RNN`, which hands the
        state over as a list of the fields and gets a list back. With a
        mask on JAX, give the layer `zero_output_for_mask=True`: Keras'
        JAX loop otherwise takes the first state field for the previous
        output, which here it is not.
        """
        mechanism = self.attention_mechanism
        history = mechanism.alignments_size if self.alignment_history else ()
        return AttentionWrapperState(
            cell_state=self.cell.state_size,
            attention=self._attention_depth(),
            alignments=mechanism.alignments_size,
            alignment_history=history,
            attention_state=mechanism.alignments_size,
        )

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """The zero state (cell state from `initial_cell_state` if given).

        As in TFA, `inputs` (a step's inputs), when given, sets the batch
        size and the dtype.

        Raises:
            ValueError: without a memory, or for a batch size other than
                the memory's.
        """
        if inputs is not None:
            batch_size = ops.shape(inputs)[0]
            dtype = keras.backend.standardize_dtype(inputs.dtype)
        dtype = dtype or self.compute_dtype
        depth = self._attention_depth()  # raises without a memory
        _check_batch_size(
            batch_size,
            self.attention_mechanism.batch_size,
            "get_initial_state",
        )
        if self.initial_cell_state is not None:
            cell_state = self.initial_cell_state
        else:
            cell_state = self.cell.get_initial_state(batch_size=batch_size)
            if not _has_several_states(self.cell):
                cell_state = cell_state[0]
        mechanism = self.attention_mechanism
        alignments = mechanism.initial_alignments(batch_size, dtype)
        history = ()
        if self.alignment_history:
            size = mechanism.alignments_size
            history = AlignmentHistory(ops.zeros((0, batch_size, size), dtype))
        return AttentionWrapperState(
            cell_state=cell_state,
            attention=ops.zeros((batch_size, depth), dtype=dtype),
            alignments=alignments,
            alignment_history=history,
            attention_state=mechanism.initial_state(batch_size, dtype),
        )

    def __call__(self, inputs, state, **kwargs):
        # `keras.layers.RNN` passes the state as a list of its fields.
        as_list = not isinstance(state, AttentionWrapperState)
        if as_list:
            if self.alignment_history:
                raise ValueError(
                    "`alignment_history=True` grows the state at every "
                    "step, which `keras.layers.RNN` cannot carry; step the "
                    "wrapper yourself or use `dynamic_decode`."
                )
            state = AttentionWrapperState(*state)
        # Keras turns every argument with `__array__` into a tensor, the
        # `AlignmentHistory` too: `call` gets the stacked tensor, and the
        # caller gets back the kind it gave.
        output, new_state = super().__call__(
            inputs, stack_histories(state), **kwargs
        )
        new_state = restore_histories(new_state, like=state)
        return output, list(new_state) if as_list else new_state

    def call(self, inputs, state, training=None):
        memory_batch_size = self.attention_mechanism.batch_size
        _check_batch_size(_batch_size_of(inputs), memory_batch_size, "inputs")
        _check_batch_size(
            _batch_size_of(state.cell_state), memory_batch_size, "cell_state"
        )
        cell_state = state.cell_state
        if not isinstance(cell_state, (list, tuple)):
            cell_state = [cell_state]
        previous = DecoderState(
            list(cell_state), state.attention, state.attention_state
        )
        output, new = self.core(
            inputs, previous, self._memory(), training=training
        )
        new_cell_state = new.cell_state
        if not _has_several_states(self.cell):
            new_cell_state = new_cell_state[0]
        history = state.alignment_history
        if self.alignment_history:
            history = ops.concatenate([history, new.weights[None]], axis=0)
        return output, AttentionWrapperState(
            cell_state=new_cell_state,
            attention=new.attention_vector,
            alignments=new.weights,
            alignment_history=history,
            attention_state=new.weights,
        )


def _has_several_states(cell):
    return len(keras.tree.flatten(cell.state_size)) > 1


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


def _single_size(attention_layer_size):
    """`attention_layer_size` as one int or None; TFA also takes a list of
    one int per mechanism, here a list of one."""
    if not isinstance(attention_layer_size, (list, tuple)):
        return attention_layer_size
    if len(attention_layer_size) != 1:
        raise ValueError(
            "`attention_layer_size` must contain exactly one integer per "
            f"attention mechanism (here one), saw: {len(attention_layer_size)}"
            f". Received: attention_layer_size={attention_layer_size!r}"
        )
    return attention_layer_size[0]


def _batch_size_of(structure):
    """The first axis of the first tensor of `structure`."""
    return tuple(ops.shape(keras.tree.flatten(structure)[0]))[0]


def _check_batch_size(batch_size, memory_batch_size, where):
    """Raises TFA's error when a batch size differs from the memory's."""
    if not isinstance(batch_size, int) or not isinstance(
        memory_batch_size, int
    ):
        return  # Not known before the computation runs.
    if batch_size != memory_batch_size:
        raise ValueError(
            f"{where}: the batch size {batch_size} differs from the memory's "
            f"{memory_batch_size}. With a BeamSearchDecoder, tile the memory "
            "and the initial state with tile_batch(x, beam_width), and pass "
            "batch_size * beam_width to get_initial_state."
        )
