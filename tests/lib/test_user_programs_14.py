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

from helpers import TINY_SEQ2SEQ
from keras_seq2seq import (
    BahdanauAttention,
    LuongAttention,
    Seq2Seq,
    sequence_mask,
)
from tiny_batch import SOURCE, numpy, small_model

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


# --- Beam search as wide as the vocabulary. No search chooses `pad_id`,
# so a first step offers `V - 1` tokens: a beam of `V` kept a hypothesis
# of padding scored -inf there, and one-token hypotheses
# (`max_length=1`) returned it as the last of the n-best list.


# A search run once runs eagerly, but on JAX, whose eager ops compile one
# by one.
JIT = keras.backend.backend() == "jax"
BEAM_10 = dict(method="beam", beam_size=10, jit_compile=JIT)


def hypotheses(result, row):
    ids, lengths = numpy(result["ids"]), numpy(result["lengths"])
    return [tuple(ids[row, k, : lengths[row, k]]) for k in range(len(ids[0]))]


@pytest.fixture(scope="module")
def model():
    """One model for the tests that only translate with it."""
    return small_model()


def test_more_one_token_hypotheses_than_tokens_is_one_clear_error(model):
    message = r"`n_best` must be <= 9: 9 of the 10 tokens .*pad_id=0"
    with pytest.raises(ValueError, match=message):
        model.generate(SOURCE, **BEAM_10, n_best=10, max_length=1)
    result = model.generate(SOURCE, **BEAM_10, n_best=9, max_length=1)
    assert np.isfinite(numpy(result["scores"])).all()
    for row in range(3):  # the nine tokens but padding, once each
        tokens = sorted(ids[0] for ids in hypotheses(result, row))
        assert tokens == list(range(1, 10))


def test_a_vocabulary_of_three_tokens_makes_few_hypotheses():
    # bos and eos can be chosen: "eos", "bos eos", "bos bos" at 2 tokens.
    keras.utils.set_random_seed(0)
    model = Seq2Seq(9, 3, **TINY_SEQ2SEQ)
    options = dict(method="beam", beam_size=3, n_best=3, jit_compile=JIT)
    with pytest.raises(ValueError, match=r"`n_best` must be <= 2: 2 of"):
        model.generate(SOURCE, max_length=1, **options)
    result = model.generate(SOURCE, max_length=2, **options)
    assert np.isfinite(numpy(result["scores"])).all()
    want = {(2,), (1, 2), (1, 1)}
    assert all(set(hypotheses(result, row)) == want for row in range(3))


# --- The tool's n-best list showed a hypothesis twice where beams were
# cut at the length limit. The search's own n-best list holds distinct
# hypotheses there (real ones, also with a beam as wide as the
# vocabulary); the tool searches one token past its limit and cuts the
# hypotheses afterwards, which can make two equal.


def test_beams_cut_at_the_length_limit_are_real_and_distinct():
    model = small_model()
    bias = np.linspace(-1.0, 1.0, 10)
    bias[model.eos_id] = -6.0  # every beam runs to the limit
    model.output_layer.bias.assign(bias)
    # As wide as the vocabulary: real hypotheses after the first step.
    result = model.generate(
        SOURCE, **BEAM_10, n_best=10, max_length=3, length_penalty=0.6
    )
    np.testing.assert_array_equal(numpy(result["lengths"]), 3)
    scores = numpy(result["scores"])
    assert np.isfinite(scores).all() and (scores > -1e3).all()
    for row in range(3):
        assert len(set(hypotheses(result, row))) == 10
        assert all(model.pad_id not in ids for ids in hypotheses(result, row))


# --- `generate(..., jit_compile=False)` on a model never called (just
# made, or made to look at its translations before training): the
# compiled path builds the model first, the eager one did not, and Keras
# raised its own error about `build()` arguments of `AttentionRNNCell`.


def test_an_unbuilt_model_generates_eagerly():
    keras.utils.set_random_seed(0)
    model = Seq2Seq(9, 10, **TINY_SEQ2SEQ)
    eager = model.generate(SOURCE, max_length=3, jit_compile=False)
    assert model.built
    compiled = model.generate(SOURCE, max_length=3)
    np.testing.assert_array_equal(numpy(eager["ids"]), numpy(compiled["ids"]))


# --- `sequence_mask(lengths)` without `maxlen`, as `tf.sequence_mask`
# takes it (the longest length): a TypeError for the missing argument.


def test_sequence_mask_is_as_wide_as_the_longest_length_by_default():
    lengths = np.array([2, 0, 3], "int32")
    want = np.arange(3)[None, :] < lengths[:, None]
    np.testing.assert_array_equal(numpy(sequence_mask(lengths)), want)
    np.testing.assert_array_equal(numpy(sequence_mask(lengths, 5))[:, :3], want)
