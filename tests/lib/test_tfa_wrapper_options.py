"""`tfa.AttentionWrapper`'s general options against a NumPy TFA wrapper.

Several mechanisms, `attention_layer`, `cell_input_fn` and `attention_fn`,
stepped by hand, in `BasicDecoder` + `dynamic_decode`, in
`BeamSearchDecoder` and in `keras.layers.RNN`. The expected numbers come
from `np_wrapper`, TFA 0.23's `AttentionWrapper.call` written in NumPy over
the references in `tests/reference*.py`, with the weights the test sets in
TFA's `get_weights()` order.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
import reference
import reference_decoder
from keras_seq2seq.decoding.compile import compiled

B, TS, D, E, C, U, S, V = 3, 5, 6, 4, 7, 2, 3, 9
LENGTHS = np.array([5, 2, 4])
ATOL = 1e-5


def draw(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def mechanisms(memory=None, lengths=LENGTHS):
    """TFA's Bahdanau (`U` units) and Luong (`C` units, the query depth)."""
    memory = draw(1, B, TS, D) if memory is None else memory
    return [
        tfa.BahdanauAttention(U, memory=memory, memory_sequence_length=lengths),
        tfa.LuongAttention(C, memory=memory, memory_sequence_length=lengths),
    ]


def set_weights_in_tfa_order(wrapper, shapes, seed=2):
    """Steps `wrapper` once (creating every weight), checks the shapes of
    `get_weights()` against TFA's order, sets new random ones; returns
    them."""
    state = wrapper.get_initial_state(batch_size=B, dtype="float32")
    wrapper(draw(0, B, E), state)
    assert [tuple(w.shape) for w in wrapper.get_weights()] == shapes
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=0.5, size=s).astype("float32") for s in shapes]
    wrapper.set_weights(weights)
    return weights


def lstm_shapes(cell_input):
    return [(cell_input, 4 * C), (C, 4 * C), (4 * C,)]


# Bahdanau's `attention_v`, query and key kernels; Luong's key kernel.
MECHANISM_SHAPES = [(U,), (C, U), (D, U), (D, C)]


def np_mechanisms(weights, memory=None, lengths=LENGTHS):
    """NumPy `attend(query, previous) -> (alignments, context)` of
    `mechanisms()`, from its four weights in TFA's order."""
    memory = draw(1, B, TS, D) if memory is None else memory
    mask = np.arange(TS)[None] < np.asarray(lengths)[:, None]
    values = memory * mask[..., None]  # TFA masks the memory once
    v, query_kernel, key_kernel, luong_kernel = weights

    def bahdanau(query, previous):
        scores = reference.bahdanau_scores(
            query[:, None], values, query_kernel, key_kernel, v
        )[:, 0]
        return attend(scores)

    def luong(query, previous):
        scores = reference.luong_scores(query[:, None], values, luong_kernel)
        return attend(scores[:, 0])

    def attend(scores):
        weights = reference.masked_softmax(scores, mask)
        return weights, reference.context(weights[:, None], values)[:, 0]

    return [bahdanau, luong]


def np_wrapper(cell, attends, layers, inputs, cell_state, depth, **options):
    """TFA's `AttentionWrapper.call` over the steps of `inputs` `(B, S, E)`.

    `cell(x, state)` and each `attends[i]` are NumPy functions; `layers[i]`
    maps `[cell_output; context]` to the attention (None: the context).
    `options`: `cell_input_fn`, `attention_fn(attend, cell_output,
    previous, layer) -> (attention, alignments)`, `output_attention`.
    """
    cell_input_fn = options.get(
        "cell_input_fn", lambda x, a: np.concatenate([x, a], -1)
    )
    attention_fn = options.get("attention_fn", np_compute_attention)
    attention = np.zeros((inputs.shape[0], depth))
    alignments = [np.zeros((inputs.shape[0], TS)) for _ in attends]
    outputs, history = [], []
    for t in range(inputs.shape[1]):
        cell_output, cell_state = cell(
            cell_input_fn(inputs[:, t], attention), cell_state
        )
        steps = [
            attention_fn(attend, cell_output, previous, layer)
            for attend, previous, layer in zip(
                attends, alignments, layers, strict=True
            )
        ]
        attention = np.concatenate([a for a, _ in steps], -1)
        alignments = [w for _, w in steps]
        history.append(alignments)
        keep = options.get("output_attention", True)
        outputs.append(attention if keep else cell_output)
    return {
        "outputs": np.stack(outputs, 1),
        "attention": attention,
        "alignments": alignments,
        "history": [np.stack(h) for h in zip(*history, strict=True)],
        "cell_state": cell_state,
    }


def np_compute_attention(attend, cell_output, previous, layer):
    alignments, context = attend(cell_output, previous)
    if layer is not None:
        return layer(np.concatenate([cell_output, context], -1)), alignments
    return context, alignments


def run_steps(wrapper, inputs, state=None):
    state = state or wrapper.get_initial_state(batch_size=B, dtype="float32")
    outputs = []
    for t in range(inputs.shape[1]):
        output, state = wrapper(inputs[:, t], state)
        outputs.append(ops.convert_to_numpy(output))
    return np.stack(outputs, 1), state


def numpy(structure):
    return keras.tree.map_structure(ops.convert_to_numpy, structure)


def assert_state_matches(state, want):
    np.testing.assert_allclose(
        numpy(state.attention), want["attention"], atol=ATOL
    )
    assert isinstance(state.alignments, tuple)
    assert isinstance(state.attention_state, tuple)
    for got, expected in zip(state.alignments, want["alignments"], strict=True):
        np.testing.assert_allclose(numpy(got), expected, atol=ATOL)
    for got, expected in zip(
        state.attention_state, want["alignments"], strict=True
    ):
        np.testing.assert_allclose(numpy(got), expected, atol=ATOL)
    for got, expected in zip(
        keras.tree.flatten(state.cell_state), want["cell_state"], strict=True
    ):
        np.testing.assert_allclose(numpy(got), expected, atol=ATOL)


def two_mechanism_wrapper(output_attention=True, alignment_history=True):
    return tfa.AttentionWrapper(
        keras.layers.LSTMCell(C),
        mechanisms(),
        attention_layer_size=[3, 5],
        alignment_history=alignment_history,
        output_attention=output_attention,
    )


def two_mechanism_reference(weights, inputs, **options):
    """`np_wrapper` of `two_mechanism_wrapper` (`options`: np_wrapper's)."""
    k1, k2, kernel, recurrent, bias = weights[:5]
    return np_wrapper(
        reference_decoder.lstm(kernel, recurrent, bias),
        np_mechanisms(weights[5:]),
        [lambda z: z @ k1, lambda z: z @ k2],
        inputs,
        [np.zeros((B, C)), np.zeros((B, C))],
        depth=8,
        **options,
    )


# TFA's order: the attention layers, the cell, the mechanisms in order.
TWO_MECHANISM_SHAPES = (
    [(C + D, 3), (C + D, 5)] + lstm_shapes(E + 8) + MECHANISM_SHAPES
)


@pytest.mark.parametrize("output_attention", [True, False])
def test_two_mechanisms_with_layer_sizes_match_numpy(output_attention):
    wrapper = two_mechanism_wrapper(output_attention)
    weights = set_weights_in_tfa_order(wrapper, TWO_MECHANISM_SHAPES)
    inputs = draw(3, B, S, E)
    outputs, state = run_steps(wrapper, inputs)
    want = two_mechanism_reference(
        weights, inputs, output_attention=output_attention
    )
    np.testing.assert_allclose(outputs, want["outputs"], atol=ATOL)
    assert_state_matches(state, want)
    assert wrapper.output_size == (8 if output_attention else C)
    assert isinstance(state.alignment_history, tuple)
    for got, expected in zip(
        state.alignment_history, want["history"], strict=True
    ):
        np.testing.assert_allclose(numpy(got.stack()), expected, atol=ATOL)


def test_weights_round_trip_through_set_weights_in_tfa_order():
    wrapper = two_mechanism_wrapper()
    weights = set_weights_in_tfa_order(wrapper, TWO_MECHANISM_SHAPES)
    for got, want in zip(wrapper.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="has 9 weights"):
        wrapper.set_weights(weights[:-1])


def test_state_size_and_initial_state_have_one_entry_per_mechanism():
    wrapper = two_mechanism_wrapper()
    sizes = wrapper.state_size
    assert sizes.attention == 8
    assert sizes.alignments == sizes.attention_state == (TS, TS)
    assert sizes.alignment_history == (TS, TS)
    state = wrapper.get_initial_state(batch_size=B, dtype="float32")
    assert tuple(state.attention.shape) == (B, 8)
    assert [tuple(h.stack().shape) for h in state.alignment_history] == [
        (0, B, TS),
        (0, B, TS),
    ]
    plain = tfa.AttentionWrapper(keras.layers.GRUCell(C), mechanisms())
    assert plain.state_size.alignment_history == ((), ())
    assert plain.output_size == 2 * D  # the contexts concatenated


def test_a_list_of_one_mechanism_gives_tuples_and_the_same_numbers():
    inputs = draw(3, B, S, E)
    results = []
    for as_list in (False, True):
        mechanism = mechanisms()[1]
        wrapper = tfa.AttentionWrapper(
            keras.layers.GRUCell(C),
            [mechanism] if as_list else mechanism,
            attention_layer_size=[4] if as_list else 4,
        )
        shapes = [(C + D, 4), (E + 4, 3 * C), (C, 3 * C), (2, 3 * C), (D, C)]
        set_weights_in_tfa_order(wrapper, shapes)
        outputs, state = run_steps(wrapper, inputs)
        results.append(outputs)
        assert isinstance(state.alignments, tuple) == as_list
        assert isinstance(state.attention_state, tuple) == as_list
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)


def test_attention_layers_given_as_layers_match_numpy():
    layers = [
        keras.layers.Dense(4, activation="tanh"),
        keras.layers.Dense(2, use_bias=False),
    ]
    wrapper = tfa.AttentionWrapper(
        keras.layers.LSTMCell(C), mechanisms(), attention_layer=layers
    )
    assert wrapper.output_size == 6  # from the layers' output shapes
    shapes = [(C + D, 4), (4,), (C + D, 2)] + lstm_shapes(E + 6)
    weights = set_weights_in_tfa_order(wrapper, shapes + MECHANISM_SHAPES)
    inputs = draw(3, B, S, E)
    outputs, state = run_steps(wrapper, inputs)
    k1, b1, k2 = weights[:3]
    want = np_wrapper(
        reference_decoder.lstm(*weights[3:6]),
        np_mechanisms(weights[6:]),
        [lambda z: np.tanh(z @ k1 + b1), lambda z: z @ k2],
        inputs,
        [np.zeros((B, C)), np.zeros((B, C))],
        depth=6,
    )
    np.testing.assert_allclose(outputs, want["outputs"], atol=ATOL)
    assert_state_matches(state, want)


def test_cell_input_fn_replaces_the_concatenation():
    def cell_input_fn(inputs, attention):
        return ops.concatenate([inputs * 2.0, attention[:, :3]], axis=-1)

    mechanism = mechanisms()[1]
    wrapper = tfa.AttentionWrapper(
        keras.layers.GRUCell(C),
        [mechanism],
        attention_layer_size=[5],
        cell_input_fn=cell_input_fn,
    )
    shapes = [(C + D, 5), (E + 3, 3 * C), (C, 3 * C), (2, 3 * C), (D, C)]
    weights = set_weights_in_tfa_order(wrapper, shapes)
    inputs = draw(3, B, S, E)
    outputs, state = run_steps(wrapper, inputs)
    kernel = weights[0]
    want = np_wrapper(
        reference_decoder.gru(*weights[1:4]),
        np_mechanisms([None, None, None, weights[4]])[1:],
        [lambda z: z @ kernel],
        inputs,
        [np.zeros((B, C))],
        depth=5,
        cell_input_fn=lambda x, a: np.concatenate([x * 2.0, a[:, :3]], -1),
    )
    np.testing.assert_allclose(outputs, want["outputs"], atol=ATOL)
    assert_state_matches(state, want)


def test_attention_fn_replaces_compute_attention():
    calls = []

    def attention_fn(mechanism, cell_output, attention_state, layer):
        # A TFA-style custom function: the mechanism's call, its values.
        calls.append((mechanism, layer))
        alignments, next_state = mechanism([cell_output, attention_state])
        context = ops.matmul(alignments[:, None], mechanism.values)[:, 0]
        attention = ops.tanh(layer(ops.concatenate([cell_output, context], 1)))
        return attention, alignments, next_state

    memory_mechanisms = mechanisms()
    wrapper = tfa.AttentionWrapper(
        keras.layers.LSTMCell(C),
        memory_mechanisms,
        attention_layer_size=[3, 5],
        attention_fn=attention_fn,
    )
    weights = set_weights_in_tfa_order(wrapper, TWO_MECHANISM_SHAPES)
    assert [m for m, _ in calls[:2]] == memory_mechanisms
    assert [layer.units for _, layer in calls[:2]] == [3, 5]
    inputs = draw(3, B, S, E)
    outputs, state = run_steps(wrapper, inputs)

    def np_attention_fn(attend, cell_output, previous, layer):
        attention, alignments = np_compute_attention(
            attend, cell_output, previous, layer
        )
        return np.tanh(attention), alignments

    want = two_mechanism_reference(
        weights, inputs, attention_fn=np_attention_fn
    )
    np.testing.assert_allclose(outputs, want["outputs"], atol=ATOL)
    assert_state_matches(state, want)


def test_basic_decoder_and_dynamic_decode_keep_one_history_per_mechanism():
    wrapper = two_mechanism_wrapper()
    weights = set_weights_in_tfa_order(wrapper, TWO_MECHANISM_SHAPES)
    output_layer = keras.layers.Dense(V)
    decoder = tfa.BasicDecoder(
        wrapper, tfa.TrainingSampler(), output_layer=output_layer
    )
    inputs = draw(3, B, S, E)
    initial = wrapper.get_initial_state(batch_size=B, dtype="float32")
    decoder(inputs, initial_state=initial, sequence_length=[S] * B)
    kernel, bias = draw(4, 8, V), draw(5, V)
    output_layer.set_weights([kernel, bias])
    outputs, state, lengths = decoder(
        inputs, initial_state=initial, sequence_length=[S] * B
    )
    want = two_mechanism_reference(weights, inputs)
    logits = want["outputs"] @ kernel + bias
    np.testing.assert_allclose(numpy(outputs.rnn_output), logits, atol=1e-4)
    np.testing.assert_array_equal(
        numpy(outputs.sample_id), np.argmax(logits, -1)
    )
    np.testing.assert_array_equal(numpy(lengths), [S] * B)
    assert_state_matches(state, want)
    for got, expected in zip(
        state.alignment_history, want["history"], strict=True
    ):
        np.testing.assert_allclose(numpy(got.stack()), expected, atol=ATOL)


@pytest.mark.parametrize("history_and_coverage", [False, True])
def test_beam_search_reorders_the_tuple_alignments_with_the_beams(
    history_and_coverage,
):
    k, steps, end_token = 2, 3, V  # an end token never chosen: no finish
    memory = draw(1, B, TS, D)
    tiled = numpy(tfa.tile_batch(memory, k))
    tiled_lengths = numpy(tfa.tile_batch(LENGTHS, k))
    wrapper = tfa.AttentionWrapper(
        keras.layers.LSTMCell(C),
        mechanisms(tiled, tiled_lengths),
        attention_layer_size=[3, 5],
        alignment_history=history_and_coverage,
    )
    output_layer = keras.layers.Dense(V)
    decoder = tfa.BeamSearchDecoder(
        wrapper,
        k,
        output_layer=output_layer,
        maximum_iterations=steps,
        coverage_penalty_weight=0.5 if history_and_coverage else 0.0,
    )
    embedding = draw(6, V, E)
    start = np.array([0, 1, 2], "int32")
    initial = wrapper.get_initial_state(batch_size=B * k, dtype="float32")
    decoder(
        embedding,
        start_tokens=start,
        end_token=end_token,
        initial_state=initial,
    )
    shapes = [tuple(w.shape) for w in decoder.get_weights()]
    assert shapes == TWO_MECHANISM_SHAPES + [(8, V), (V,)]
    rng = np.random.default_rng(7)
    weights = [rng.normal(scale=0.5, size=s).astype("float32") for s in shapes]
    decoder.set_weights(weights)
    outputs, state, _ = decoder(
        embedding,
        start_tokens=start,
        end_token=end_token,
        initial_state=initial,
    )
    ids = numpy(outputs.predicted_ids)  # (B, T, K), best beam first
    assert ids.shape == (B, steps, k)
    # Each final beam replayed alone through the NumPy wrapper: its state
    # (alignments of both mechanisms included) and its log-probability.
    tokens = np.concatenate([np.repeat(start[:, None, None], k, 2), ids], 1)
    rows = tokens.transpose(0, 2, 1).reshape(B * k, steps + 1)
    k1, k2, kernel, recurrent, bias = weights[:5]
    want = np_wrapper(
        reference_decoder.lstm(kernel, recurrent, bias),
        np_mechanisms(weights[5:9], tiled, tiled_lengths),
        [lambda z: z @ k1, lambda z: z @ k2],
        embedding[rows[:, :steps]],
        [np.zeros((B * k, C)), np.zeros((B * k, C))],
        depth=8,
    )
    rows_of_beams = state.cell_state._replace(alignment_history=())
    merged = keras.tree.map_structure(  # (B, K, ...) -> (B*K, ...)
        lambda x: x.reshape((B * k,) + x.shape[2:]), numpy(rows_of_beams)
    )
    assert_state_matches(merged, want)
    logits = want["outputs"] @ weights[9] + weights[10]
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    chosen = np.take_along_axis(log_probs, rows[:, 1:, None], 2)[..., 0]
    np.testing.assert_allclose(
        numpy(state.log_probs), chosen.sum(1).reshape(B, k), atol=1e-4
    )
    if not history_and_coverage:
        return
    # `finalize` reorders each history by TFA's `gather_tree_from_array`
    # (checked against NumPy in test_user_programs_4), and the coverage
    # sums the mean of the mechanisms' own alignments (TFA's
    # `attention_probs_from_attn_state`).
    decoder.reorder_tensor_arrays = False
    _, raw_state, _ = decoder(
        embedding,
        start_tokens=start,
        end_token=end_token,
        initial_state=initial,
    )
    parent_ids = np.transpose(
        numpy(outputs.beam_search_decoder_output.parent_ids), (1, 0, 2)
    )
    for got, raw in zip(
        state.cell_state.alignment_history,
        raw_state.cell_state.alignment_history,
        strict=True,
    ):
        expected = tfa.gather_tree_from_array(
            raw.stack(), parent_ids, state.lengths
        )
        np.testing.assert_array_equal(numpy(got), numpy(expected))
    coverage = np.mean(want["history"], axis=0).sum(0)  # (B*K, Ts)
    np.testing.assert_allclose(
        numpy(state.accumulated_attention_probs),
        coverage.reshape(B, k, TS),
        atol=1e-5,
    )


def test_in_a_keras_rnn_layer_equals_stepping_by_hand():
    wrapper = two_mechanism_wrapper(alignment_history=False)
    inputs = draw(3, B, S, E)
    layer = keras.layers.RNN(wrapper, return_sequences=True, return_state=True)
    outputs, *states = layer(inputs)
    want, final = run_steps(wrapper, inputs)
    np.testing.assert_allclose(numpy(outputs), want, atol=ATOL)
    assert len(states) == 5  # the fields of AttentionWrapperState
    for got, expected in zip(states[2], final.alignments, strict=True):
        np.testing.assert_allclose(numpy(got), numpy(expected), atol=1e-6)


def test_compiled_steps_stack_each_history():
    wrapper = two_mechanism_wrapper()
    weights = set_weights_in_tfa_order(wrapper, TWO_MECHANISM_SHAPES)
    inputs = draw(3, B, S, E)

    def histories(inputs):
        state = wrapper.get_initial_state(batch_size=B, dtype="float32")
        for t in range(S):
            _, state = wrapper(inputs[:, t], state)
        return tuple(h.stack() for h in state.alignment_history)

    got = compiled(histories)(inputs)
    want = two_mechanism_reference(weights, inputs)["history"]
    for history, expected in zip(got, want, strict=True):
        np.testing.assert_allclose(numpy(history), expected, atol=ATOL)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"attention_layer_size": [3]}, "one integer per attention_mech"),
        ({"attention_layer_size": 3}, "saw: 1 vs 2"),
        ({"attention_layer": [keras.layers.Dense(3)]}, "one layer per"),
        (
            {"attention_layer_size": [3, 3], "attention_layer": []},
            "Only one of attention_layer_size and attention_layer",
        ),
        ({"cell_input_fn": "concat"}, "`cell_input_fn` must be callable"),
        ({"attention_fn": 3}, "`attention_fn` must be callable"),
    ],
)
def test_mismatched_options_raise(options, match):
    with pytest.raises(ValueError, match=match):
        tfa.AttentionWrapper(keras.layers.GRUCell(C), mechanisms(), **options)


@pytest.mark.parametrize("mechanism", [[], [keras.layers.Dense(2)]])
def test_a_list_without_tfa_mechanisms_raises(mechanism):
    with pytest.raises(ValueError, match="non-empty list"):
        tfa.AttentionWrapper(keras.layers.GRUCell(C), mechanism)
