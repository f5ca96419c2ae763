"""TFA's `BahdanauAttention` and `LuongAttention`, adapted over the native
layers.

They keep TFA's arguments and `get_weights()` order and delegate every
computation to a native mechanism from `keras_seq2seq.attention`, held as
the sublayer `core`; what all mechanisms share (the memory, its set-up,
the call convention) is `AttentionMechanism`'s (`attention_mechanism.py`).
"""

import keras

from keras_seq2seq import attention
from keras_seq2seq.tfa.attention_mechanism import AttentionMechanism
from keras_seq2seq.tfa.scalars import python_int


def _check_probability_fn(probability_fn):
    if probability_fn not in ("softmax", "hardmax"):
        raise ValueError(
            "`probability_fn` must be 'softmax' or 'hardmax'. "
            f"Received: probability_fn={probability_fn!r}"
        )
    return probability_fn


def initialize_v_only(core, kernel_initializer):
    """Makes `kernel_initializer` initialise the Bahdanau `core`'s
    `attention_v` only, as TFA's: its query and memory layers were `Dense`
    layers of their own, with Keras' default (glorot_uniform). `core` was
    made with that default, so its projections have it; `attention_v` is
    created with the memory's set-up, from the initializer set here."""
    core.kernel_initializer = keras.initializers.get(kernel_initializer)


class BahdanauWeights:
    """TFA's weights of a Bahdanau score (a mixin of the Bahdanau
    mechanisms), for a subclass's `_calculate_attention`: `None` before
    the memory is set up, and `g`, `b` without `normalize`."""

    @property
    def attention_v(self):
        return getattr(self.core, "attention_v", None)

    @property
    def attention_g(self):
        return getattr(self.core, "attention_g", None)

    @property
    def attention_b(self):
        return getattr(self.core, "attention_b", None)


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class BahdanauAttention(BahdanauWeights, AttentionMechanism):
    """TFA's `BahdanauAttention(units, memory, memory_sequence_length, ...)`.

    Args:
        units: int. Attention depth.
        memory: optional `(B, T, D)` memory.
        memory_sequence_length: optional int `(B,)`.
        normalize: bool. Weight normalisation of `v`. Defaults to `False`.
        probability_fn: `"softmax"` or `"hardmax"`. Defaults to `"softmax"`.
        kernel_initializer: initializer of `attention_v` (as TFA's, not of
            the query and memory layers). Defaults to `"glorot_uniform"`.
        dtype: layer dtype. Defaults to `None`.
        name: Defaults to `"BahdanauAttention"`.
    """

    WEIGHT_ORDER = (
        "attention_v",
        "attention_g",
        "attention_b",
        "query_dense",
        "key_dense",
    )
    CONFIG_KEYS = ("units", "normalize", "probability_fn")

    def __init__(
        self,
        units,
        memory=None,
        memory_sequence_length=None,
        normalize=False,
        probability_fn="softmax",
        kernel_initializer="glorot_uniform",
        dtype=None,
        name="BahdanauAttention",
        **kwargs,
    ):
        units = python_int(units)
        core = attention.BahdanauAttention(
            units,
            normalize=normalize,
            probability_fn=_check_probability_fn(probability_fn),
            dtype=dtype,
            name="core",
        )
        initialize_v_only(core, kernel_initializer)
        super().__init__(
            memory=memory,
            memory_sequence_length=memory_sequence_length,
            core=core,
            dtype=dtype,
            name=name,
            **kwargs,
        )
        self.units = units
        self.normalize = normalize
        self.name_probability_fn(probability_fn)
        self.kernel_initializer = kernel_initializer


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class LuongAttention(AttentionMechanism):
    """TFA's `LuongAttention(units, memory, memory_sequence_length, ...)`.

    The query depth must equal `units`.

    Args:
        units: int. Depth of the keys and of the query.
        memory: optional `(B, T, D)` memory.
        memory_sequence_length: optional int `(B,)`.
        scale: bool. A learned scalar score scale. Defaults to `False`.
        probability_fn: `"softmax"` or `"hardmax"`. Defaults to `"softmax"`.
        dtype: layer dtype. Defaults to `None`.
        name: Defaults to `"LuongAttention"`.
    """

    WEIGHT_ORDER = ("attention_g", "key_dense")
    CONFIG_KEYS = ("units", "scale", "probability_fn")

    def __init__(
        self,
        units,
        memory=None,
        memory_sequence_length=None,
        scale=False,
        probability_fn="softmax",
        dtype=None,
        name="LuongAttention",
        **kwargs,
    ):
        units = python_int(units)
        core = attention.LuongAttention(
            units,
            scale=scale,
            probability_fn=_check_probability_fn(probability_fn),
            dtype=dtype,
            name="core",
        )
        super().__init__(
            memory=memory,
            memory_sequence_length=memory_sequence_length,
            core=core,
            query_depth=units,
            dtype=dtype,
            name=name,
            **kwargs,
        )
        self.units = units
        self.scale = scale
        self.name_probability_fn(probability_fn)

    @property
    def scale_weight(self):
        """TFA's scalar score scale `g`, for a subclass's
        `_calculate_attention`; `None` without `scale` or before the
        memory is set up."""
        return getattr(self.core, "attention_g", None)
