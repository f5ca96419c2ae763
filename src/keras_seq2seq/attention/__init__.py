"""Attention mechanisms: Bahdanau, Luong and their monotonic variants."""

from keras_seq2seq.attention.bahdanau_attention import BahdanauAttention
from keras_seq2seq.attention.base_attention import (
    AttentionMemory,
    BaseAttention,
)
from keras_seq2seq.attention.luong_attention import LuongAttention
from keras_seq2seq.attention.monotonic_attention import (
    BahdanauMonotonicAttention,
    LuongMonotonicAttention,
)

__all__ = [
    "AttentionMemory",
    "BahdanauAttention",
    "BahdanauMonotonicAttention",
    "BaseAttention",
    "LuongAttention",
    "LuongMonotonicAttention",
]
