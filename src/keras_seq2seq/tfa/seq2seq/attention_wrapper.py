"""TFA's `tfa.seq2seq.attention_wrapper` module: the mechanisms, the
wrapper and the attention functions.

With the private names TFA's programs imported to extend it: the base
classes of a mechanism of their own (`_BaseAttentionMechanism`,
`_BaseMonotonicAttentionMechanism`), and the wrapper's default
`attention_fn` (`_compute_attention`), which a custom one often calls.
"""

from keras_seq2seq.tfa import (
    AttentionMechanism,
    AttentionWrapper,
    AttentionWrapperState,
    BahdanauAttention,
    BahdanauMonotonicAttention,
    LuongAttention,
    LuongMonotonicAttention,
    hardmax,
    monotonic_attention,
    safe_cumprod,
)
from keras_seq2seq.tfa.general_attention_step import compute_attention
from keras_seq2seq.tfa.monotonic_mechanisms import (
    MonotonicAttentionMechanism,
)

_BaseAttentionMechanism = AttentionMechanism
_BaseMonotonicAttentionMechanism = MonotonicAttentionMechanism
_compute_attention = compute_attention

__all__ = [
    "AttentionMechanism",
    "AttentionWrapper",
    "AttentionWrapperState",
    "BahdanauAttention",
    "BahdanauMonotonicAttention",
    "LuongAttention",
    "LuongMonotonicAttention",
    "hardmax",
    "monotonic_attention",
    "safe_cumprod",
]
