"""Seed example 3, done right: the hand-written W1/W2/V layer, checked.

The question's custom layer has the right additive score,
`V(tanh(W1 q + W2 k_j))`. Here it is rewritten for Keras 3 (`keras.ops`
instead of `tf`, masks still ignored as in the original), and its numbers
are compared with `keras_seq2seq.BahdanauAttention` after copying its
weights over:

- `query_dense.kernel` = W1's kernel, `key_dense.kernel` = W2's kernel,
  `attention_v` = V's kernel `[:, 0]`;
- V's bias adds the same number to every score, so the softmax cancels it;
- W1 and W2 have biases and `BahdanauAttention` has none: with the biases
  set to zero the layers agree; with `normalize=True` they agree with the
  biases kept, taking `attention_b` = b1 + b2 and the scale `attention_g` =
  `||v||` (so that `g v / ||v||` is `v` itself).

Then it shows what the library layer adds: a padding mask (the custom layer
gives padded steps weight; ours gives them 0 and matches the custom layer run
on the unpadded values), and a sequence of queries `(B, Tq, Hq)` in one call.

Traps of `shared/seed/README.md` this fixes:

1. The score is additive, not a dot product; both layers here compute it.
5. The custom layer ignores masks and takes a single query `(B, Hq)`;
   `BahdanauAttention` takes `value_mask` and queries `(B, [Tq,] Hq)`.

Run: `KERAS_BACKEND=tensorflow python examples/seed_3_custom_layer.py`.
"""

import keras
import numpy as np
from keras import ops

from keras_seq2seq import BahdanauAttention

B, TQ, TV, HQ, DV, U = 3, 5, 7, 4, 6, 2
LENGTHS = np.array([TV, 1, 4])  # The longest, the shortest, one between.


class CustomBahdanauAttention(keras.layers.Layer):
    """The question's layer in Keras 3: one query, no mask.

    Call arguments:
        query: `(B, Hq)`.
        values: `(B, Tv, Dv)`.

    Returns:
        `(context, weights)`: `(B, Dv)` and `(B, Tv, 1)`.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.W1 = keras.layers.Dense(units)
        self.W2 = keras.layers.Dense(units)
        self.V = keras.layers.Dense(1)

    def call(self, query, values):
        query_with_time_axis = ops.expand_dims(query, 1)  # (B, 1, Hq)
        hidden = ops.tanh(self.W1(query_with_time_axis) + self.W2(values))
        score = self.V(hidden)  # (B, Tv, 1)
        weights = ops.softmax(score, axis=1)  # Over the Tv axis.
        context = ops.sum(weights * values, axis=1)  # (B, Dv)
        return context, weights


def run(layer, query, values, value_mask=None):
    """Either layer's `(context, weights)` as NumPy; weights `(B, [Tq,] Tv)`."""
    if value_mask is None:
        context, weights = layer(query, values)
    else:
        context, weights = layer(query, values, value_mask=value_mask)
    weights = ops.convert_to_numpy(weights)
    if isinstance(layer, CustomBahdanauAttention):
        weights = weights[..., 0]  # (B, Tv, 1) -> (B, Tv)
    return ops.convert_to_numpy(context), weights


def max_difference(outputs, other_outputs):
    """Largest absolute difference between two `(context, weights)` pairs."""
    return max(
        float(np.abs(a - b).max())
        for a, b in zip(outputs, other_outputs, strict=True)
    )


def copy_weights(custom, layer, keep_biases):
    """Sets `layer` (a built `BahdanauAttention`) to compute what `custom` does.

    With `keep_biases`, `layer` must have `normalize=True`; otherwise the
    biases of `custom.W1` and `custom.W2` must be zero.
    """
    layer.query_dense.kernel.assign(custom.W1.kernel)
    layer.key_dense.kernel.assign(custom.W2.kernel)
    v = custom.V.kernel[:, 0]  # (U,); V's bias cancels in the softmax.
    layer.attention_v.assign(v)
    if keep_biases:
        layer.attention_b.assign(custom.W1.bias + custom.W2.bias)
        layer.attention_g.assign(ops.sqrt(ops.sum(ops.square(v))))


def compare(custom, query, values, normalize):
    """A `BahdanauAttention` with `custom`'s weights, and their difference."""
    layer = BahdanauAttention(U, normalize=normalize)
    layer(query, values)  # Builds the weights, to be overwritten.
    copy_weights(custom, layer, keep_biases=normalize)
    difference = max_difference(
        run(custom, query, values), run(layer, query, values)
    )
    return layer, difference


def compare_masked(custom, layer, query, values):
    """Weight on padded steps per row (custom, ours), and ours vs unpadded.

    Ours must equal the custom layer run on each row's real steps alone.
    """
    mask = np.arange(TV)[None, :] < LENGTHS[:, None]  # (B, Tv)
    _, custom_weights = run(custom, query, values)
    _, weights = run(layer, query, values, value_mask=mask)
    difference = 0.0
    for row, length in enumerate(LENGTHS):
        if length == 1:  # One real step takes all the weight.
            expected = np.ones((1,), "float32")
        else:
            real_values = values[row : row + 1, :length]  # (1, length, Dv)
            expected = run(custom, query[row : row + 1], real_values)[1][0]
        difference = max(
            difference, np.abs(weights[row, :length] - expected).max()
        )
    padded = ~mask
    return (
        (custom_weights * padded).sum(1),
        (weights * padded).sum(1),
        difference,
    )


def compare_query_sequence(custom, layer, queries, values):
    """Ours on `(B, Tq, Hq)` queries vs `Tq` calls of the custom layer."""
    context, weights = run(layer, queries, values)  # (B, Tq, Dv), (B, Tq, Tv)
    steps = [run(custom, queries[:, t], values) for t in range(TQ)]
    custom_context = np.stack([c for c, _ in steps], axis=1)  # (B, Tq, Dv)
    custom_weights = np.stack([w for _, w in steps], axis=1)  # (B, Tq, Tv)
    difference = max_difference(
        (context, weights), (custom_context, custom_weights)
    )
    return context.shape, weights.shape, difference


def format_row(numbers):
    return " ".join(f"{x:.2f}" for x in numbers)


def main(seed=0):
    """Compares the two layers; prints and returns the differences.

    Returns:
        dict: the largest absolute differences `kept_biases`, `zero_biases`,
        `masked_vs_unpadded` and `query_sequence` (floats), and the weight
        on padded steps per row, `custom_padding_weight` and
        `masked_padding_weight` (NumPy `(B,)`).
    """
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(B, HQ)).astype("float32")
    values = rng.normal(size=(B, TV, DV)).astype("float32")
    queries = rng.normal(size=(B, TQ, HQ)).astype("float32")

    custom = CustomBahdanauAttention(U)
    custom(query, values)  # Builds W1, W2 and V.
    for dense in (custom.W1, custom.W2, custom.V):  # Biases that matter.
        dense.bias.assign(rng.normal(size=dense.bias.shape).astype("float32"))
    _, kept_biases = compare(custom, query, values, normalize=True)
    print(
        "custom layer vs BahdanauAttention(normalize=True), biases kept: "
        f"max difference {kept_biases:.1e}"
    )
    for dense in (custom.W1, custom.W2):  # V's bias stays: it cancels.
        dense.bias.assign(np.zeros(dense.bias.shape, "float32"))
    layer, zero_biases = compare(custom, query, values, normalize=False)
    print(
        "custom layer vs BahdanauAttention, W1/W2 biases zero: "
        f"max difference {zero_biases:.1e}"
    )

    custom_padding_weight, masked_padding_weight, masked_vs_unpadded = (
        compare_masked(custom, layer, query, values)
    )
    print(f"lengths {LENGTHS.tolist()}: weight on padded steps per row")
    print(f"  custom layer:              {format_row(custom_padding_weight)}")
    print(f"  ours, with value_mask:     {format_row(masked_padding_weight)}")
    print(
        "  ours vs the custom layer on the unpadded values: "
        f"max difference {masked_vs_unpadded:.1e}"
    )

    context_shape, weights_shape, query_sequence = compare_query_sequence(
        custom, layer, queries, values
    )
    print(
        f"queries {queries.shape} in one call -> context {context_shape}, "
        f"weights {weights_shape}; vs {TQ} custom calls: max difference "
        f"{query_sequence:.1e}"
    )
    return {
        "kept_biases": kept_biases,
        "zero_biases": zero_biases,
        "custom_padding_weight": custom_padding_weight,
        "masked_padding_weight": masked_padding_weight,
        "masked_vs_unpadded": float(masked_vs_unpadded),
        "query_sequence": query_sequence,
    }


if __name__ == "__main__":
    main()
