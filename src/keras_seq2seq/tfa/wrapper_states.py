"""`AttentionWrapper`'s state: its fields' sizes and its initial value.

A mixin of `AttentionWrapper` (`attention_wrapper.py`): `state_size` and
`get_initial_state` give TFA's `AttentionWrapperState`, whose per-mechanism
fields (`alignments`, `alignment_history`, `attention_state`) are tuples
with a list of mechanisms and single entries with one mechanism
(`per_mechanism`, `item_or_tuple`).
"""

import keras
from keras import ops

from keras_seq2seq.decoder.attention_rnn_cell import zero_cell_state
from keras_seq2seq.tfa.alignment_history import AlignmentHistory
from keras_seq2seq.tfa.attention_wrapper_state import AttentionWrapperState
from keras_seq2seq.tfa.wrapper_checks import (
    check_batch_size,
    has_several_states,
)


class WrapperStates:
    """`AttentionWrapper`'s state sizes and initial state (a mixin of it)."""

    def per_mechanism(self, field):
        """A state field as a list with one entry per mechanism."""
        return list(field) if self.is_multi else [field]

    def item_or_tuple(self, entries):
        """Per-mechanism entries as a state field: a tuple with a list of
        mechanisms, else the one entry (TFA's `_item_or_tuple`)."""
        entries = tuple(entries)
        return entries if self.is_multi else entries[0]

    @property
    def state_size(self):
        """The sizes of `AttentionWrapperState`'s fields (TFA's).

        With it the wrapper runs in `keras.layers.RNN`, which hands the
        state over as a list of the fields and gets a list back. With a
        mask on JAX, give the layer `zero_output_for_mask=True`: Keras'
        JAX loop otherwise takes the first state field for the previous
        output, which here it is not.
        """
        sizes = [m.alignments_size for m in self.attention_mechanisms]
        history = sizes if self.alignment_history else [()] * len(sizes)
        return AttentionWrapperState(
            cell_state=self.cell.state_size,
            attention=self._attention_depth(),
            alignments=self.item_or_tuple(sizes),
            alignment_history=self.item_or_tuple(history),
            attention_state=self.item_or_tuple(
                m.state_size for m in self.attention_mechanisms
            ),
        )

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """The zero state (cell state from `initial_cell_state` if given).

        As in TFA, `inputs` (a step's inputs), when given, sets the batch
        size and the dtype, and a dtype (given or the inputs') is that of
        every field, the cell's zero state too (TFA asked the cell for
        its state in that dtype). Without one the fields take the
        wrapper's compute dtype and the cell state the cell's.

        Raises:
            ValueError: without a memory, or for a batch size other than
                the memories'.
        """
        if inputs is not None:
            batch_size = ops.shape(inputs)[0]
            dtype = inputs.dtype
        if dtype is not None:
            # TFA took a `tf.DType` (`tf.float32`), which Keras' JAX ops
            # refuse: its name.
            dtype = keras.backend.standardize_dtype(dtype)
        asked = dtype
        dtype = dtype or self.compute_dtype
        depth = self._attention_depth()  # raises without a memory
        mechanisms = self.attention_mechanisms
        for mechanism in mechanisms:
            check_batch_size(
                batch_size, mechanism.batch_size, "get_initial_state"
            )
        if self.initial_cell_state is not None:
            cell_state = self.initial_cell_state
        else:
            cell_state = zero_cell_state(self.cell, batch_size)
            # Keras 3 cells give a list; a Keras 2 cell with one state, as
            # TFA took it, its tensor.
            if not has_several_states(self.cell) and isinstance(
                cell_state, (list, tuple)
            ):
                cell_state = cell_state[0]
            if asked is not None:
                cell_state = keras.tree.map_structure(
                    lambda x: ops.cast(x, asked), cell_state
                )
        alignments = [
            m.initial_alignments(batch_size, dtype) for m in mechanisms
        ]
        histories = [
            AlignmentHistory(
                ops.zeros((0, batch_size, m.alignments_size), dtype)
            )
            if self.alignment_history
            else ()
            for m in mechanisms
        ]
        return AttentionWrapperState(
            cell_state=cell_state,
            attention=ops.zeros((batch_size, depth), dtype=dtype),
            alignments=self.item_or_tuple(alignments),
            alignment_history=self.item_or_tuple(histories),
            attention_state=self.item_or_tuple(
                m.initial_state(batch_size, dtype) for m in mechanisms
            ),
        )
