"""TFA's `AttentionWrapper` step in its general form.

`AttentionWrapper` runs the plain case (one mechanism, TFA's default cell
input, attention layer and attention function) on `AttentionRNNCell`. Every
other case takes this step, which follows TFA 0.23's `AttentionWrapper.call`
line by line:

1. `cell_inputs = cell_input_fn(inputs, previous attention)`;
2. `cell_output, next_cell_state = cell(cell_inputs, cell_state)`;
3. for each mechanism `i`: `attention_i, alignments_i, next_attention_state_i
   = attention_fn(mechanism_i, cell_output, attention_state_i,
   attention_layer_i)` and, when kept, alignments_i appended to its history;
4. `attention = concat(attention_1, ..., attention_n)`.

Each built-in mechanism's weights and context come from its native layer
(`core`); nothing here re-implements the attention math. A mechanism that
computes its own alignments (`_calculate_attention`) is called, as TFA's
wrapper called every mechanism.
"""

import keras
from keras import ops


def concat_cell_input(inputs, attention):
    """TFA's default `cell_input_fn`: `[inputs; attention]` on the last
    axis, `(B, E) + (B, A) -> (B, E + A)`."""
    inputs = ops.cast(inputs, attention.dtype)
    return ops.concatenate([inputs, attention], axis=-1)


def compute_attention(
    attention_mechanism,
    cell_output,
    attention_state,
    attention_layer,
    training=None,
):
    """TFA's default `attention_fn` (its `_compute_attention`).

    The mechanism scores `cell_output` over its memory; the context is the
    alignments' weighted sum of the memory values; the attention is
    `attention_layer([cell_output; context])` when there is an attention
    layer, else the context.

    Args:
        attention_mechanism: a set-up `keras_seq2seq.tfa` mechanism.
        cell_output: `(B, Hq)` the query.
        attention_state: `(B, Ts)` the mechanism's state (the previous
            alignments).
        attention_layer: optional Keras layer over `(B, Hq + Dv)`.
        training: optional bool, for the sigmoid noise of monotonic
            mechanisms. Defaults to `None`.

    Returns:
        `(attention, alignments, next_attention_state)`: `(B, A)`,
        `(B, Ts)` and the mechanism's next state (the built-in
        mechanisms': the alignments, as in TFA).
    """
    core = attention_mechanism.native_core
    if core is None:
        # A mechanism that computes its own alignments and state: TFA's
        # call, and the context is their weighted sum of the values.
        alignments, next_state = attention_mechanism(
            [cell_output, attention_state], training=training
        )
        values = attention_mechanism.values
        weights = ops.cast(alignments, values.dtype)[:, None, :]
        context = ops.matmul(weights, values)[:, 0]  # (B, Dv)
    else:
        # The native layer's `attend` gives the weights and the context.
        context, alignments = core.attend(
            cell_output,
            attention_mechanism._memory,
            previous_weights=attention_state,
            training=training,
        )
        next_state = alignments
    if attention_layer is None:
        attention = context
    else:
        attention = attention_layer(
            ops.concatenate([cell_output, context], axis=-1)
        )
    return attention, alignments, next_state


def general_attention_step(wrapper, inputs, state, training=None):
    """One step of `wrapper` (an `AttentionWrapper`) in TFA's order.

    Args:
        wrapper: the `AttentionWrapper`; its `cell`, `attention_mechanisms`,
            `attention_layers`, `cell_input_fn`, `attention_fn` and
            `alignment_history` are read.
        inputs: the step's inputs (`(B, E)` for the default cell input).
        state: `AttentionWrapperState`; with several mechanisms (or a list
            of one) its `alignments`, `attention_state` and
            `alignment_history` are tuples, one entry per mechanism, and
            each history is its stacked tensor `(steps, B, Ts)`.
        training: optional bool, for the cell and the mechanisms.

    Returns:
        `(output, fields)`: the attention `(B, A)` (or the cell output
        without `output_attention`) and a dict of the next state's fields.
    """
    cell_input_fn = wrapper.cell_input_fn or concat_cell_input
    cell_inputs = cell_input_fn(inputs, state.attention)
    cell_state = state.cell_state
    cell_output, next_cell_state = wrapper.cell(
        cell_inputs, cell_state, training=training
    )
    # Keras cells return a list for a list state; keep the given nesting.
    next_cell_state = keras.tree.pack_sequence_as(
        cell_state, keras.tree.flatten(next_cell_state)
    )
    mechanisms = wrapper.attention_mechanisms
    layers = wrapper.attention_layers or [None] * len(mechanisms)
    previous_states = wrapper.per_mechanism(state.attention_state)
    previous_histories = wrapper.per_mechanism(state.alignment_history)
    attentions, alignments, attention_states, histories = [], [], [], []
    for mechanism, layer, previous, history in zip(
        mechanisms, layers, previous_states, previous_histories, strict=True
    ):
        if wrapper.attention_fn is None:
            step = compute_attention(
                mechanism, cell_output, previous, layer, training
            )
        else:
            step = wrapper.attention_fn(mechanism, cell_output, previous, layer)
        attention, step_alignments, next_attention_state = step
        if wrapper.alignment_history:
            new = ops.cast(step_alignments, history.dtype)[None]
            history = ops.concatenate([history, new], axis=0)
        attentions.append(attention)
        alignments.append(step_alignments)
        attention_states.append(next_attention_state)
        histories.append(history)
    attention = ops.concatenate(attentions, axis=1)
    fields = {
        "cell_state": next_cell_state,
        "attention": attention,
        "alignments": wrapper.item_or_tuple(alignments),
        "alignment_history": wrapper.item_or_tuple(histories),
        "attention_state": wrapper.item_or_tuple(attention_states),
    }
    output = attention if wrapper.output_attention else cell_output
    return output, fields
