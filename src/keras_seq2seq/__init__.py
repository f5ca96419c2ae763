"""keras-seq2seq: attention-based sequence-to-sequence models for Keras 3."""

from keras_seq2seq.attention import (
    AttentionMemory,
    BahdanauAttention,
    BahdanauMonotonicAttention,
    BaseAttention,
    LuongAttention,
    LuongMonotonicAttention,
)
from keras_seq2seq.ops import (
    hardmax,
    masked_softmax,
    monotonic_attention,
    safe_cumprod,
    sequence_mask,
)

__version__ = "0.1.0"

__all__ = [
    "AttentionMemory",
    "BahdanauAttention",
    "BahdanauMonotonicAttention",
    "BaseAttention",
    "LuongAttention",
    "LuongMonotonicAttention",
    "hardmax",
    "masked_softmax",
    "monotonic_attention",
    "safe_cumprod",
    "sequence_mask",
]
