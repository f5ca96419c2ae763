"""Independent NumPy (float64) reference of the recurrent cells and decoder.

Written from the formulas (Keras' cell layouts, Bahdanau et al. 2015 and
Luong et al. 2015), never by calling `keras_seq2seq`, so that the decoder is
checked against a second implementation. Shapes: `B` batch, `Ts` source
steps, `Tt` target steps, `E` input depth, `Dv` value depth, `C` cell units.

A cell here is a function `step(x, state) -> (output, new_state)` over NumPy
arrays; `state` is a list (`[h]` for GRU, `[h, c]` for LSTM, a list of those
for stacked cells), as Keras' cells carry it.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru(kernel, recurrent_kernel, bias):
    """Keras `GRUCell(reset_after=True)`: gate blocks `[z | r | h]`.

    `xz, xr, xh = x K + b0`; `hz, hr, hh = h R + b1`; `z = sig(xz + hz)`,
    `r = sig(xr + hr)`, `n = tanh(xh + r * hh)`, `h' = z h + (1 - z) n`.
    """
    kernel, recurrent_kernel = np.float64(kernel), np.float64(recurrent_kernel)
    bias = np.float64(bias)

    def step(x, state):
        (h,) = state
        xz, xr, xh = np.split(x @ kernel + bias[0], 3, axis=-1)
        hz, hr, hh = np.split(h @ recurrent_kernel + bias[1], 3, axis=-1)
        z = sigmoid(xz + hz)
        r = sigmoid(xr + hr)
        n = np.tanh(xh + r * hh)
        h = z * h + (1.0 - z) * n
        return h, [h]

    return step


def lstm(kernel, recurrent_kernel, bias):
    """Keras `LSTMCell`: gate blocks `[i | f | c | o]`, state `[h, c]`.

    `g = x K + h R + b`; `c' = sig(f) c + sig(i) tanh(g_c)`;
    `h' = sig(o) tanh(c')`.
    """
    kernel, recurrent_kernel = np.float64(kernel), np.float64(recurrent_kernel)
    bias = np.float64(bias)

    def step(x, state):
        h, c = state
        gates = x @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        return h, [h, c]

    return step


def stacked(steps):
    """`StackedRNNCells`: each cell's output is the next cell's input."""

    def step(x, state):
        new_state = []
        for cell_step, cell_state in zip(steps, state, strict=True):
            x, cell_state = cell_step(x, cell_state)
            new_state.append(cell_state)
        return x, new_state

    return step


def top_hidden(state):
    """`h` of the top cell: the last cell's first state, recursively."""
    while isinstance(state[0], list):
        state = state[-1]
    return state[0]


def decode(
    cell,
    attend,
    inputs,
    inputs_mask,
    initial_state,
    initial_weights,
    value_depth,
    query_order,
    input_feeding,
    attention_kernel=None,
    output_attention=True,
):
    """Teacher-forced attention decoder, one Python step at a time.

    - `"bahdanau"` order: the query is the previous top hidden state
      `s_{t-1}`; `c_t` enters the cell: `h_t, s_t = cell([x_t; c_t], s_{t-1})`.
    - `"luong"` order: `h_t, s_t = cell([x_t; a_{t-1}], s_{t-1})` (without
      input feeding: `cell(x_t, s_{t-1})`); the query is `h_t`.

    Then `a_t = [h_t; c_t] W_a` (no bias), or `c_t` without `W_a`, and the
    output is `a_t` when `output_attention`, else `h_t`. At a padded target
    step a row keeps its state, attention vector and weights, and its output
    and returned weights are 0.

    Args:
        cell: `step(x, state) -> (h, state)`, see the module docstring.
        attend: `attend(query (B, C), previous_weights (B, Ts)) ->
            (context (B, Dv), weights (B, Ts))`.
        inputs: `(B, Tt, E)`; inputs_mask: bool `(B, Tt)`.
        initial_state: the cell's state before the first step.
        initial_weights: `(B, Ts)` weights before the first step.
        value_depth: `Dv`, the attention vector's depth without `W_a`.
        query_order: `"bahdanau"` or `"luong"`.
        input_feeding: bool, `"luong"` order only.
        attention_kernel: optional `W_a` `(C + Dv, A)`.
        output_attention: bool.

    Returns:
        `(outputs (B, Tt, O), weights (B, Tt, Ts), final_state)`.
    """
    batch, steps, _ = inputs.shape
    depth = (
        value_depth if attention_kernel is None else attention_kernel.shape[1]
    )
    state = initial_state
    attention = np.zeros((batch, depth))
    weights = np.float64(initial_weights)
    outputs, all_weights = [], []
    for t in range(steps):
        x = np.float64(inputs[:, t])
        if query_order == "bahdanau":
            context, new_weights = attend(top_hidden(state), weights)
            h, new_state = cell(np.concatenate([x, context], -1), state)
        else:
            if input_feeding:
                x = np.concatenate([x, attention], -1)
            h, new_state = cell(x, state)
            context, new_weights = attend(h, weights)
        new_attention = context
        if attention_kernel is not None:
            new_attention = np.concatenate([h, context], -1) @ attention_kernel
        output = new_attention if output_attention else h

        real = inputs_mask[:, t, None]  # (B, 1)
        state = _where(real, new_state, state)
        attention = np.where(real, new_attention, attention)
        weights = np.where(real, new_weights, weights)
        outputs.append(np.where(real, output, 0.0))
        all_weights.append(np.where(real, new_weights, 0.0))
    return np.stack(outputs, 1), np.stack(all_weights, 1), state


def _where(real, new, old):
    if isinstance(new, list):
        return [_where(real, n, o) for n, o in zip(new, old, strict=True)]
    return np.where(real, new, old)
