"""The attention decoder: one step (`AttentionRNNCell`) and all steps."""

from keras_seq2seq.decoder.attention_decoder import AttentionDecoder
from keras_seq2seq.decoder.attention_rnn_cell import (
    AttentionRNNCell,
    DecoderState,
)

__all__ = ["AttentionDecoder", "AttentionRNNCell", "DecoderState"]
