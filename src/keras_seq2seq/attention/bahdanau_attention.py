"""Bahdanau (additive) attention."""

import keras
from keras import ops

from keras_seq2seq.attention.base_attention import BaseAttention, check_bool


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class BahdanauAttention(BaseAttention):
    """Additive attention, Bahdanau et al. 2015 (arXiv:1409.0473), eq. 6.

    `score(q, k_j) = v^T tanh(W_q q + W_k k_j)`; weights = masked softmax of
    the scores over the value steps; context = weighted sum of the values.
    With `normalize=True`, `v` is weight-normalised (Salimans & Kingma 2016,
    arXiv:1602.07868) as in TFA: `score = (g v / ||v||)^T tanh(W_q q + W_k
    k_j + b)` with a learned scalar `g` and bias `b`.

    Keys `W_k k` are computed by `prepare`, once per source sequence.

    Args:
        units: int. Depth `U` of the projected query and keys.
        normalize: bool. Weight-normalise `v`. Defaults to `False`.
        probability_fn: str or callable. See `BaseAttention`. Defaults to
            `"softmax"`.
        kernel_initializer: initializer of `W_q`, `W_k` and `v`; each draws
            its own numbers, from seeds `seed + 1`, `seed + 2` and `seed`
            for an initializer seeded with an int. Defaults to
            `"glorot_uniform"`.

    Call arguments:
        query: `(B, Hq)` or `(B, Tq, Hq)`.
        value: `(B, Tv, Dv)`.
        key: optional `(B, Tv, Dk)`; defaults to `value`.
        value_mask: optional bool `(B, Tv)`, True where a step is real; filled
            from the Keras mask `value` carries.

    Returns:
        `(context, weights)`: `(B, [Tq,] Dv)` and `(B, [Tq,] Tv)`. Padded
        steps get weight 0; a row with no real step gives zeros, never NaN.

    Example:

    >>> layer = BahdanauAttention(units=2)
    >>> context, weights = layer(np.ones((3, 4)), np.ones((3, 7, 6)))
    >>> tuple(context.shape), tuple(weights.shape)
    ((3, 6), (3, 7))
    """

    def __init__(self, units, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                f"`units` must be an int > 0. Received: units={units!r}"
            )
        self.units = units
        check_bool("normalize", normalize)
        self.normalize = normalize
        # `v` is drawn by `kernel_initializer` itself (offset 0).
        self.query_dense = self.projection(units, "query_dense", 1)
        self.key_dense = self.projection(units, "key_dense", 2)

    def build_score(self, query_depth, key_depth):
        # Either projection may be a layer given built (TFA's
        # `query_layer=`, `memory_layer=`).
        if query_depth is not None and not self.query_dense.built:
            self.query_dense.build((None, query_depth))  # Else at a query.
        if not self.key_dense.built:
            self.key_dense.build((None, None, key_depth))
        self.attention_v = self.add_weight(
            name="attention_v",
            shape=(self.units,),
            initializer=self.kernel_initializer,
        )
        if self.normalize:
            self.attention_g = self.add_weight(
                name="attention_g",
                shape=(),
                initializer=keras.initializers.Constant(
                    (1.0 / self.units) ** 0.5
                ),
            )
            self.attention_b = self.add_weight(
                name="attention_b", shape=(self.units,), initializer="zeros"
            )

    def compute_keys(self, key):
        return self.key_dense(key)  # (B, Tv, U)

    def score(self, query, keys):
        """Scores `(B, [Tq,] Tv)` of `query` against prepared `keys`."""
        projected = self.query_dense(query)  # (B, [Tq,] U)
        if len(query.shape) == 2:
            hidden = projected[:, None, :] + keys  # (B, Tv, U)
        else:
            hidden = projected[:, :, None, :] + keys[:, None]  # (B, Tq, Tv, U)
        # `attend` may run outside `__call__`, where a mixed policy does not
        # autocast the variables, and TF cannot add float16 to float32.
        dtype = hidden.dtype
        v = ops.cast(self.attention_v, dtype)
        if self.normalize:
            hidden = hidden + ops.cast(self.attention_b, dtype)
            g = ops.cast(self.attention_g, dtype)
            v = g * v * ops.rsqrt(ops.sum(ops.square(v)))
        return ops.sum(ops.tanh(hidden) * v, axis=-1)

    def get_config(self):
        config = {"units": self.units, "normalize": self.normalize}
        return {**super().get_config(), **config}
