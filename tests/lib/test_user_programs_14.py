"""The native API as demanding Keras users meet it, fourteenth audit round.

This round configures the attention layers from a config file (an option
read as the string "false") and with one seeded initializer, asks beam
search for as many hypotheses as the vocabulary has tokens, and reads the
n-best list of beams cut at the length limit. Each test pins one defect
of an earlier version (an option turned on by a string, two projections
drawn as one matrix, a hypothesis of score -inf presented as an answer)
or the documented result where a user suspected one. Expected values come
from NumPy, or from the same computation done another way.
"""

import keras
import numpy as np
import pytest

from keras_seq2seq import BahdanauAttention, LuongAttention
from tiny_batch import numpy

# --- A bool option of an attention layer read from a config file as a
# string: `bool("false")` is True, so `normalize="false"` made the
# weight-normalised score (and its two extra weights), `scale="false"`
# the learned scale, silently. The decoder and `Seq2Seq` refuse such
# values since rounds 9 and 13.


@pytest.mark.parametrize(
    "layer, name",
    [(BahdanauAttention, "normalize"), (LuongAttention, "scale")],
)
@pytest.mark.parametrize("value", ["false", 1, None])
def test_a_bool_attention_option_refuses_other_values(layer, name, value):
    options = {"units": 4, name: value}
    with pytest.raises(ValueError, match=rf"`{name}` must be True or False"):
        layer(**options)
    config = {**layer(units=4).get_config(), name: value}
    with pytest.raises(ValueError, match=rf"`{name}` must be True or False"):
        layer.from_config(config)


# --- One seeded initializer for an attention layer
# (`kernel_initializer=GlorotUniform(seed=1)`, for a reproducible run):
# Keras' seeded initializers draw the same numbers at every call, so the
# query and key projections of a query as deep as the keys came out one
# matrix (and `v` the first numbers of that draw). Each weight now has a
# seed of its own, derived from the one given: the layer is reproducible,
# its weights are not tied.


def bahdanau_weights(initializer):
    layer = BahdanauAttention(4, kernel_initializer=initializer)
    layer(np.ones((2, 6), "float32"), np.ones((2, 3, 6), "float32"))
    return {
        "query": numpy(layer.query_dense.kernel),
        "key": numpy(layer.key_dense.kernel),
        "v": numpy(layer.attention_v),
    }


@pytest.mark.parametrize(
    "initializer",
    [
        keras.initializers.GlorotUniform(seed=1),
        keras.initializers.RandomNormal(seed=7),
    ],
)
def test_a_seeded_initializer_gives_each_weight_its_own_draw(initializer):
    first = bahdanau_weights(initializer)
    assert not np.allclose(first["query"], first["key"])
    assert not np.allclose(first["v"], first["query"][0])
    assert not np.allclose(first["v"], first["key"].reshape(-1)[:4])
    # Reproducible: the same initializer, or its config, gives the same.
    again = bahdanau_weights(initializer)
    config = keras.initializers.serialize(initializer)
    restored = bahdanau_weights(keras.initializers.deserialize(config))
    for name, weights in first.items():
        np.testing.assert_array_equal(again[name], weights)
        np.testing.assert_array_equal(restored[name], weights)


def test_a_seed_generator_initializer_gives_each_weight_its_own_draw():
    weights = bahdanau_weights(
        keras.initializers.GlorotUniform(seed=keras.random.SeedGenerator(3))
    )
    assert not np.allclose(weights["query"], weights["key"])
    again = bahdanau_weights(
        keras.initializers.GlorotUniform(seed=keras.random.SeedGenerator(3))
    )
    for name, value in weights.items():
        np.testing.assert_array_equal(again[name], value)
