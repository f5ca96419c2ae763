"""One decoder step: a recurrent cell with attention over a memory."""

import collections
import copy

import keras
from keras import ops

from keras_seq2seq.attention.base_attention import BaseAttention

DecoderState = collections.namedtuple(
    "DecoderState", ["cell_state", "attention_vector", "weights"]
)
DecoderState.__doc__ = """The state carried from one decoder step to the next.

Fields:
    cell_state: the wrapped cell's state (a list: `[h]` for GRU, `[h, c]` for
        LSTM, nested lists for stacked cells).
    attention_vector: `(B, A)` attention vector of the step (zeros before the
        first step); `A` is `attention_layer_size`, else the value depth.
    weights: `(B, Ts)` attention weights of the step (before the first step:
        the mechanism's `initial_weights`).
"""

QUERY_ORDERS = ("luong", "bahdanau")


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class AttentionRNNCell(keras.layers.Layer):
    """A recurrent cell with attention: the single decoder step.

    Two query orders, both used in the literature:

    - `"luong"` (TFA's `AttentionWrapper`, Luong et al. 2015, JoeyNMT): the
      cell runs first on `[x_t; a_{t-1}]` (input feeding of the previous
      attention vector, optional); the new cell output `h_t` is the query;
      `a_t = W_a [h_t; c_t]` (no bias), or `c_t` without an attention layer.
    - `"bahdanau"` (Bahdanau et al. 2015, arXiv:1409.0473, eq. 4-6): the
      previous decoder state `s_{t-1}` (the top cell's hidden state) is the
      query; the context `c_t` enters the cell with the input: `s_t =
      cell([x_t; c_t], s_{t-1})`; `a_t` as above.

    The step output is `a_t` when `output_attention`, else `h_t`.

    The memory is prepared once per source with `prepare` (keys projected
    once); `call` is the one step that `AttentionDecoder` scans and that the
    decoding functions call.

    Args:
        cell: a Keras RNN cell (`GRUCell`, `LSTMCell`, `StackedRNNCells`, or
            any cell with `state_size`, `output_size` and
            `get_initial_state`). A cell's `dropout` and
            `recurrent_dropout` draw one mask per sequence, as in
            `keras.layers.RNN`: training loops over steps call
            `hold_dropout_masks` before and `reset_dropout_masks` after.
        attention: a `keras_seq2seq` attention layer (`BaseAttention`).
        query_order: str. `"luong"` or `"bahdanau"`. Defaults to `"luong"`.
        attention_layer_size: optional int. Depth `A` of the attention layer
            over `[h_t; c_t]`; `None` uses the context itself. Defaults to
            `None`.
        input_feeding: optional bool. Feed `a_{t-1}` into the cell (`"luong"`
            order only). Defaults to `None`: True for `"luong"`, False for
            `"bahdanau"`.
        output_attention: bool. Output `a_t` (True) or `h_t`. Defaults to
            `True`.

    Call arguments:
        inputs: `(B, E)` the step's input (the embedded previous token).
        states: `DecoderState` of the previous step.
        memory: `AttentionMemory` from `prepare`.

    Returns:
        `(output, new_states)`: `(B, O)` and a `DecoderState`.
    """

    def __init__(
        self,
        cell,
        attention,
        query_order="luong",
        attention_layer_size=None,
        input_feeding=None,
        output_attention=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if query_order not in QUERY_ORDERS:
            raise ValueError(
                f"`query_order` must be one of {QUERY_ORDERS}. "
                f"Received: query_order={query_order!r}"
            )
        # A string from a config file ("false") would be truthy.
        if not (input_feeding is None or isinstance(input_feeding, bool)):
            raise ValueError(
                "`input_feeding` must be True, False or None. "
                f"Received: input_feeding={input_feeding!r}"
            )
        if not isinstance(output_attention, bool):
            raise ValueError(
                "`output_attention` must be True or False. "
                f"Received: output_attention={output_attention!r}"
            )
        if input_feeding is None:
            input_feeding = query_order == "luong"
        if input_feeding and query_order == "bahdanau":
            raise ValueError(
                "`input_feeding` is for the 'luong' query order: in the "
                "'bahdanau' order the context already enters the cell. "
                "Received: input_feeding=True, query_order='bahdanau'"
            )
        if not isinstance(attention, BaseAttention):
            raise ValueError(
                "`attention` must be a keras_seq2seq attention layer. "
                f"Received: attention={attention!r}"
            )
        if attention_layer_size is not None and (
            isinstance(attention_layer_size, bool)
            or not isinstance(attention_layer_size, int)
            or attention_layer_size <= 0
        ):
            raise ValueError(
                "`attention_layer_size` must be None or an int > 0. "
                f"Received: attention_layer_size={attention_layer_size!r}"
            )
        self.cell = cell
        self.attention = attention
        self.query_order = query_order
        self.attention_layer_size = attention_layer_size
        self.input_feeding = input_feeding
        self.output_attention = output_attention
        self.attention_layer = None
        self.value_depth = None
        if attention_layer_size is not None:
            self.attention_layer = keras.layers.Dense(
                attention_layer_size,
                use_bias=False,
                dtype=self.dtype_policy,
                name="attention_layer",
            )
        if not self.trainable:
            # Made frozen (as Keras rebuilds a frozen step from its config):
            # Keras' `__init__` freezes only the variables the step makes
            # itself, not its cell's and layers'.
            for layer in (cell, attention, self.attention_layer):
                if layer is not None:
                    layer.trainable = False

    def build(self, inputs_shape, value_shape):
        input_depth = inputs_shape[-1]
        value_depth = self.value_depth = value_shape[-1]
        units = self.cell_output_size
        attention_depth = self.attention_layer_size or value_depth
        if self.query_order == "bahdanau":
            cell_input = input_depth + value_depth
        elif self.input_feeding:
            cell_input = input_depth + attention_depth
        else:
            cell_input = input_depth
        # Sublayers deserialised from a `.keras` file arrive built.
        if not self.cell.built:
            self.cell.build((None, cell_input))
        if not self.attention.built:
            self.attention.build((None, units), tuple(value_shape))
        layer = self.attention_layer
        if layer is not None and not layer.built:
            layer.build((None, units + value_depth))

    @property
    def cell_output_size(self):
        return cell_output_size(self.cell)

    def attention_depth(self, memory):
        return self.attention_layer_size or memory.values.shape[-1]

    @property
    def output_size(self):
        if self.output_attention and self.attention_layer_size is not None:
            return self.attention_layer_size
        if self.output_attention:
            return self.value_depth
        return self.cell_output_size

    def prepare(self, value, value_mask=None):
        """The memory of one source batch: `AttentionMemory`."""
        return self.attention.prepare(value, value_mask=value_mask)

    def get_initial_state(self, memory, cell_state=None):
        """`DecoderState` before the first step.

        Args:
            memory: `AttentionMemory` from `prepare`.
            cell_state: optional initial cell state: a tensor, a flat list
                (`[h, c]`, or `[h1, c1, h2, c2]` for stacked cells, as
                `AttentionDecoder(return_state=True)` returns it) or the
                cell's own nesting; zeros when `None`.
        """
        batch_size = ops.shape(memory.values)[0]
        zeros = zero_cell_state(self.cell, batch_size)
        if cell_state is None:
            cell_state = zeros
        else:
            # Stacked cells take one list per cell: restore that nesting.
            cell_state = keras.tree.pack_sequence_as(
                zeros, keras.tree.flatten(cell_state)
            )
        cell_state = keras.tree.map_structure(
            lambda s: ops.cast(s, self.compute_dtype), list(cell_state)
        )
        attention_vector = ops.zeros(
            (batch_size, self.attention_depth(memory)), dtype=self.compute_dtype
        )
        weights = ops.cast(
            self.attention.initial_weights(memory), self.compute_dtype
        )
        return DecoderState(cell_state, attention_vector, weights)

    def call(self, inputs, states, memory, training=None):
        cell_state, attention_vector, weights = states
        inputs = ops.cast(inputs, self.compute_dtype)
        if self.query_order == "bahdanau":
            query = top_hidden_state(self.cell, cell_state)
            context, weights = self.attend(query, memory, weights, training)
            cell_input = ops.concatenate([inputs, context], axis=-1)
            cell_output, cell_state = self.run_cell(
                cell_input, cell_state, training
            )
        else:
            cell_input = inputs
            if self.input_feeding:
                cell_input = ops.concatenate([inputs, attention_vector], -1)
            cell_output, cell_state = self.run_cell(
                cell_input, cell_state, training
            )
            context, weights = self.attend(
                cell_output, memory, weights, training
            )
        if self.attention_layer is not None:
            attention_vector = self.attention_layer(
                ops.concatenate([cell_output, context], axis=-1)
            )
        else:
            attention_vector = context
        output = attention_vector if self.output_attention else cell_output
        cell_state = (
            list(cell_state)
            if isinstance(cell_state, tuple)
            else (cell_state if isinstance(cell_state, list) else [cell_state])
        )
        return output, DecoderState(cell_state, attention_vector, weights)

    # The cell and the attention may have another dtype policy than the
    # step (a policy given to the decoder alone, as `keras.layers.RNN(cell,
    # dtype=...)` takes): the step's carry stays in its own compute dtype.
    def run_cell(self, cell_input, cell_state, training):
        cell_output, cell_state = self.cell(
            cell_input, cell_state, training=training
        )
        return keras.tree.map_structure(
            lambda x: ops.cast(x, self.compute_dtype), (cell_output, cell_state)
        )

    def attend(self, query, memory, previous_weights, training):
        context, weights = self.attention.attend(
            query, memory, previous_weights=previous_weights, training=training
        )
        dtype = self.compute_dtype
        return ops.cast(context, dtype), ops.cast(weights, dtype)

    def compute_mask(self, inputs, previous_mask=None):
        # One step has no time axis to mask. Embedded token ids from an
        # `Embedding(mask_zero=True)` (a step function's input) carry a
        # Keras mask: taking it here keeps Keras from warning each step.
        return None

    def hold_dropout_masks(self, batch_size):
        """Draws the cells' dropout masks for the sequence a loop will run.

        Keras' dropout cells draw a mask at the first step of a sequence and
        keep it until reset. Drawn here, before the loop, it is the same at
        every step and no traced loop body leaves a tensor on the cell (what
        `keras.layers.RNN` does before its loop).

        Only while training: elsewhere the cells use no mask.

        Args:
            batch_size: int or scalar tensor, the rows of the sequence.
        """
        for cell in dropout_cells(self.cell):
            dtype = cell.compute_dtype  # The dtype the cell multiplies in.
            depth = cell.kernel.shape[0]
            cell.get_dropout_mask(ops.zeros((batch_size, depth), dtype))
            state = ops.zeros((batch_size, cell.units), dtype)
            cell.get_recurrent_dropout_mask(state)

    def reset_dropout_masks(self):
        """Forgets the masks of `hold_dropout_masks`, after the loop."""
        reset_dropout_masks(self.cell)

    def step_config(self):
        """The constructor arguments of the step, sublayers serialised."""
        return {
            "cell": keras.saving.serialize_keras_object(self.cell),
            "attention": keras.saving.serialize_keras_object(self.attention),
            "query_order": self.query_order,
            "attention_layer_size": self.attention_layer_size,
            "input_feeding": self.input_feeding,
            "output_attention": self.output_attention,
        }

    def get_config(self):
        return {**super().get_config(), **self.step_config()}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_sublayers(config))


def deserialize_sublayers(config):
    """A copy of `config` with its `cell` and `attention` deserialised."""
    # Deep copy: `StackedRNNCells.from_config` pops "cells" from the dict it
    # is given, which would empty the caller's config.
    config = copy.deepcopy(config)
    for name in ("cell", "attention"):
        config[name] = keras.saving.deserialize_keras_object(config[name])
    return config


# The rates of Keras' dropout cells (`DropoutRNNCell`).
RATES = ("dropout", "recurrent_dropout")


def dropout_cells(cell):
    """The Keras cells in `cell` with a `dropout` or `recurrent_dropout`.

    `cell` itself, the cells of a `StackedRNNCells` and the `cell` a
    wrapper holds (TFA's `AttentionWrapper`), at any depth: the cells that
    keep dropout masks between steps.
    """
    found, pending = [], [cell]
    while pending:
        cell = pending.pop()
        rates = [getattr(cell, name, 0) for name in RATES]
        if hasattr(cell, "reset_dropout_mask") and any(rates):
            found.append(cell)
        pending.extend(getattr(cell, "cells", []))
        if isinstance(getattr(cell, "cell", None), keras.layers.Layer):
            pending.append(cell.cell)
    return found


def reset_dropout_masks(cell):
    """Clears the dropout masks of the cells in `cell` (`dropout_cells`):
    the next call draws new ones, as `keras.layers.RNN` does per call."""
    for found in dropout_cells(cell):
        found.reset_dropout_mask()
        found.reset_recurrent_dropout_mask()


def zero_cell_state(cell, batch_size):
    """The cell's zero state: its `get_initial_state(batch_size=...)`, or,
    for a cell without one (a custom cell ported from Keras 2's
    `AbstractRNNCell`, which gave it), a list of zeros `(B, size)` per
    entry of its `state_size` in its compute dtype, as `keras.layers.RNN`
    makes it."""
    if hasattr(cell, "get_initial_state"):
        return cell.get_initial_state(batch_size=batch_size)
    sizes = cell.state_size
    if not isinstance(sizes, (list, tuple)):
        sizes = [sizes]
    return [
        ops.zeros(
            (batch_size,) + (tuple(size) if _is_shape(size) else (size,)),
            dtype=cell.compute_dtype,
        )
        for size in sizes
    ]


def _is_shape(size):
    return isinstance(size, (list, tuple))


def cell_output_size(cell):
    """The depth of a Keras RNN cell's output (`output_size`, else its
    first state's size)."""
    size = getattr(cell, "output_size", None)
    if size is None:
        size = keras.tree.flatten(cell.state_size)[0]
    return size


def top_hidden_state(cell, cell_state):
    """The hidden state `h` of the top cell: the "bahdanau" order's query."""
    if hasattr(cell, "cells"):  # StackedRNNCells: one state per cell.
        return top_hidden_state(cell.cells[-1], cell_state[-1])
    return keras.tree.flatten(cell_state)[0]
