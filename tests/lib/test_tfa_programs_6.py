"""`keras_seq2seq.tfa` run as TFA programs, sixth round: an
`AttentionWrapper` inside `StackedRNNCells`, the Luong mechanisms'
signatures, `gather_tree`'s reads of a parent id equal to the beam width,
a decode loop with no bound under XLA, Keras 2's `add_weight(name, shape)`
in subclasses, `sequence_loss`'s flags on two axes, and a compiled beam
search given its state as an argument.

Each test is a way TFA 0.23 programs used `tfa.seq2seq` that an earlier
version of this module got wrong. Expected values come from the wrapper
stepped by hand outside the stack, identities of TFA's beam search, and
TFA's `gather_tree` kernel written out in NumPy over the flat `(T, B, K)`
layout its C++ code indexes.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from keras_seq2seq.decoding.compile import compiled

B, S, D, H, U, V, E, K = 2, 5, 3, 4, 4, 7, 3, 3
RNG = np.random.default_rng(61)
MEMORY = RNG.normal(size=(B, S, D)).astype("float32")
LENGTHS = np.array([5, 3], "int32")
MASK = np.arange(S)[None, :] < LENGTHS[:, None]


def numpy(x):
    return ops.convert_to_numpy(x)


# --- An `AttentionWrapper` inside `keras.layers.StackedRNNCells`
# ([GRUCell, AttentionWrapper(..., alignment_history=True)], attention on
# the top layer). Keras 3's stack hands each cell its state as a list, and
# the wrapper refused a list with `alignment_history=True` (ValueError,
# meant for `keras.layers.RNN`), so neither `BasicDecoder` nor
# `BeamSearchDecoder` could run the stack.


def stacked_cell(memory, lengths, history=True):
    wrapper = tfa.AttentionWrapper(
        keras.layers.GRUCell(H),
        tfa.BahdanauAttention(U, memory, lengths),
        attention_layer_size=H,
        alignment_history=history,
    )
    return keras.layers.StackedRNNCells([keras.layers.GRUCell(H), wrapper])


def test_stacked_cells_keep_the_wrappers_alignment_history():
    # B * K rows, as the beam search's below (the same shapes: on JAX the
    # ops compile once for both tests).
    rows = B * K
    stack = stacked_cell(tfa.tile_batch(MEMORY, K), tfa.tile_batch(LENGTHS, K))
    decoder = tfa.BasicDecoder(
        stack, tfa.TrainingSampler(), output_layer=keras.layers.Dense(V)
    )
    inputs = RNG.normal(size=(rows, 3, E)).astype("float32")
    outputs, state, _ = decoder(
        inputs,
        initial_state=stack.get_initial_state(batch_size=rows),
        sequence_length=np.full(rows, 3, "int32"),
    )
    # The two cells stepped by hand, the wrapper on its own state tuple.
    bottom, wrapper = stack.cells
    below = [ops.zeros((rows, H))]
    top = wrapper.get_initial_state(batch_size=rows, dtype="float32")
    logits, alignments = [], []
    for t in range(3):
        h, below = bottom(inputs[:, t], below)
        output, top = wrapper(h, top)
        logits.append(numpy(decoder.output_layer(output)))
        alignments.append(numpy(top.alignments))
    history = state[1].alignment_history
    assert int(history.size()) == 3
    np.testing.assert_allclose(numpy(history.stack()), alignments, atol=1e-5)
    np.testing.assert_allclose(
        numpy(outputs.rnn_output), np.stack(logits, 1), atol=1e-5
    )


def test_beam_search_over_stacked_cells_takes_the_coverage_penalty():
    memory = tfa.tile_batch(MEMORY, K)
    stack = stacked_cell(memory, tfa.tile_batch(LENGTHS, K))
    decoder = tfa.BeamSearchDecoder(
        stack,
        K,
        embedding_fn=keras.layers.Embedding(V, E),
        output_layer=keras.layers.Dense(V),
        coverage_penalty_weight=0.4,
        reorder_tensor_arrays=False,
        maximum_iterations=3,
    )
    outputs, state, _ = decoder(
        None,
        start_tokens=np.ones(B, "int32"),
        end_token=2,
        initial_state=stack.get_initial_state(batch_size=B * K),
    )
    # A hypothesis' coverage is the sum of its own alignments: walked back
    # through its parents, the history row of the slot it came from.
    history = numpy(state.cell_state[1].alignment_history.stack())
    steps = history.shape[0]
    history = history.reshape(steps, B, K, S)
    parents = numpy(outputs.beam_search_decoder_output.parent_ids)
    lengths = numpy(state.lengths)
    want = np.zeros((B, K, S))
    for b in range(B):
        for j in range(K):
            slot = j
            for t in range(steps - 1, -1, -1):
                parent = parents[b, t, slot]
                if t < lengths[b, j]:
                    want[b, j] += history[t, b, parent]
                slot = parent
    np.testing.assert_allclose(
        numpy(state.accumulated_attention_probs), want, atol=1e-5
    )
    assert want[1, :, 3:].sum() == 0 < want[0, :, 3:].sum()


# --- The Luong mechanisms' signatures are TFA's: `(units, memory,
# memory_sequence_length, scale, probability_fn, dtype, name)` and
# `(units, memory, memory_sequence_length, scale, sigmoid_noise,
# sigmoid_noise_seed, score_bias_init, mode, dtype, name)`. Both took a
# `kernel_initializer` that TFA's lacked, in `dtype`'s place: a dtype
# given by position became the initializer (an error), and a
# `kernel_initializer=` that TFA refused was taken.


def test_luong_mechanisms_take_tfas_positional_dtype():
    luong = tfa.LuongAttention(D, MEMORY, LENGTHS, True, "softmax", "float16")
    monotonic = tfa.LuongMonotonicAttention(
        D, MEMORY, LENGTHS, False, 0.0, None, -1.0, "parallel", "float16"
    )
    query = RNG.normal(size=(B, D)).astype("float16")
    for mechanism in (luong, monotonic):
        assert mechanism.dtype == "float16"
        alignments, _ = mechanism(
            [query, mechanism.initial_state(B, "float16")]
        )
        assert keras.backend.standardize_dtype(alignments.dtype) == "float16"
    assert "kernel_initializer" not in luong.get_config()


@pytest.mark.parametrize(
    "cls", [tfa.LuongAttention, tfa.LuongMonotonicAttention]
)
def test_luong_mechanisms_refuse_a_kernel_initializer(cls):
    with pytest.raises(ValueError, match="kernel_initializer"):
        cls(D, MEMORY, LENGTHS, kernel_initializer="zeros")


# --- `gather_tree` and a parent id equal to the beam width. TFA's kernel
# (CPU and GPU) refused a parent id below 0 or above K, not K itself: it
# read the entry that follows beam K - 1 in the flat (T, B, K) layout.
# This module refused K.


def kernel_gather_tree(step_ids, parent_ids, lengths, end_token):
    """TFA's C++ kernel, its flat-index reads written out in NumPy."""
    steps, batch_size, beam_width = step_ids.shape
    flat_ids, flat_parents = step_ids.ravel(), parent_ids.ravel()

    def at(t, b, j):
        return (t * batch_size + b) * beam_width + j

    beams = np.full_like(step_ids, end_token)
    for b in range(batch_size):
        length = min(steps, lengths[b])
        for j in range(beam_width):
            if length <= 0:
                continue
            beams[length - 1, b, j] = step_ids[length - 1, b, j]
            parent = parent_ids[length - 1, b, j]
            for t in range(length - 2, -1, -1):
                assert 0 <= parent <= beam_width
                beams[t, b, j] = flat_ids[at(t, b, parent)]
                parent = flat_parents[at(t, b, parent)]
            ended = np.cumsum(beams[:length, b, j] == end_token) > 0
            ended = np.concatenate([[False], ended[:-1]])
            beams[:length, b, j][ended] = end_token
    return beams


def test_gather_tree_reads_a_parent_id_equal_to_the_beam_width_as_tfa():
    # Its own generator: every walked slot below is set, and the module's
    # RNG draws differently when the tests run in another order (xdist).
    rng = np.random.default_rng(62)
    steps, end = 5, 2
    step_ids = rng.integers(3, 20, size=(steps, B, K)).astype("int32")
    parent_ids = rng.integers(0, K, size=(steps, B, K)).astype("int32")
    parent_ids[4, 0] = [1, 0, 1]  # row 0's beams 0 and 2 walk into slot 1,
    parent_ids[3, 0, 1] = K  # whose parent K reads row 1's beam 0
    parent_ids[2, 1] = K  # the last row: K reads row 0's beam 0 of step 2,
    parent_ids[2, 0, 0] = 1  # whose parent is row 1's beam 1 of step 0
    step_ids[3, 0, 1] = end  # an end token on row 0's walked path
    lengths = np.array([5, 4], "int32")
    want = kernel_gather_tree(step_ids, parent_ids, lengths, end)
    assert (want[2, 0, [0, 2]] == step_ids[2, 1, 0]).all()
    assert (want[3:, 0, [0, 2]] == end).all()  # the end, and end after it
    assert (want[1, 1] == step_ids[2, 0, 0]).all()
    assert (want[0, 1] == step_ids[0, 1, 1]).all()
    beams = tfa.gather_tree(step_ids, parent_ids, lengths, end)
    np.testing.assert_array_equal(numpy(beams), want)
    traced = compiled(tfa.gather_tree)(step_ids, parent_ids, lengths, end)
    np.testing.assert_array_equal(numpy(traced), want)
    for bad in (-1, K + 1):
        parent_ids[3, 0, 1] = bad
        with pytest.raises(ValueError, match=f"invalid parent id {bad}"):
            tfa.gather_tree(step_ids, parent_ids, lengths, end)


# --- `dynamic_decode` with no `maximum_iterations` inside a function XLA
# compiles (`tf.function(jit_compile=True)`): TFA raised "maximum_iterations
# is required for XLA compilation"; this module's graph loop, whose buffers
# grow by a step, failed in XLA's conversion ("Input and output shapes of
# loop body do not match"). `jax.jit` asked for it already.


@pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="PyTorch compiles no loop"
)
def test_a_custom_sampler_under_xla_asks_for_maximum_iterations():
    embedding = keras.layers.Embedding(V, E)
    embedding.build((None,))

    def initialize_fn(_):
        return ops.zeros((B,), "bool"), embedding(ops.ones((B,), "int32"))

    def sample_fn(time, outputs, state):
        return ops.cast(ops.argmax(outputs, -1), "int32")

    def next_inputs_fn(time, outputs, state, sample_ids):
        return ops.equal(sample_ids, 2), embedding(sample_ids), state

    sampler = tfa.CustomSampler(initialize_fn, sample_fn, next_inputs_fn)
    cell, logits = keras.layers.GRUCell(H), keras.layers.Dense(V)
    cell.build((None, E))
    logits.build((None, H))
    decoder = tfa.BasicDecoder(cell, sampler, output_layer=logits)
    state = [ops.zeros((B, H))]

    def decode(state):
        outputs, _, lengths = decoder(None, initial_state=state)
        return outputs.sample_id, lengths

    with pytest.raises(ValueError, match="maximum_iterations"):
        compiled(decode)(state)


# --- Keras 2's `add_weight(name, shape, dtype, initializer, ...)` in a
# subclass of a tfa layer, as TFA's own mechanisms called it
# (`self.add_weight("attention_v", [units], dtype=..., initializer=...)`).
# Keras 3 takes `shape` first: it refused the name (3.9 and later) or read
# it as the shape.


class TemperedBahdanau(tfa.BahdanauAttention):
    def build(self, input_shape):
        super().build(input_shape)
        if getattr(self, "temperature", None) is None:
            self.temperature = self.add_weight("temperature", [], "float32")

    def _calculate_attention(self, query, state):
        score = ops.sum(
            self.attention_v
            * ops.tanh(self.query_layer(query)[:, None] + self.keys),
            axis=-1,
        )
        score = score / self.temperature
        alignments = self.probability_fn(score, state)
        return alignments, alignments


class GatedWrapper(tfa.AttentionWrapper):
    def build(self, inputs_shape, state_shape=None):
        super().build(inputs_shape, state_shape)
        self.gate = self.add_weight("gate", (H,), "float32", "ones")

    def call(self, inputs, state, training=None):
        output, next_state = super().call(inputs, state, training=training)
        return output * self.gate, next_state


def test_subclasses_add_weights_in_keras_2s_positional_order():
    mechanism = TemperedBahdanau(U, MEMORY, LENGTHS)
    assert mechanism.temperature.path.endswith("temperature")
    assert tuple(mechanism.temperature.shape) == ()
    mechanism.temperature.assign(1.0)
    wrapper = GatedWrapper(keras.layers.GRUCell(H), mechanism, H)
    state = wrapper.get_initial_state(batch_size=B, dtype="float32")
    inputs = RNG.normal(size=(B, E)).astype("float32")
    output, _ = wrapper(inputs, state)
    assert wrapper.gate.path.endswith("gate")
    assert numpy(wrapper.gate).tolist() == [1.0] * H
    assert len(wrapper.get_weights()) == 9  # TFA's 7, and the two added
    wrapper.gate.assign(2 * np.ones(H))
    np.testing.assert_allclose(
        numpy(wrapper(inputs, state)[0]), 2 * numpy(output), atol=1e-6
    )
    mechanism.temperature.assign(1e9)  # uniform over the real steps
    _, next_state = wrapper(inputs, state)
    uniform = MASK / MASK.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(numpy(next_state.alignments), uniform)


# --- `sequence_loss` and `SequenceLoss` with an average flag on one axis
# and a sum flag on the other (`average_across_batch=True,
# sum_over_timesteps=True`): TFA refused an average and a sum on the same
# axis only; on different axes it reduced the average's axis alone and
# ignored the sum flag. This module refused the pair.


def tfa_sequence_loss(logits, targets, weights, avg_t, avg_b, sum_t, sum_b):
    """TFA's branches, in NumPy."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    ce = -np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    ce = ce * weights
    if avg_t and avg_b:
        return div_no_nan(ce.sum(), weights.sum())
    if sum_t and sum_b:
        return div_no_nan(ce.sum(), (weights != 0).sum())
    if avg_t or avg_b:
        axis = 0 if avg_b else 1
        return div_no_nan(ce.sum(axis), weights.sum(axis))
    axis = 0 if sum_b else 1
    return div_no_nan(ce.sum(axis), (weights != 0).sum(axis))


def div_no_nan(x, y):
    return np.where(y == 0, 0.0, x / np.where(y == 0, 1, y))


@pytest.mark.parametrize(
    "avg_t, avg_b, sum_t, sum_b",
    [(False, True, True, False), (True, False, False, True)],
)
def test_sequence_loss_reads_an_average_and_a_sum_on_two_axes_as_tfa(
    avg_t, avg_b, sum_t, sum_b
):
    logits = RNG.normal(size=(B, 4, V)).astype("float32")
    targets = RNG.integers(0, V, size=(B, 4)).astype("int32")
    weights = np.array([[1, 1, 0.5, 0], [1, 2, 0, 0]], "float32")
    want = tfa_sequence_loss(
        logits, targets, weights, avg_t, avg_b, sum_t, sum_b
    )
    flags = dict(
        average_across_timesteps=avg_t,
        average_across_batch=avg_b,
        sum_over_timesteps=sum_t,
        sum_over_batch=sum_b,
    )
    loss = tfa.sequence_loss(logits, targets, weights, **flags)
    np.testing.assert_allclose(numpy(loss), want, rtol=1e-5)
    loss = tfa.SequenceLoss(**flags)(targets, logits, sample_weight=weights)
    np.testing.assert_allclose(numpy(loss), want, rtol=1e-5)
    same_axis = dict(sum_over_timesteps=avg_t, sum_over_batch=avg_b)
    with pytest.raises(ValueError, match="cannot"):  # as TFA
        tfa.sequence_loss(logits, targets, weights, **{**flags, **same_axis})


# --- A beam search compiled with its initial state as an argument
# (`tf.function(decode)(state)`, `jax.jit`): inside, the wrapper's
# alignment history is the traced tensor, and `finalize` called `.stack()`
# on it to reorder it (AttributeError), as it did on a state holding the
# stacked tensor eagerly.


def test_a_compiled_beam_search_reorders_a_history_given_as_an_argument():
    memory = tfa.tile_batch(MEMORY, K)
    wrapper = tfa.AttentionWrapper(
        keras.layers.GRUCell(H),
        tfa.BahdanauAttention(U, memory, tfa.tile_batch(LENGTHS, K)),
        attention_layer_size=H,
        alignment_history=True,
    )
    decoder = tfa.BeamSearchDecoder(
        wrapper,
        K,
        embedding_fn=keras.layers.Embedding(V, E),
        output_layer=keras.layers.Dense(V),
        maximum_iterations=3,
    )
    state = wrapper.get_initial_state(batch_size=B * K, dtype="float32")
    # What a compiled function holds (and `jax.jit` takes): the tensor.
    state = state._replace(alignment_history=state.alignment_history.stack())

    def decode(state):
        outputs, final, _ = decoder(
            None,
            start_tokens=np.ones(B, "int32"),
            end_token=2,
            initial_state=state,
        )
        return outputs.predicted_ids, final.cell_state.alignment_history

    ids, history = decode(state)
    compiled_ids, compiled_history = compiled(decode)(state)
    np.testing.assert_array_equal(numpy(compiled_ids), numpy(ids))
    np.testing.assert_allclose(
        numpy(compiled_history), numpy(history), atol=1e-5
    )
