"""TFA's monotonic attention mechanisms, adapted over the native layers.

`BahdanauMonotonicAttention` and `LuongMonotonicAttention` keep the API of
the other TFA mechanisms (see `attention_mechanisms.py`); they differ in
their arguments (sigmoid noise, score bias, `mode`) and in their start:
the alignments before the first step are one-hot on the first memory step.

Unlike TFA's, which added `sigmoid_noise` at every call (decoding too),
the noise is added only while training (Raffel et al.'s recipe): in
`model.fit`, or when the decoder, wrapper or mechanism is called with
`training=True`. A custom training step written as TFA's tutorial's
(`decoder(inputs, initial_state=...)` under a `tf.GradientTape`) must pass
`training=True` to train with the noise.
"""

import keras
from keras import ops

from keras_seq2seq import attention
from keras_seq2seq.tfa.attention_mechanism import AttentionMechanism
from keras_seq2seq.tfa.attention_mechanisms import (
    BahdanauWeights,
    initialize_v_only,
)
from keras_seq2seq.tfa.scalars import python_float, python_int


class MonotonicAttentionMechanism(AttentionMechanism):
    """Base of the monotonic mechanisms (TFA's
    `_BaseMonotonicAttentionMechanism`): the alignments start one-hot on
    the first memory step, as if attention had stopped there."""

    def initial_alignments(self, batch_size, dtype):
        """TFA's monotonic start: one-hot at the first memory step."""
        first = ops.zeros((batch_size,), dtype="int32")
        dtype = keras.backend.standardize_dtype(dtype)  # TFA's `tf.DType` too
        return ops.one_hot(first, self.alignments_size, dtype=dtype)


class CoreMonotonicMechanism(MonotonicAttentionMechanism):
    """Base of the built-in monotonic mechanisms: TFA's attributes over
    the native layer `core`, for a subclass's `_calculate_attention`
    (which adds `attention_score_bias` to its score, then calls
    `probability_fn(score, state)`).

    `probability_fn` is TFA's monotonic probability function of the
    class's `mode`, with padded memory steps masked out; it adds no
    sigmoid noise (the built-in call adds it only while training, and a
    subclass's calculation is not told whether it trains).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.probability_fn = self._masked(self._monotonic_probability)

    def _monotonic_probability(self, score, state):
        return self.core.monotonic_weights(score, None, state, training=False)

    @property
    def attention_score_bias(self):
        """TFA's scalar score bias; `None` before the memory is set up."""
        return getattr(self.core, "score_bias", None)


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class BahdanauMonotonicAttention(BahdanauWeights, CoreMonotonicMechanism):
    """TFA's `BahdanauMonotonicAttention`.

    Args:
        units: int. Attention depth.
        memory: optional `(B, T, D)` memory.
        memory_sequence_length: optional int `(B,)`.
        normalize: bool. Defaults to `False`.
        sigmoid_noise: float. Pre-sigmoid noise while training. Defaults to
            `0.0`.
        sigmoid_noise_seed: optional int. Defaults to `None`.
        score_bias_init: float. Defaults to `0.0`.
        mode: `"parallel"`, `"recursive"` or `"hard"`. Defaults to
            `"parallel"`.
        kernel_initializer: initializer of `attention_v` (as TFA's, not of
            the query and memory layers). Defaults to `"glorot_uniform"`.
        dtype: layer dtype. Defaults to `None`.
        name: Defaults to `"BahdanauMonotonicAttention"`.
    """

    WEIGHT_ORDER = (
        "attention_v",
        "score_bias",
        "attention_g",
        "attention_b",
        "query_dense",
        "key_dense",
    )
    CONFIG_KEYS = (
        "units",
        "normalize",
        "sigmoid_noise",
        "sigmoid_noise_seed",
        "score_bias_init",
        "mode",
    )

    def __init__(
        self,
        units,
        memory=None,
        memory_sequence_length=None,
        normalize=False,
        sigmoid_noise=0.0,
        sigmoid_noise_seed=None,
        score_bias_init=0.0,
        mode="parallel",
        kernel_initializer="glorot_uniform",
        dtype=None,
        name="BahdanauMonotonicAttention",
        **kwargs,
    ):
        units = python_int(units)
        sigmoid_noise_seed = python_int(sigmoid_noise_seed)
        sigmoid_noise = python_float(sigmoid_noise)
        score_bias_init = python_float(score_bias_init)
        core = attention.BahdanauMonotonicAttention(
            units,
            normalize=normalize,
            sigmoid_noise=sigmoid_noise,
            sigmoid_noise_seed=sigmoid_noise_seed,
            score_bias_init=score_bias_init,
            mode=mode,
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
        self.sigmoid_noise = sigmoid_noise
        self.sigmoid_noise_seed = sigmoid_noise_seed
        self.score_bias_init = score_bias_init
        self.mode = mode
        self.kernel_initializer = kernel_initializer


@keras.saving.register_keras_serializable(package="keras_seq2seq.tfa")
class LuongMonotonicAttention(CoreMonotonicMechanism):
    """TFA's `LuongMonotonicAttention`.

    Args:
        units: int. Depth of the keys and of the query.
        memory: optional `(B, T, D)` memory.
        memory_sequence_length: optional int `(B,)`.
        scale: bool. Defaults to `False`.
        sigmoid_noise: float. Defaults to `0.0`.
        sigmoid_noise_seed: optional int. Defaults to `None`.
        score_bias_init: float. Defaults to `0.0`.
        mode: `"parallel"`, `"recursive"` or `"hard"`. Defaults to
            `"parallel"`.
        dtype: layer dtype. Defaults to `None`.
        name: Defaults to `"LuongMonotonicAttention"`.
    """

    WEIGHT_ORDER = ("attention_g", "score_bias", "key_dense")
    CONFIG_KEYS = (
        "units",
        "scale",
        "sigmoid_noise",
        "sigmoid_noise_seed",
        "score_bias_init",
        "mode",
    )

    def __init__(
        self,
        units,
        memory=None,
        memory_sequence_length=None,
        scale=False,
        sigmoid_noise=0.0,
        sigmoid_noise_seed=None,
        score_bias_init=0.0,
        mode="parallel",
        dtype=None,
        name="LuongMonotonicAttention",
        **kwargs,
    ):
        units = python_int(units)
        sigmoid_noise_seed = python_int(sigmoid_noise_seed)
        sigmoid_noise = python_float(sigmoid_noise)
        score_bias_init = python_float(score_bias_init)
        core = attention.LuongMonotonicAttention(
            units,
            scale=scale,
            sigmoid_noise=sigmoid_noise,
            sigmoid_noise_seed=sigmoid_noise_seed,
            score_bias_init=score_bias_init,
            mode=mode,
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
        self.sigmoid_noise = sigmoid_noise
        self.sigmoid_noise_seed = sigmoid_noise_seed
        self.score_bias_init = score_bias_init
        self.mode = mode

    @property
    def attention_g(self):
        """TFA's scalar score scale; `None` without `scale` or before the
        memory is set up."""
        return getattr(self.core, "attention_g", None)
