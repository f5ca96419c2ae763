"""`keras_seq2seq.tfa` run as TFA programs, fifth round: monotonic attention.

Each test is a way TFA 0.23 programs used `tfa.seq2seq` that an earlier
version of this module got wrong. The monotonic mechanisms
(`BahdanauMonotonicAttention`, `LuongMonotonicAttention`) lacked the
attributes TFA's classes have: their score weights (`attention_v`,
`attention_g`, `attention_b`), the score bias `attention_score_bias`
(which programs read, or set to `score_bias_init`'s value by hand), and
`probability_fn`, which a subclass that writes out TFA's
`_calculate_attention` calls. Expected values are TFA's formulas written
in NumPy (`tests/reference.py`) with the weights the test sets, and TFA's
`get_weights()` order.
"""

import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
import reference

B, T, D, H, U = 2, 5, 3, 4, 4
RNG = np.random.default_rng(5)
MEMORY = RNG.normal(size=(B, T, D)).astype("float32")
LENGTHS = np.array([5, 3], "int32")
QUERY = RNG.normal(size=(B, H)).astype("float32")
MASK = np.arange(T)[None, :] < LENGTHS[:, None]


def numpy(x):
    return ops.convert_to_numpy(x)


def random_weights(mechanism):
    """Weights drawn for each of the mechanism's, set, and returned (after
    a first query, which builds TFA's query layer)."""
    mechanism([QUERY, mechanism.initial_state(B, "float32")])
    weights = [
        RNG.normal(size=w.shape).astype("float32")
        for w in mechanism.get_weights()
    ]
    mechanism.set_weights(weights)
    return weights


def previous_alignments(mode):
    """A valid previous state: one-hot for `"hard"`, else a distribution."""
    if mode == "hard":
        return np.eye(T, dtype="float32")[[1, 0]]
    previous = RNG.uniform(size=(B, T)).astype("float32") * MASK
    return previous / previous.sum(axis=1, keepdims=True)


# --- TFA's attributes of the monotonic mechanisms: the score weights
# under TFA's names and the score bias `attention_score_bias`. They were
# missing (AttributeError), so a program could neither read the learned
# bias nor set it, and TFA's `_calculate_attention` could not be written.


def test_bahdanau_monotonic_names_its_weights_as_tfa():
    mechanism = tfa.BahdanauMonotonicAttention(
        U, MEMORY, LENGTHS, normalize=True, score_bias_init=-1.5
    )
    np.testing.assert_array_equal(numpy(mechanism.attention_score_bias), -1.5)
    v, bias, g, b, query_kernel, memory_kernel = random_weights(mechanism)
    for name, want in (
        ("attention_v", v),
        ("attention_score_bias", bias),
        ("attention_g", g),
        ("attention_b", b),
    ):
        np.testing.assert_array_equal(numpy(getattr(mechanism, name)), want)
    np.testing.assert_array_equal(
        numpy(mechanism.query_layer.kernel), query_kernel
    )
    np.testing.assert_array_equal(
        numpy(mechanism.memory_layer.kernel), memory_kernel
    )


def test_luong_monotonic_names_its_weights_as_tfa():
    mechanism = tfa.LuongMonotonicAttention(
        H, MEMORY, LENGTHS, scale=True, score_bias_init=2.0
    )
    np.testing.assert_array_equal(numpy(mechanism.attention_score_bias), 2.0)
    g, bias, memory_kernel = random_weights(mechanism)
    np.testing.assert_array_equal(numpy(mechanism.attention_g), g)
    np.testing.assert_array_equal(numpy(mechanism.attention_score_bias), bias)
    np.testing.assert_array_equal(
        numpy(mechanism.memory_layer.kernel), memory_kernel
    )
    plain = tfa.LuongMonotonicAttention(H, MEMORY)
    assert plain.attention_g is None  # TFA's: no scale without `scale`


def test_setting_the_score_bias_moves_the_alignments():
    mechanism = tfa.BahdanauMonotonicAttention(U, MEMORY, LENGTHS)
    v, _, query_kernel, memory_kernel = random_weights(mechanism)
    mechanism.attention_score_bias.assign(-3.0)
    state = previous_alignments("parallel")
    alignments, _ = mechanism([QUERY, state])
    scores = reference.bahdanau_scores(
        QUERY[:, None], MEMORY * MASK[..., None], query_kernel, memory_kernel, v
    )[:, 0]
    p = np.where(MASK, 1.0 / (1.0 + np.exp(-(scores - 3.0))), 0.0)
    want = reference.monotonic_attention(p, state, "parallel")
    np.testing.assert_allclose(numpy(alignments), want, atol=1e-5)


# --- A subclass that writes out TFA's `_calculate_attention` of the class
# (to change the score, say): it reads the weights above and calls
# `self.probability_fn(score, state)`, TFA's sigmoid and monotonic
# recurrence of the class's `mode`, with padded memory steps masked out.


class WrittenOutBahdanauMonotonic(tfa.BahdanauMonotonicAttention):
    def _calculate_attention(self, query, state):
        processed = self.query_layer(query)[:, None, :]
        v = self.attention_v
        if self.attention_g is not None:
            v = self.attention_g * v / ops.sqrt(ops.sum(ops.square(v)))
            processed = processed + self.attention_b
        score = ops.sum(v * ops.tanh(self.keys + processed), axis=2)
        score += self.attention_score_bias
        alignments = self.probability_fn(score, state)
        return alignments, alignments


class WrittenOutLuongMonotonic(tfa.LuongMonotonicAttention):
    def _calculate_attention(self, query, state):
        score = ops.sum(query[:, None, :] * self.keys, axis=2)
        if self.attention_g is not None:
            score = self.attention_g * score
        score += self.attention_score_bias
        alignments = self.probability_fn(score, state)
        return alignments, alignments


def numpy_monotonic(cls, weights, state, mode, option):
    """TFA's alignments of `QUERY` for the class's weights, in NumPy."""
    values = MEMORY * MASK[..., None]
    if cls is WrittenOutBahdanauMonotonic:
        if option:
            v, bias, g, b, query_kernel, memory_kernel = weights
        else:
            (v, bias, query_kernel, memory_kernel), g, b = weights, None, None
        scores = reference.bahdanau_scores(
            QUERY[:, None], values, query_kernel, memory_kernel, v, g, b
        )
    else:
        if option:
            g, bias, memory_kernel = weights
        else:
            (bias, memory_kernel), g = weights, None
        scores = reference.luong_scores(
            QUERY[:, None], values, memory_kernel, g
        )
    scores = scores[:, 0] + bias
    if mode == "hard":
        p = np.float64(scores > 0)
    else:
        p = 1.0 / (1.0 + np.exp(-scores))
    p = np.where(MASK, p, 0.0)
    return reference.monotonic_attention(p, state, mode)


@pytest.mark.parametrize("mode", ["parallel", "recursive", "hard"])
@pytest.mark.parametrize("option", [False, True], ids=["plain", "option"])
@pytest.mark.parametrize(
    "cls, option_name",
    [
        (WrittenOutBahdanauMonotonic, "normalize"),
        (WrittenOutLuongMonotonic, "scale"),
    ],
    ids=["bahdanau", "luong"],
)
def test_a_monotonic_subclass_computes_tfas_alignments(
    cls, option_name, option, mode
):
    mechanism = cls(H, MEMORY, LENGTHS, mode=mode, **{option_name: option})
    weights = random_weights(mechanism)
    state = previous_alignments(mode)
    alignments, next_state = mechanism([QUERY, state])
    want = numpy_monotonic(cls, weights, state, mode, option)
    np.testing.assert_allclose(numpy(alignments), want, atol=1e-5)
    np.testing.assert_array_equal(numpy(next_state), numpy(alignments))
    np.testing.assert_array_equal(numpy(alignments)[1, 3:], 0.0)
