"""TFA's `tfa.seq2seq.beam_search_decoder` module.

With the names programs imported from it alone: `BeamSearchDecoderMixin`,
`get_attention_probs` and `attention_probs_from_attn_state`.
"""

from keras_seq2seq.tfa import (
    BeamSearchDecoder,
    BeamSearchDecoderOutput,
    BeamSearchDecoderState,
    FinalBeamSearchDecoderOutput,
    gather_tree,
    gather_tree_from_array,
    tile_batch,
)
from keras_seq2seq.tfa.beam_search_mixin import (
    BeamSearchDecoderMixin,
    attention_probs_from_attn_state,
    get_attention_probs,
)

__all__ = [
    "BeamSearchDecoder",
    "BeamSearchDecoderMixin",
    "BeamSearchDecoderOutput",
    "BeamSearchDecoderState",
    "FinalBeamSearchDecoderOutput",
    "attention_probs_from_attn_state",
    "gather_tree",
    "gather_tree_from_array",
    "get_attention_probs",
    "tile_batch",
]
