"""TFA's `AttentionWrapper`: a cell with attention over one or more
mechanisms.

This module holds the class: its construction, `build`, the attention's
depth and the step (`call`). Its state sizes and initial state are in
`wrapper_states.py`, its weights and config in `wrapper_weights.py`
(mixins of the class); the step with options that the native cell does
not have is `general_attention_step.py`.
"""

import keras
from keras import ops

from keras_seq2seq.decoder.attention_rnn_cell import (
    AttentionRNNCell,
    DecoderState,
    cell_output_size,
)
from keras_seq2seq.tfa.alignment_history import (
    restore_histories,
    stack_histories,
)
from keras_seq2seq.tfa.attention_wrapper_state import AttentionWrapperState
from keras_seq2seq.tfa.general_attention_step import general_attention_step
from keras_seq2seq.tfa.keras2_weights import Keras2Weights
from keras_seq2seq.tfa.scalars import python_int
from keras_seq2seq.tfa.wrapper_checks import (
    batch_size_of,
    build_layer,
    check_batch_size,
    check_options,
    check_query_depth,
    has_several_states,
    mechanism_list,
    memory_of,
    one_per_mechanism,
    output_depth,
)
from keras_seq2seq.tfa.wrapper_states import WrapperStates
from keras_seq2seq.tfa.wrapper_weights import WrapperWeights


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class AttentionWrapper(
    WrapperStates, WrapperWeights, Keras2Weights, keras.layers.Layer
):
    """TFA's `AttentionWrapper`: a cell with attention, TFA's (luong) order.

    The cell runs on `cell_input_fn(input_t, previous attention)` (default
    `[input_t; previous attention]`), its new output queries each
    mechanism, and each mechanism's attention is `attention_layer([
    cell_output; context])` (default: `W [cell_output; context]`, no bias,
    with `attention_layer_size`), else the context. With several mechanisms
    the attention is their attentions concatenated, and the state's
    `alignments`, `attention_state` and `alignment_history` are tuples (a
    list of one mechanism too, as in TFA).

    One built-in mechanism with the default cell input, attention layer
    and attention function runs `keras_seq2seq.decoder.AttentionRNNCell`
    with `query_order="luong"`; every other case runs TFA's step in
    `general_attention_step.py`, with the same numbers. A mechanism that
    computes its own alignments (`_calculate_attention`: one written on
    TFA's base class, or a subclass overriding it) is called at each
    step, and its `next_state` is the state's `attention_state`.

    Args:
        cell: a Keras RNN cell.
        attention_mechanism: a `keras_seq2seq.tfa` mechanism, or a list of
            them.
        attention_layer_size: optional int, or a list of one int per
            mechanism. Not with `attention_layer`. Defaults to `None`.
        alignment_history: bool. Keep every step's alignments. Defaults to
            `False`.
        cell_input_fn: optional callable `(inputs, attention) -> cell
            inputs`. Defaults to `None` (the concatenation).
        output_attention: bool. Output the attention (True) or the cell
            output. Defaults to `True`.
        initial_cell_state: optional cell state for `get_initial_state`.
        name: optional layer name.
        attention_layer: optional Keras layer, or a list of one per
            mechanism, over `[cell_output; context]`; the attention depth is
            their output depths summed. Not with `attention_layer_size`.
            Defaults to `None`.
        attention_fn: optional callable `(mechanism, cell_output,
            attention_state, attention_layer) -> (attention, alignments,
            next_attention_state)`, in place of TFA's `_compute_attention`.
            Defaults to `None`.

    Call arguments:
        inputs: `(B, E)` the step's input.
        state: `AttentionWrapperState`.

    Returns:
        `(output, next_state)`.

    Raises:
        ValueError: for a mechanism that is not a `keras_seq2seq.tfa` one,
            both `attention_layer_size` and `attention_layer`, or a list of
            sizes or layers whose length is not the number of mechanisms.
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
        attention_layer_size = keras.tree.map_structure(
            python_int, attention_layer_size
        )
        mechanisms = mechanism_list(attention_mechanism)
        check_options(cell_input_fn, attention_fn)
        _check_one_attention_layer(attention_layer_size, attention_layer)
        sizes = one_per_mechanism(
            attention_layer_size, "attention_layer_size", "integer", mechanisms
        )
        layers = one_per_mechanism(
            attention_layer, "attention_layer", "layer", mechanisms
        )
        self.cell = cell
        self.attention_mechanism = attention_mechanism
        self.attention_layer_size = attention_layer_size
        self.alignment_history = alignment_history
        self.cell_input_fn = cell_input_fn
        self.output_attention = output_attention
        self.initial_cell_state = initial_cell_state
        self.attention_layer = attention_layer
        self.attention_fn = attention_fn
        self.attention_mechanisms = mechanisms
        # TFA's `_is_multi`: a list (even of one) gives tuple fields.
        self.is_multi = isinstance(attention_mechanism, (list, tuple))
        self.core = None
        self.attention_layers = layers
        if (
            self.is_multi
            or mechanisms[0].native_core is None
            or any(
                option is not None
                for option in (cell_input_fn, attention_layer, attention_fn)
            )
        ):
            if sizes is not None:
                self.attention_layers = _dense_layers(sizes, mechanisms)
        else:
            self.core = _native_cell(
                cell, mechanisms[0], sizes, output_attention
            )
        if initial_cell_state is not None:
            _check_initial_cell_state(initial_cell_state, mechanisms)

    def build(self, inputs_shape, state_shape=None):
        for mechanism in self.attention_mechanisms:
            memory_of(mechanism)  # raises without a memory
        if self.attention_fn is None:
            query_depth = cell_output_size(self.cell)
            for mechanism in self.attention_mechanisms:
                check_query_depth(mechanism, query_depth)
                layer = mechanism.query_layer
                if mechanism.native_core is None and (
                    not mechanism.built or layer is not None and not layer.built
                ):
                    # A mechanism that computes its own alignments builds
                    # for the query now (TFA's second build), not in the
                    # first step's (compiled) loop.
                    steps = memory_of(mechanism).values.shape[1]
                    mechanism.build([(None, query_depth), (None, steps)])
        if self.core is not None:
            memory = memory_of(self.attention_mechanisms[0])
            self.core.build(tuple(inputs_shape), tuple(memory.values.shape))
            return
        # The attention layers first: their depth sizes the cell's input.
        self._build_attention_layers()
        if self.cell_input_fn is None and not self.cell.built:
            depth = inputs_shape[-1] + self._attention_depth()
            self.cell.build((None, depth))

    def _build_attention_layers(self):
        """Builds the attention layers on `(B, cell output + Dv)`."""
        if self.attention_layers is None:
            return
        for layer, depth in zip(
            self.attention_layers, self._attention_layer_inputs(), strict=True
        ):
            build_layer(layer, (None, depth))

    def _attention_layer_inputs(self):
        """The depth of each attention layer's input `[cell_output;
        context]`."""
        query_depth = cell_output_size(self.cell)
        return [
            query_depth + memory_of(mechanism).values.shape[-1]
            for mechanism in self.attention_mechanisms
        ]

    @property
    def output_size(self):
        if self.output_attention:
            return self._attention_depth()
        return cell_output_size(self.cell)

    def _attention_depth(self):
        """The attention's depth `A`: the attention layers' output depths
        summed, else the memories' depths summed (TFA's rule)."""
        if self.core is not None:
            memory = memory_of(self.attention_mechanisms[0])
            return self.core.attention_depth(memory)
        if self.attention_layers is None:
            return sum(
                memory_of(mechanism).values.shape[-1]
                for mechanism in self.attention_mechanisms
            )
        inputs = self._attention_layer_inputs()
        return sum(
            output_depth(layer, depth)
            for layer, depth in zip(self.attention_layers, inputs, strict=True)
        )

    def __call__(self, inputs, state, **kwargs):
        # `keras.layers.RNN` and `StackedRNNCells` pass the state as a list
        # of its fields.
        as_list = not isinstance(state, AttentionWrapperState)
        if as_list:
            state = _wrapper_state(state)
        # Keras turns every argument with `__array__` into a tensor, the
        # `AlignmentHistory` too: `call` gets the stacked tensor, and the
        # caller gets back the kind it gave.
        output, new_state = super().__call__(
            inputs, stack_histories(state), **kwargs
        )
        new_state = restore_histories(new_state, like=state)
        return output, list(new_state) if as_list else new_state

    def compute_mask(self, inputs, previous_mask=None):
        return None  # One step: no time axis (its inputs may carry one).

    def call(self, inputs, state, training=None):
        for mechanism in self.attention_mechanisms:
            batch_size = mechanism.batch_size
            check_batch_size(batch_size_of(inputs), batch_size, "inputs")
            check_batch_size(
                batch_size_of(state.cell_state), batch_size, "cell_state"
            )
        if self.core is None:
            output, fields = general_attention_step(
                self, inputs, state, training=training
            )
            return output, AttentionWrapperState(**fields)
        cell_state = state.cell_state
        if not isinstance(cell_state, (list, tuple)):
            cell_state = [cell_state]
        previous = DecoderState(
            list(cell_state), state.attention, state.attention_state
        )
        memory = memory_of(self.attention_mechanisms[0])
        output, new = self.core(inputs, previous, memory, training=training)
        new_cell_state = new.cell_state
        if not has_several_states(self.cell):
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


def _wrapper_state(fields):
    """`AttentionWrapperState(*fields)`, or TFA's TypeError for anything
    that is not its five fields (a cell state, say)."""
    try:
        return AttentionWrapperState(*fields)
    except TypeError:
        raise TypeError(
            "Expected state to be instance of AttentionWrapperState or "
            "values that can construct AttentionWrapperState. Received "
            f"type {type(fields).__name__} instead. Start from "
            "`cell.get_initial_state(batch_size=B, dtype=...)` and give "
            "the encoder's state with `.clone(cell_state=...)`."
        ) from None


def _dense_layers(sizes, mechanisms):
    """TFA's attention layers for `attention_layer_size`: one `Dense(size,
    use_bias=False)` per mechanism, in the mechanism's dtype (TFA's)."""
    return [
        keras.layers.Dense(
            size,
            use_bias=False,
            dtype=mechanism.dtype_policy,
            name="attention_layer" + (f"_{i}" if i else ""),
        )
        for i, (size, mechanism) in enumerate(
            zip(sizes, mechanisms, strict=True)
        )
    ]


def _check_one_attention_layer(attention_layer_size, attention_layer):
    """Raises for both `attention_layer_size` and `attention_layer`."""
    if attention_layer_size is not None and attention_layer is not None:
        raise ValueError(
            "Only one of attention_layer_size and attention_layer should "
            f"be set. Received: attention_layer_size="
            f"{attention_layer_size!r}, attention_layer={attention_layer!r}"
        )


def _native_cell(cell, mechanism, sizes, output_attention):
    """The native `AttentionRNNCell` that runs the wrapper's step for one
    built-in mechanism with the default options."""
    # TFA's attention layer has its mechanism's dtype; the step computes
    # in it (a float64 model stays float64).
    return AttentionRNNCell(
        cell,
        mechanism.native_core,
        query_order="luong",
        attention_layer_size=sizes[0] if sizes else None,
        input_feeding=True,
        output_attention=output_attention,
        dtype=mechanism.dtype_policy,
        name="core",
    )


def _check_initial_cell_state(initial_cell_state, mechanisms):
    """Raises for an `initial_cell_state` whose batch size is not that of
    the memories already set up."""
    batch_size = batch_size_of(initial_cell_state)
    for mechanism in mechanisms:
        if mechanism.memory_initialized:
            check_batch_size(
                batch_size, mechanism.batch_size, "initial_cell_state"
            )
