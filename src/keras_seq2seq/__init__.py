"""keras-seq2seq: attention-based sequence-to-sequence models for Keras 3."""

from keras_seq2seq.attention import (
    AttentionMemory,
    BahdanauAttention,
    BahdanauMonotonicAttention,
    BaseAttention,
    LuongAttention,
    LuongMonotonicAttention,
)
from keras_seq2seq.decoder import (
    AttentionDecoder,
    AttentionRNNCell,
    DecoderState,
)
from keras_seq2seq.decoding.beam_ops import gather_tree, tile_batch
from keras_seq2seq.losses import SequenceLoss, sequence_loss
from keras_seq2seq.metrics import MaskedTokenAccuracy
from keras_seq2seq.models import Seq2Seq
from keras_seq2seq.ops import (
    hardmax,
    masked_softmax,
    monotonic_attention,
    safe_cumprod,
    sequence_mask,
)

__version__ = "0.1.0"

__all__ = [
    "AttentionDecoder",
    "AttentionMemory",
    "AttentionRNNCell",
    "BahdanauAttention",
    "BahdanauMonotonicAttention",
    "BaseAttention",
    "DecoderState",
    "LuongAttention",
    "LuongMonotonicAttention",
    "MaskedTokenAccuracy",
    "Seq2Seq",
    "SequenceLoss",
    "gather_tree",
    "hardmax",
    "masked_softmax",
    "monotonic_attention",
    "safe_cumprod",
    "sequence_loss",
    "sequence_mask",
    "tile_batch",
]
