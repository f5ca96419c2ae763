"""Luong (multiplicative) attention."""

import keras
from keras import ops

from keras_seq2seq.attention.base_attention import BaseAttention, check_bool


@keras.saving.register_keras_serializable(package="keras_seq2seq")
class LuongAttention(BaseAttention):
    """Multiplicative attention, Luong et al. 2015 (arXiv:1508.04025).

    The "general" score `score(q, k_j) = q^T W k_j`, `W` projecting keys to
    the query's depth; with `scale=True` the score is multiplied by a
    learned scalar `g` (initialised to 1), as TFA's `scale`.

    Args:
        units: int or None. Depth of the projected keys; it must equal the
            query depth. `None` takes the query depth at build time. Defaults
            to `None`.
        scale: bool. Learn a scalar score scale. Defaults to `False`.
        probability_fn: str or callable. See `BaseAttention`. Defaults to
            `"softmax"`.
        kernel_initializer: initializer of `W`. Defaults to
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

    Raises:
        ValueError: when the query depth differs from `units`.

    Example:

    >>> layer = LuongAttention()
    >>> context, weights = layer(np.ones((3, 5, 4)), np.ones((3, 7, 6)))
    >>> tuple(context.shape), tuple(weights.shape)
    ((3, 5, 6), (3, 5, 7))
    """

    def __init__(self, units=None, scale=False, **kwargs):
        super().__init__(**kwargs)
        if units is not None and (
            not isinstance(units, int) or isinstance(units, bool) or units <= 0
        ):
            raise ValueError(
                f"`units` must be None or an int > 0. Received: units={units!r}"
            )
        self.units = units
        check_bool("scale", scale)
        self.scale = scale
        self.key_dense = None

    def build_score(self, query_depth, key_depth):
        units = self.units or query_depth
        if query_depth != units:
            raise ValueError(
                f"`query` depth must equal `units` ({units}) for Luong "
                f"attention. Received: query depth {query_depth}"
            )
        if self.scale:
            self.attention_g = self.add_weight(
                name="attention_g", shape=(), initializer="ones"
            )
        if self.key_dense is None:  # Else set by TFA's `memory_layer=`.
            self.key_dense = self.projection(units, "key_dense")
        if not self.key_dense.built:
            self.key_dense.build((None, None, key_depth))

    def compute_keys(self, key):
        return self.key_dense(key)  # (B, Tv, Hq)

    def score(self, query, keys):
        """Scores `(B, [Tq,] Tv)` of `query` against prepared `keys`."""
        if len(query.shape) == 2:
            scores = ops.matmul(keys, query[:, :, None])[:, :, 0]  # (B, Tv)
        else:
            scores = ops.matmul(query, ops.transpose(keys, (0, 2, 1)))
        if self.scale:
            scores = self.attention_g * scores
        return scores

    def get_config(self):
        config = {"units": self.units, "scale": self.scale}
        return {**super().get_config(), **config}
