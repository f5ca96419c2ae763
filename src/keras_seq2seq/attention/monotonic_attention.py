"""Monotonic attention: Bahdanau and Luong scores, monotonic alignments."""

import keras
from keras import ops

from keras_seq2seq.attention.bahdanau_attention import BahdanauAttention
from keras_seq2seq.attention.luong_attention import LuongAttention
from keras_seq2seq.ops import (
    MONOTONIC_MODES,
    mask_scores,
    monotonic_attention,
    scan,
)


class MonotonicMixin:
    """Turns a score into monotonic alignments (Raffel et al. 2017).

    `p = sigmoid(score + score_bias [+ noise])` is the probability of stopping
    at each memory step (padded steps: 0); the alignments are
    `monotonic_attention(p, previous_weights, mode)`. In `"hard"` mode
    `p = (score + score_bias > 0)`. Noise `N(0, sigmoid_noise^2)` is added to
    the score only while training (the paper's recipe; TFA adds it always).
    A sequence of queries `(B, Tq, Hq)` is read as successive decoder steps:
    each query's previous weights are those of the query before it.
    """

    def init_monotonic(
        self, sigmoid_noise, sigmoid_noise_seed, score_bias_init, mode
    ):
        if mode not in MONOTONIC_MODES:
            raise ValueError(
                f"`mode` must be one of {MONOTONIC_MODES}. "
                f"Received: mode={mode!r}"
            )
        if sigmoid_noise < 0:
            raise ValueError(
                "`sigmoid_noise` must be >= 0. "
                f"Received: sigmoid_noise={sigmoid_noise!r}"
            )
        self.sigmoid_noise = float(sigmoid_noise)
        self.sigmoid_noise_seed = sigmoid_noise_seed
        self.score_bias_init = float(score_bias_init)
        self.mode = mode
        self.seed_generator = None
        if self.sigmoid_noise > 0:
            self.seed_generator = keras.random.SeedGenerator(sigmoid_noise_seed)

    def build_score(self, query_depth, key_depth):
        super().build_score(query_depth, key_depth)
        self.score_bias = self.add_weight(
            name="score_bias",
            shape=(),
            initializer=keras.initializers.Constant(self.score_bias_init),
        )

    def probabilities(self, scores, mask, previous_weights, training):
        # Cast: outside `__call__` (`attend`), mixed policies do not autocast.
        scores = scores + ops.cast(self.score_bias, scores.dtype)
        return self.monotonic_weights(scores, mask, previous_weights, training)

    def monotonic_weights(self, scores, mask, previous_weights, training):
        """The alignments of scores that hold the score bias already: the
        noise while training, the stopping probabilities, the recurrence
        of `mode` (TFA's `_monotonic_probability_fn`)."""
        if training and self.seed_generator is not None:
            scores = scores + self.sigmoid_noise * keras.random.normal(
                ops.shape(scores), dtype=scores.dtype, seed=self.seed_generator
            )
        scores = mask_scores(scores, mask)
        if self.mode == "hard":
            p = ops.cast(ops.greater(scores, 0.0), "float32")
        else:
            p = ops.sigmoid(scores)
        if previous_weights is None:
            tv = ops.shape(scores)[-1]
            previous_weights = ops.one_hot(
                ops.zeros(ops.shape(scores)[:1], dtype="int32"), tv
            )
        previous_weights = ops.cast(previous_weights, "float32")
        if len(scores.shape) == 2:
            return monotonic_attention(p, previous_weights, self.mode)

        def step(previous, p_t):
            weights = monotonic_attention(p_t, previous, self.mode)
            return weights, weights

        p = ops.transpose(p, (1, 0, 2))  # (Tq, B, Tv)
        _, weights = scan(step, previous_weights, p, previous_weights)
        return ops.transpose(weights, (1, 0, 2))  # (B, Tq, Tv)

    def initial_weights(self, memory):
        """TFA's initial alignments: one-hot at the first step, `(B, Tv)`."""
        shape = ops.shape(memory.mask)
        first = ops.zeros(shape[:1], dtype="int32")
        return ops.one_hot(first, shape[1], dtype=memory.values.dtype)

    def monotonic_config(self):
        return {
            "sigmoid_noise": self.sigmoid_noise,
            "sigmoid_noise_seed": self.sigmoid_noise_seed,
            "score_bias_init": self.score_bias_init,
            "mode": self.mode,
        }


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class BahdanauMonotonicAttention(MonotonicMixin, BahdanauAttention):
    """Bahdanau score with monotonic alignments (Raffel et al. 2017).

    Args:
        units: int. Depth `U` of the projected query and keys.
        normalize: bool. Weight-normalise `v`. Defaults to `False`.
        sigmoid_noise: float. Standard deviation of the pre-sigmoid noise
            added while training. Defaults to `0.0`.
        sigmoid_noise_seed: optional int. Seed of that noise. Defaults to
            `None`.
        score_bias_init: float. Initial value of the scalar score bias
            (Raffel et al. suggest -4). Defaults to `0.0`.
        mode: str. `"parallel"`, `"recursive"` or `"hard"`, see
            `keras_seq2seq.ops.monotonic_attention`. Defaults to
            `"parallel"`.
        kernel_initializer: initializer of the kernels. Defaults to
            `"glorot_uniform"`.

    Call arguments:
        query: `(B, Hq)` or `(B, Tq, Hq)` (successive decoder steps).
        value: `(B, Tv, Dv)`.
        key: optional `(B, Tv, Dk)`; defaults to `value`.
        value_mask: optional bool `(B, Tv)`, True where a step is real.
        previous_weights: optional `(B, Tv)` alignments of the previous step;
            defaults to one-hot at the first step.
        training: bool. Adds the sigmoid noise when True.

    Returns:
        `(context, weights)`: `(B, [Tq,] Dv)` and `(B, [Tq,] Tv)`.
    """

    def __init__(
        self,
        units,
        normalize=False,
        sigmoid_noise=0.0,
        sigmoid_noise_seed=None,
        score_bias_init=0.0,
        mode="parallel",
        **kwargs,
    ):
        super().__init__(units=units, normalize=normalize, **kwargs)
        self.init_monotonic(
            sigmoid_noise, sigmoid_noise_seed, score_bias_init, mode
        )

    def get_config(self):
        return {**super().get_config(), **self.monotonic_config()}


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class LuongMonotonicAttention(MonotonicMixin, LuongAttention):
    """Luong score with monotonic alignments (Raffel et al. 2017).

    Args:
        units: int or None. Depth of the projected keys, equal to the query
            depth. Defaults to `None` (the query depth).
        scale: bool. Learn a scalar score scale. Defaults to `False`.
        sigmoid_noise: float. Standard deviation of the pre-sigmoid noise
            added while training. Defaults to `0.0`.
        sigmoid_noise_seed: optional int. Seed of that noise. Defaults to
            `None`.
        score_bias_init: float. Initial value of the scalar score bias.
            Defaults to `0.0`.
        mode: str. `"parallel"`, `"recursive"` or `"hard"`. Defaults to
            `"parallel"`.
        kernel_initializer: initializer of the kernel. Defaults to
            `"glorot_uniform"`.

    Call arguments and returns: as `BahdanauMonotonicAttention`.
    """

    def __init__(
        self,
        units=None,
        scale=False,
        sigmoid_noise=0.0,
        sigmoid_noise_seed=None,
        score_bias_init=0.0,
        mode="parallel",
        **kwargs,
    ):
        super().__init__(units=units, scale=scale, **kwargs)
        self.init_monotonic(
            sigmoid_noise, sigmoid_noise_seed, score_bias_init, mode
        )

    def get_config(self):
        return {**super().get_config(), **self.monotonic_config()}
