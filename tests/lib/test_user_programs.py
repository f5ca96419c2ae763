"""The native API as Keras users write it: shapes, masks and models that
the other tests do not use (unknown lengths, odd sizes, user containers)."""

import keras
import numpy as np
import pytest

from helpers import assert_all_close, to_numpy
from keras_seq2seq import BahdanauMonotonicAttention, LuongMonotonicAttention

B, TQ, TV, HQ = 2, 3, 5, 4


@pytest.mark.parametrize(
    "factory",
    [
        lambda: BahdanauMonotonicAttention(3, mode="recursive"),
        lambda: LuongMonotonicAttention(mode="recursive"),
    ],
    ids=["bahdanau", "luong"],
)
def test_recursive_monotonic_takes_an_unknown_source_length(factory):
    # `keras.Input((None,))` leaves Tv unknown while the model is traced.
    source = keras.Input((None,), dtype="int32")
    query = keras.Input((None, HQ))
    embedded = keras.layers.Embedding(9, 6, mask_zero=True)(source)
    layer = factory()
    outputs = layer(query, embedded)
    model = keras.Model([source, query], outputs)
    rng = np.random.default_rng(5)
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 1, 2]])
    queries = rng.normal(size=(B, TQ, HQ)).astype("float32")
    context, weights = to_numpy(model([ids, queries]))
    assert weights.shape == (B, TQ, TV)
    assert np.all(weights[0, :, 3:] == 0)  # padded source steps
    embedding = model.layers[2]
    expected = layer(queries, embedding(ids), value_mask=ids != 0)
    assert_all_close([context, weights], to_numpy(expected))
