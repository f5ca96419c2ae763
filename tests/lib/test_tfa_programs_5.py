"""`keras_seq2seq.tfa` run as TFA programs, fifth round: monotonic
attention, the mechanisms' initial weights, and beam search over a tuple
of cell states.

Each test is a way TFA 0.23 programs used `tfa.seq2seq` that an earlier
version of this module got wrong: the monotonic mechanisms lacked TFA's
attributes (`attention_v`, `attention_g`, `attention_b`,
`attention_score_bias`, `probability_fn`) that programs read or set and
that a subclass writing out TFA's `_calculate_attention` calls; the
Bahdanau mechanisms' `kernel_initializer` initialised the query and memory
layers too, and those two layers drew the same kernel; and
`BeamSearchDecoder` handled an `AttentionWrapperState` only at the top of
the cell state. Expected values are TFA's formulas written in NumPy
(`tests/reference.py`) with the weights the test sets, TFA's
`get_weights()` order, and identities of TFA's beam search (a
hypothesis' coverage is the sum of its own alignments).
"""

import keras
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


# --- A cell of the program's own whose state is a tuple holding an
# `AttentionWrapper`'s state (attention on the bottom layer, a GRU on top,
# as GNMT), searched with `BeamSearchDecoder`. TFA's decoder leaves every
# `TensorArray` of the cell state in place while it reorders the beams,
# reorders them all at the end, and takes the coverage penalty's
# alignments from the `AttentionWrapperState`s of a tuple of cell states.
# Only a wrapper state at the top was handled: the search split the nested
# alignment history as a tensor of rows and refused the tiled state
# (ValueError), and it refused the coverage penalty.

K, V, E = 3, 7, 3


class AttentionBelowCell(keras.layers.Layer):
    def __init__(self, wrapper, units, **kwargs):
        super().__init__(**kwargs)
        self.wrapper = wrapper
        self.top = keras.layers.GRUCell(units)
        self.state_size = (wrapper.state_size, units)
        self.output_size = units

    def call(self, inputs, states):
        output, bottom = self.wrapper(inputs, states[0])
        output, top = self.top(output, states[1])
        return output, (bottom, top)

    def get_initial_state(self, batch_size):
        bottom = self.wrapper.get_initial_state(
            batch_size=batch_size, dtype="float32"
        )
        return bottom, ops.zeros((batch_size, self.output_size))


def tuple_state_beam_search(reorder):
    keras.utils.set_random_seed(3)
    memory = tfa.tile_batch(MEMORY, K)
    wrapper = tfa.AttentionWrapper(
        keras.layers.LSTMCell(H),
        tfa.BahdanauAttention(U, memory, tfa.tile_batch(LENGTHS, K)),
        attention_layer_size=H,
        alignment_history=True,
    )
    cell = AttentionBelowCell(wrapper, H)
    decoder = tfa.BeamSearchDecoder(
        cell,
        K,
        embedding_fn=keras.layers.Embedding(V, E),
        output_layer=keras.layers.Dense(V),
        length_penalty_weight=0.6,
        coverage_penalty_weight=0.4,
        reorder_tensor_arrays=reorder,
        maximum_iterations=6,
    )
    return decoder(
        None,
        start_tokens=np.ones(B, "int32"),
        end_token=2,
        initial_state=cell.get_initial_state(B * K),
    )


def test_beam_search_over_a_tuple_state_accumulates_each_hypothesis():
    outputs, state, _ = tuple_state_beam_search(reorder=False)
    history = state.cell_state[0].alignment_history.stack()  # (T, B*K, Ts)
    steps = history.shape[0]
    history = numpy(history).reshape(steps, B, K, T)
    parents = numpy(outputs.beam_search_decoder_output.parent_ids)
    lengths = numpy(state.lengths)
    want = np.zeros((B, K, T))
    for b in range(B):
        for j in range(K):
            slot = j  # walked back: the slot hypothesis j held after step t
            for t in range(steps - 1, -1, -1):
                parent = parents[b, t, slot]
                if t < lengths[b, j]:  # its own alignments at step t
                    want[b, j] += history[t, b, parent]
                slot = parent
    np.testing.assert_allclose(
        numpy(state.accumulated_attention_probs), want, atol=1e-5
    )
    assert 0 < want[..., 3:].sum() and (want[1, :, 3:] == 0).all()


def test_beam_search_over_a_tuple_state_reorders_the_nested_history():
    raw_outputs, raw_state, _ = tuple_state_beam_search(reorder=False)
    outputs, state, _ = tuple_state_beam_search(reorder=True)
    np.testing.assert_array_equal(
        numpy(outputs.predicted_ids), numpy(raw_outputs.predicted_ids)
    )
    parents = ops.transpose(
        raw_outputs.beam_search_decoder_output.parent_ids, (1, 0, 2)
    )
    want = tfa.gather_tree_from_array(
        raw_state.cell_state[0].alignment_history.stack(),
        parents,
        raw_state.lengths,
    )
    np.testing.assert_allclose(
        numpy(state.cell_state[0].alignment_history), numpy(want)
    )


# --- TFA's `kernel_initializer` of the Bahdanau mechanisms initialises
# `attention_v` only: the query and memory layers are `Dense` layers of
# their own, with Keras' default (glorot_uniform). It initialised the
# query and memory kernels too, so `kernel_initializer="zeros"` left every
# weight 0, and no gradient ever moved one (the score's gradients with
# respect to `v` are `tanh(0) = 0`, and to the kernels a multiple of `v`).


@pytest.mark.parametrize(
    "cls", [tfa.BahdanauAttention, tfa.BahdanauMonotonicAttention]
)
def test_kernel_initializer_initializes_attention_v_only(cls):
    mechanism = cls(U, MEMORY, LENGTHS, kernel_initializer="zeros")
    mechanism([QUERY, mechanism.initial_state(B, "float32")])
    np.testing.assert_array_equal(numpy(mechanism.attention_v), 0.0)
    for layer, fan_in in (
        (mechanism.query_layer, H),
        (mechanism.memory_layer, D),
    ):
        kernel = numpy(layer.kernel)
        limit = np.sqrt(6.0 / (fan_in + U))  # glorot_uniform's bound
        assert 0 < np.abs(kernel).max() <= limit
        assert len(np.unique(kernel)) == kernel.size
    config = mechanism.get_config()
    assert config["kernel_initializer"]["class_name"] == "Zeros"
    again = cls.from_config(config)
    again.setup_memory(MEMORY, LENGTHS)
    again([QUERY, again.initial_state(B, "float32")])
    np.testing.assert_array_equal(numpy(again.attention_v), 0.0)
    assert np.abs(numpy(again.memory_layer.kernel)).max() > 0


# --- TFA's query and memory layers are two `Dense` layers, each drawing
# its own kernel. Here both projections took one initializer object,
# whose one seed drew the same numbers for both: a query as deep as the
# memory started with the query kernel equal to the memory kernel.


@pytest.mark.parametrize(
    "cls", [tfa.BahdanauAttention, tfa.BahdanauMonotonicAttention]
)
def test_query_and_memory_layers_start_from_kernels_of_their_own(cls):
    memory = RNG.normal(size=(B, T, H)).astype("float32")  # depth D = Hq
    mechanism = cls(U, memory)
    mechanism([QUERY, mechanism.initial_state(B, "float32")])
    query_kernel = numpy(mechanism.query_layer.kernel)
    memory_kernel = numpy(mechanism.memory_layer.kernel)
    assert query_kernel.shape == memory_kernel.shape
    assert not np.isclose(query_kernel, memory_kernel).any()
