"""TFA's `BeamSearchDecoderMixin` and the coverage penalty's alignments.

TFA's `tfa.seq2seq.beam_search_decoder` module also held
`get_attention_probs(next_cell_state, coverage_penalty_weight)` and
`attention_probs_from_attn_state(attention_state)`, which programs call to
read the alignments the coverage penalty sums, and the class
`BeamSearchDecoderMixin`, the base of its `BeamSearchDecoder`.
"""

import keras
from keras import ops

from keras_seq2seq.tfa.attention_wrapper import AttentionWrapperState
from keras_seq2seq.tfa.cell_decoder import CellDecoder


class BeamSearchDecoderMixin:
    """TFA's base class of `BeamSearchDecoder`.

    TFA put the beam step, `finalize`, `batch_size`, `output_size` and
    `tracks_own_finished` here and combined it with `BaseDecoder`. Here
    `BeamSearchDecoder` holds them and subclasses this class, so that
    `isinstance(decoder, BeamSearchDecoderMixin)` tells a beam search
    decoder, as in TFA. A decoder of one's own extends `BeamSearchDecoder`.

    Raises:
        ValueError: for a subclass that is no `BeamSearchDecoder` (TFA's
            `class D(BeamSearchDecoderMixin, BaseDecoder)`), at its
            definition.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not issubclass(cls, CellDecoder):
            raise ValueError(
                f"{cls.__name__}: BeamSearchDecoderMixin's methods are "
                "BeamSearchDecoder's here; extend "
                "keras_seq2seq.tfa.BeamSearchDecoder instead."
            )


def attention_probs_from_attn_state(attention_state):
    """The alignments `(rows, Ts)` of an `AttentionWrapperState`, averaged
    over its mechanisms (TFA's function of this name)."""
    alignments = keras.tree.flatten(attention_state.alignments)
    return ops.mean(ops.stack(alignments, axis=-1), axis=-1)


def attention_probs(cell_state):
    """The alignments of the `AttentionWrapperState` `cell_state`, or the
    mean of those of the wrapper states in the tuple or list `cell_state`
    (a `StackedRNNCells`' state), each averaged over its mechanisms;
    `None` where there is none."""
    if isinstance(cell_state, AttentionWrapperState):
        cell_state = [cell_state]
    if not isinstance(cell_state, (list, tuple)):
        return None
    probs = [
        attention_probs_from_attn_state(state)
        for state in cell_state
        if isinstance(state, AttentionWrapperState)
    ]
    if not probs:
        return None
    return probs[0] if len(probs) == 1 else ops.mean(ops.stack(probs, -1), -1)


def get_attention_probs(next_cell_state, coverage_penalty_weight):
    """TFA's `get_attention_probs`: the alignments the coverage penalty
    sums (`attention_probs`), or `None` when `coverage_penalty_weight` is
    0.

    Raises:
        ValueError: for a weight above 0 and a state that holds no
            `AttentionWrapperState`.
    """
    if coverage_penalty_weight == 0.0:
        return None
    probs = attention_probs(next_cell_state)
    if probs is None:
        raise ValueError(
            "coverage_penalty_weight must be 0.0 for a cell state that "
            "holds no AttentionWrapperState (the penalty sums its "
            f"alignments). Received: {type(next_cell_state).__name__}"
        )
    return probs
