"""AttentionDecoder and its step against NumPy and TFA; masks and training.

Numbers come from `reference_decoder.py` (NumPy cells and decoder loop) over
`reference.py` (attention), and from TFA's `AttentionWrapper` fixtures; then
masks, returned state, gradients, `.keras` saving, compiled training, and a
small reverse task learned end to end.
"""

import keras
import numpy as np
import pytest
from keras import ops

import reference
import reference_decoder
from helpers import check_layer, to_numpy
from keras_seq2seq import (
    BahdanauAttention,
    BahdanauMonotonicAttention,
    LuongAttention,
)
from keras_seq2seq.decoder import AttentionDecoder, AttentionRNNCell
from keras_seq2seq.models import Seq2Seq
from shared_data import assert_outputs, case_ids, load_case

B, TS, TT, E, DV, U, C = 3, 7, 5, 4, 6, 2, 5
A = 3  # attention_layer_size, when on.
SOURCE_LENGTHS = np.array([TS, 1, 4])
TARGET_LENGTHS = np.array([3, TT, 1])
QUERY_ORDERS = ("luong", "bahdanau")

CELLS = {
    "gru": lambda: keras.layers.GRUCell(C),
    "lstm": lambda: keras.layers.LSTMCell(C),
    "stacked_gru": lambda: keras.layers.StackedRNNCells(
        [keras.layers.GRUCell(C), keras.layers.GRUCell(C)]
    ),
    "stacked_lstm": lambda: keras.layers.StackedRNNCells(
        [keras.layers.LSTMCell(C), keras.layers.LSTMCell(C)]
    ),
}
# Tensors in each cell's flat state: [h], [h, c], [h1, h2], [h1, c1, h2, c2].
STATES = {"gru": 1, "lstm": 2, "stacked_gru": 2, "stacked_lstm": 4}
ATTENTIONS = {
    "bahdanau": lambda: BahdanauAttention(U),
    "luong": lambda: LuongAttention(C),
    "bahdanau_monotonic": lambda: BahdanauMonotonicAttention(U),
}


def make_inputs(seed, cell_kind="gru"):
    """Decoder arguments drawn from `default_rng(seed)`, masks by lengths."""
    rng = np.random.default_rng(seed)
    return {
        "inputs": rng.normal(size=(B, TT, E)).astype("float32"),
        "value": rng.normal(size=(B, TS, DV)).astype("float32"),
        "initial_state": [
            rng.normal(size=(B, C)).astype("float32")
            for _ in range(STATES[cell_kind])
        ],
        "inputs_mask": np.arange(TT) < TARGET_LENGTHS[:, None],
        "value_mask": np.arange(TS) < SOURCE_LENGTHS[:, None],
    }


def randomize(layer, seed=1):
    """Draws every weight of a built layer (biases and scalars included)."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [
            rng.normal(scale=0.5, size=w.shape).astype("float32")
            for w in layer.weights
        ]
    )


def built_decoder(inputs, cell="gru", attention="bahdanau", **kwargs):
    decoder = AttentionDecoder(CELLS[cell](), ATTENTIONS[attention](), **kwargs)
    decoder.build(inputs["inputs"].shape, inputs["value"].shape)
    randomize(decoder)
    return decoder


def numpy_of(weight):
    return ops.convert_to_numpy(weight).astype("float64")


def reference_cell(cell):
    """The NumPy twin of a built Keras cell, with its weights."""
    if isinstance(cell, keras.layers.StackedRNNCells):
        return reference_decoder.stacked(
            [reference_cell(c) for c in cell.cells]
        )
    make = {
        keras.layers.GRUCell: reference_decoder.gru,
        keras.layers.LSTMCell: reference_decoder.lstm,
    }[type(cell)]
    return make(
        numpy_of(cell.kernel),
        numpy_of(cell.recurrent_kernel),
        numpy_of(cell.bias),
    )


def reference_attend(attention, value, value_mask):
    """`attend(query, previous_weights)` in NumPy, from `reference.py`."""
    mask = value_mask[:, None]  # (B, 1, Ts)

    def attend(query, previous_weights):
        query = query[:, None]  # (B, 1, C)
        if isinstance(attention, BahdanauAttention):
            scores = reference.bahdanau_scores(
                query,
                value,
                numpy_of(attention.query_dense.kernel),
                numpy_of(attention.key_dense.kernel),
                numpy_of(attention.attention_v),
            )
        else:
            scores = reference.luong_scores(
                query, value, numpy_of(attention.key_dense.kernel)
            )
        if isinstance(attention, BahdanauMonotonicAttention):
            p = reference_decoder.sigmoid(
                scores[:, 0] + numpy_of(attention.score_bias)
            )
            p = np.where(value_mask, p, 0.0)
            weights = reference.monotonic_attention(
                p, previous_weights, "parallel"
            )
        else:
            weights = reference.masked_softmax(scores, mask)[:, 0]
        context = reference.context(weights[:, None], value)[:, 0]
        return context, weights

    return attend


def nest_state(cell_kind, flat):
    """The flat initial state as the NumPy cells carry it."""
    flat = [np.float64(s) for s in flat]
    if cell_kind == "stacked_gru":
        return [[flat[0]], [flat[1]]]
    return flat


def flatten(state):
    return [np.asarray(s) for s in keras.tree.flatten(state)]


# --- Numbers -----------------------------------------------------------


@pytest.mark.parametrize("query_order", QUERY_ORDERS)
def test_two_steps_follow_the_query_order(query_order):
    # Hand-unrolled: "bahdanau" queries with the previous state and feeds the
    # context to the cell; "luong" feeds the previous attention vector and
    # queries with the new cell output. a_t = [h_t; c_t] W_a.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, 2, E)).astype("float32")
    value = rng.normal(size=(B, TS, DV)).astype("float32")
    h0 = rng.normal(size=(B, C)).astype("float32")
    decoder = AttentionDecoder(
        keras.layers.GRUCell(C),
        BahdanauAttention(U),
        query_order=query_order,
        attention_layer_size=A,
        return_weights=True,
        return_state=True,
    )
    decoder.build(x.shape, value.shape)
    randomize(decoder)
    outputs, weights, state = to_numpy(decoder(x, value, initial_state=h0))

    step = decoder.step
    gru = reference_cell(step.cell)
    attend = reference_attend(step.attention, value, np.ones((B, TS), bool))
    w_a = numpy_of(step.attention_layer.kernel)
    no_weights = np.zeros((B, TS))
    if query_order == "bahdanau":
        c1, w1 = attend(h0, no_weights)
        h1, _ = gru(np.concatenate([x[:, 0], c1], -1), [h0])
        c2, w2 = attend(h1, w1)
        h2, _ = gru(np.concatenate([x[:, 1], c2], -1), [h1])
    else:
        a0 = np.zeros((B, A))
        h1, _ = gru(np.concatenate([x[:, 0], a0], -1), [h0])
        c1, w1 = attend(h1, no_weights)
        a1 = np.concatenate([h1, c1], -1) @ w_a
        h2, _ = gru(np.concatenate([x[:, 1], a1], -1), [h1])
        c2, w2 = attend(h2, w1)
    a1 = np.concatenate([h1, c1], -1) @ w_a
    a2 = np.concatenate([h2, c2], -1) @ w_a

    tol = dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs, np.stack([a1, a2], 1), **tol)
    np.testing.assert_allclose(weights, np.stack([w1, w2], 1), **tol)
    np.testing.assert_allclose(state, h2, **tol)


REFERENCE_CASES = [  # cell, query order, A, output_attention, attention
    *[
        ("gru", order, size, output_attention, "bahdanau", None)
        for order in QUERY_ORDERS
        for size in (None, A)
        for output_attention in (True, False)
    ],
    *[
        (cell, order, size, output_attention, "bahdanau", None)
        for order in QUERY_ORDERS
        for cell, size, output_attention in (
            ("lstm", None, False),
            ("stacked_gru", A, True),
        )
    ],
    *[
        ("gru", order, A, True, attention, None)
        for order in QUERY_ORDERS
        for attention in ("luong", "bahdanau_monotonic")
    ],
    ("gru", "luong", A, True, "bahdanau", False),  # No input feeding.
]


@pytest.mark.parametrize(
    "cell,query_order,attention_layer_size,output_attention,attention,"
    "input_feeding",
    REFERENCE_CASES,
)
def test_decoder_matches_numpy_reference(
    cell,
    query_order,
    attention_layer_size,
    output_attention,
    attention,
    input_feeding,
):
    inputs = make_inputs(seed=0, cell_kind=cell)
    decoder = built_decoder(
        inputs,
        cell,
        attention,
        query_order=query_order,
        attention_layer_size=attention_layer_size,
        output_attention=output_attention,
        input_feeding=input_feeding,
        return_weights=True,
        return_state=True,
    )
    outputs, weights, *state = to_numpy(decoder(**inputs))

    step = decoder.step
    mechanism = step.attention
    initial_weights = np.zeros((B, TS))
    if isinstance(mechanism, BahdanauMonotonicAttention):
        initial_weights[:, 0] = 1.0  # Raffel et al.: start at step 0.
    want_outputs, want_weights, want_state = reference_decoder.decode(
        reference_cell(step.cell),
        reference_attend(mechanism, inputs["value"], inputs["value_mask"]),
        inputs["inputs"],
        inputs["inputs_mask"],
        nest_state(cell, inputs["initial_state"]),
        initial_weights,
        DV,
        query_order,
        input_feeding=query_order == "luong" and input_feeding is not False,
        attention_kernel=(
            None
            if attention_layer_size is None
            else numpy_of(step.attention_layer.kernel)
        ),
        output_attention=output_attention,
    )
    tol = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outputs, want_outputs, **tol)
    np.testing.assert_allclose(weights, want_weights, **tol)
    assert len(state) == len(flatten(want_state))
    for have, want in zip(state, flatten(want_state), strict=True):
        np.testing.assert_allclose(have, want, **tol)


def is_luong_order_wrapper_case(name):
    return name.startswith("wrapper_")


@pytest.mark.parametrize(
    "cid",
    # One seed: each case costs a compilation of the loop on JAX.
    [
        cid
        for cid in case_ids("attention_wrapper", is_luong_order_wrapper_case)
        if cid.startswith("s0_")
    ],
)
def test_luong_order_matches_tfa_attention_wrapper(cid):
    # TFA's AttentionWrapper is the "luong" order with input feeding.
    case, a = load_case(cid)
    args = case["args"]
    cell = {"GRUCell": keras.layers.GRUCell, "LSTMCell": keras.layers.LSTMCell}[
        args["cell"]
    ](args["cell_units"])
    if args["mechanism"] == "BahdanauAttention":
        mechanism = BahdanauAttention(
            args["mechanism_units"], normalize=args["mechanism_normalize"]
        )
    else:
        mechanism = LuongAttention(
            args["mechanism_units"], scale=args["mechanism_scale"]
        )
    decoder = AttentionDecoder(
        cell,
        mechanism,
        query_order="luong",
        attention_layer_size=args["attention_layer_size"],
        output_attention=args["output_attention"],
    )
    value_mask = (
        np.arange(a["memory"].shape[1]) < a["memory_sequence_length"][:, None]
    )
    decoder.build(a["inputs"].shape, a["memory"].shape)
    assigned = [
        (cell.kernel, "cell_kernel"),
        (cell.recurrent_kernel, "cell_recurrent_kernel"),
        (cell.bias, "cell_bias"),
        (mechanism.key_dense.kernel, "memory_kernel"),
    ]
    for name in ("attention_v", "attention_g", "attention_b"):
        if name in a:
            assigned.append((getattr(mechanism, name), name))
    if "query_kernel" in a:
        assigned.append((mechanism.query_dense.kernel, "query_kernel"))
    if "attention_layer_kernel" in a:
        assigned.append(
            (decoder.step.attention_layer.kernel, "attention_layer_kernel")
        )
    assert len(assigned) == len(decoder.weights)
    for weight, name in assigned:
        weight.assign(a[name])

    initial = [
        a[name]
        for name in ("initial_cell_state_h", "initial_cell_state_c")
        if name in a
    ]
    memory = decoder.step.prepare(a["memory"], value_mask=value_mask)
    state = decoder.step.get_initial_state(memory, initial or None)
    outputs, weights, final = decoder.scan(a["inputs"], memory, state)
    final_state = to_numpy(final.cell_state)
    got = {
        "outputs": outputs,
        "final_attention": final.attention_vector,
        "final_alignments": final.weights,
        "final_attention_state": final.weights,
        "alignment_history": ops.transpose(weights, (1, 0, 2)),
    }
    if len(final_state) == 1:
        got["final_cell_state"] = final_state[0]
    else:
        got["final_cell_state_h"], got["final_cell_state_c"] = final_state
    assert_outputs(
        case, a, {k: ops.convert_to_numpy(v) for k, v in got.items()}
    )


# --- Cells and the layer contract -------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "stacked_gru"])
def test_decoder_passes_check_layer(cell, tmp_path):
    inputs = make_inputs(seed=0, cell_kind=cell)
    del inputs["initial_state"]  # check_layer takes arrays, not lists.
    outputs = check_layer(
        lambda: AttentionDecoder(
            CELLS[cell](),
            BahdanauAttention(U),
            attention_layer_size=A,
            return_weights=True,
            return_state=True,
        ),
        inputs,
        tmp_path,
    )
    assert [y.shape for y in outputs] == [(B, TT, A), (B, TT, TS)] + [
        (B, C)
    ] * STATES[cell]


@pytest.mark.parametrize("cell", ["lstm", "stacked_lstm"])
def test_returned_state_continues_the_decoding(cell):
    # `return_state` gives a flat list of (B, C) tensors that is a valid
    # `initial_state` (stacked cells nest it again): two halves equal the
    # whole. In the "bahdanau" order the cell state is all
    # a step depends on (no attention vector is fed back).
    inputs = make_inputs(seed=0, cell_kind=cell)
    del inputs["inputs_mask"]
    decoder = built_decoder(
        inputs,
        cell,
        query_order="bahdanau",
        attention_layer_size=A,
        return_state=True,
    )
    whole, *state = to_numpy(decoder(**inputs))
    head, *middle = decoder(**dict(inputs, inputs=inputs["inputs"][:, :2]))
    assert [tuple(s.shape) for s in middle] == [(B, C)] * STATES[cell]
    tail, *end = to_numpy(
        decoder(
            **dict(inputs, inputs=inputs["inputs"][:, 2:], initial_state=middle)
        )
    )
    halves = np.concatenate([ops.convert_to_numpy(head), tail], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-6, atol=1e-6)
    for have, want in zip(end, state, strict=True):
        np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-6)


def test_python_loop_over_the_step_equals_the_decoder():
    # "One step, two drivers": decoding calls AttentionRNNCell.call directly.
    inputs = make_inputs(seed=0)
    del inputs["inputs_mask"]
    decoder = built_decoder(inputs, attention_layer_size=A, return_weights=True)
    outputs, weights = to_numpy(decoder(**inputs))

    step = decoder.step
    memory = step.prepare(inputs["value"], value_mask=inputs["value_mask"])
    state = step.get_initial_state(memory, inputs["initial_state"])
    for t in range(TT):
        output, state = step(inputs["inputs"][:, t], state, memory)
        np.testing.assert_allclose(
            ops.convert_to_numpy(output), outputs[:, t], 1e-6, 1e-6
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(state.weights), weights[:, t], 1e-6, 1e-6
        )


# --- Masks ------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell,query_order",
    [("gru", "luong"), ("lstm", "bahdanau"), ("stacked_gru", "luong")],
)
def test_padded_target_steps_change_nothing(cell, query_order):
    inputs = make_inputs(seed=0, cell_kind=cell)
    decoder = built_decoder(
        inputs,
        cell,
        query_order=query_order,
        attention_layer_size=A,
        return_weights=True,
        return_state=True,
    )
    outputs, weights, *state = to_numpy(decoder(**inputs))

    padded = ~inputs["inputs_mask"]
    changed = dict(inputs, inputs=inputs["inputs"].copy())
    changed["inputs"][padded] = 100.0 * np.random.default_rng(2).normal(
        size=(padded.sum(), E)
    )
    for have, want in zip(
        to_numpy(decoder(**changed)),
        [outputs, weights, *state],
        strict=True,
    ):
        np.testing.assert_array_equal(have, want)

    # Outputs and weights are 0 at padded steps.
    assert np.all(outputs[padded] == 0) and np.all(weights[padded] == 0)
    assert np.all(np.abs(outputs[~padded]).sum(-1) > 0)

    # Each row ends in the state of a run over its real steps only.
    for length in np.unique(TARGET_LENGTHS):
        rows = TARGET_LENGTHS == length
        short = dict(inputs, inputs=inputs["inputs"][:, :length])
        del short["inputs_mask"]
        short_outputs, short_weights, *short_state = to_numpy(decoder(**short))
        tol = dict(rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(
            short_outputs[rows], outputs[rows, :length], **tol
        )
        np.testing.assert_allclose(
            short_weights[rows], weights[rows, :length], **tol
        )
        for have, want in zip(short_state, state, strict=True):
            np.testing.assert_allclose(have[rows], want[rows], **tol)


def ids(rng, lengths, steps, vocab=10):
    """Token ids in `[1, vocab)`, 0 (padding) after each row's length."""
    tokens = rng.integers(1, vocab, size=(len(lengths), steps))
    return np.where(np.arange(steps) < lengths[:, None], tokens, 0)


def seq2seq_model(
    vocab,
    query_order="luong",
    units=C,
    depth=DV,
    embedding=E,
    attention=U,
    attention_layer_size=A,
    return_weights=False,
):
    """Embedding(mask_zero) -> GRU encoder -> AttentionDecoder -> Dense.

    The encoder's last state, through a `tanh` Dense layer (Bahdanau et al.
    2015, appendix A.2.2), is the decoder's initial state.
    """
    source = keras.Input((None,), dtype="int32", name="source")
    target = keras.Input((None,), dtype="int32", name="target")
    embedded = keras.layers.Embedding(vocab, embedding, mask_zero=True)(source)
    value, last = keras.layers.GRU(
        depth, return_sequences=True, return_state=True
    )(embedded)
    initial_state = keras.layers.Dense(units, activation="tanh")(last)
    decoder = AttentionDecoder(
        keras.layers.GRUCell(units),
        BahdanauAttention(attention),
        query_order=query_order,
        attention_layer_size=attention_layer_size,
        return_weights=return_weights,
    )
    targets = keras.layers.Embedding(vocab, embedding, mask_zero=True)(target)
    results = decoder(targets, value, initial_state=initial_state)
    if return_weights:
        return keras.Model([source, target], results[1])
    logits = keras.layers.Dense(vocab)(results)
    return keras.Model([source, target], logits)


@pytest.mark.parametrize("query_order", QUERY_ORDERS)
def test_weights_sum_to_one_over_real_source_steps(query_order):
    # The masks come from Embedding(mask_zero=True), through the GRU encoder.
    model = seq2seq_model(10, query_order, return_weights=True)
    randomize(model)
    rng = np.random.default_rng(0)
    source = ids(rng, SOURCE_LENGTHS, TS)
    target = ids(rng, TARGET_LENGTHS, TT)
    weights = ops.convert_to_numpy(model([source, target]))

    assert weights.shape == (B, TT, TS)
    real_target = np.arange(TT) < TARGET_LENGTHS[:, None]
    padded_source = np.arange(TS) >= SOURCE_LENGTHS[:, None]
    np.testing.assert_allclose(weights[real_target].sum(-1), 1.0, rtol=1e-6)
    assert np.all(weights[~real_target] == 0)
    assert np.all(np.swapaxes(weights, 1, 2)[padded_source] == 0)
    assert np.all(weights[real_target][:, 0] > 0)  # Real steps get weight.


# --- Training, saving, compiling -------------------------------------------


def test_saved_model_predicts_the_same(tmp_path):
    model = seq2seq_model(10, "bahdanau")
    randomize(model)
    rng = np.random.default_rng(0)
    data = [ids(rng, SOURCE_LENGTHS, TS), ids(rng, TARGET_LENGTHS, TT)]
    want = model.predict(data, batch_size=B, verbose=0)

    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(
        loaded.predict(data, batch_size=B, verbose=0), want
    )
    decoder = [x for x in loaded.layers if isinstance(x, AttentionDecoder)][0]
    assert decoder.step.query_order == "bahdanau"
    assert decoder.step.attention_layer_size == A


@pytest.mark.parametrize("query_order", QUERY_ORDERS)
def test_compiled_model_predicts_as_eager_and_trains_every_weight(query_order):
    # Gradients reach every weight, the encoder's included, through the
    # compiled (XLA on TensorFlow and JAX) training step.
    jit_compile = keras.backend.backend() != "torch"  # Torch: no XLA.
    model = seq2seq_model(10, query_order)
    # Drawn weights: at the default initialisation the keys are so small that
    # the query kernel's gradient rounds to nothing in float32.
    randomize(model)
    rng = np.random.default_rng(0)
    data = [ids(rng, SOURCE_LENGTHS, TS), ids(rng, TARGET_LENGTHS, TT)]
    labels = rng.integers(1, 10, size=(B, TT))
    eager = ops.convert_to_numpy(model(data))

    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    assert model.jit_compile == jit_compile
    compiled = model.predict(data, batch_size=B, verbose=0)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-5)

    before = [numpy_of(w) for w in model.trainable_weights]
    assert len(before) == 16  # Embeddings 2, GRU 3, Dense 2+2, decoder 7.
    history = model.fit(data, labels, batch_size=B, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for weight, old in zip(model.trainable_weights, before, strict=True):
        assert not np.array_equal(numpy_of(weight), old), weight.path


# --- Dropout ----------------------------------------------------------------

DROPOUT_CELLS = {
    "gru": lambda rate: keras.layers.GRUCell(
        C, dropout=rate, recurrent_dropout=rate
    ),
    "lstm": lambda rate: keras.layers.LSTMCell(
        C, dropout=rate, recurrent_dropout=rate
    ),
    "stacked_gru": lambda rate: keras.layers.StackedRNNCells(
        [
            keras.layers.GRUCell(C, dropout=rate),
            keras.layers.GRUCell(C, recurrent_dropout=rate),
        ]
    ),
}


def dropout_decoder(cell, rate, inputs, query_order="luong"):
    decoder = AttentionDecoder(
        DROPOUT_CELLS[cell](rate),
        BahdanauAttention(U),
        query_order=query_order,
        attention_layer_size=A,
    )
    decoder.build(inputs["inputs"].shape, inputs["value"].shape)
    randomize(decoder)
    return decoder


@pytest.mark.parametrize(
    "cell,query_order",
    [("gru", "luong"), ("lstm", "bahdanau"), ("stacked_gru", "luong")],
)
def test_cell_dropout_acts_in_training_only(cell, query_order):
    inputs = make_inputs(seed=0, cell_kind=cell)
    decoder = dropout_decoder(cell, 0.5, inputs, query_order)
    plain = dropout_decoder(cell, 0.0, inputs, query_order)
    plain.set_weights(decoder.get_weights())
    inference = ops.convert_to_numpy(decoder(**inputs))
    np.testing.assert_allclose(
        inference, ops.convert_to_numpy(plain(**inputs)), 1e-6, 1e-6
    )

    training = ops.convert_to_numpy(decoder(**inputs, training=True))
    assert np.isfinite(training).all()
    real = np.arange(TT) < TARGET_LENGTHS[:, None]
    assert not np.allclose(training[real], inference[real])
    # The masks belong to one call: the next call, on two rows, draws its
    # own instead of reusing three rows' masks.
    two_rows = {name: value[:2] for name, value in inputs.items()}
    two_rows["initial_state"] = [s[:2] for s in inputs["initial_state"]]
    outputs = decoder(**two_rows, training=True)
    assert tuple(outputs.shape) == (2, TT, A)


def test_model_with_cell_dropout_trains_compiled():
    # Masks are drawn before the loop, so a compiled step (XLA on TensorFlow
    # and JAX) traces no random draw inside it; the last batch is smaller.
    source = keras.Input((None,), dtype="int32")
    target_in = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, E, mask_zero=True)(source)
    memory, state = keras.layers.GRU(
        C, return_sequences=True, return_state=True
    )(x)
    y = keras.layers.Embedding(10, E, mask_zero=True)(target_in)
    y = AttentionDecoder(
        keras.layers.GRUCell(C, dropout=0.3, recurrent_dropout=0.3),
        BahdanauAttention(U),
        attention_layer_size=A,
    )(y, memory, initial_state=state)
    model = keras.Model([source, target_in], keras.layers.Dense(10)(y))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=keras.backend.backend() != "torch",
    )
    rng = np.random.default_rng(0)
    lengths = np.array([TS, 1, 4, 2, 6])
    data = [ids(rng, lengths, TS), ids(rng, lengths[::-1] % TT + 1, TT)]
    labels = rng.integers(1, 10, size=(5, TT))
    before = [numpy_of(w) for w in model.trainable_weights]
    history = model.fit(data, labels, batch_size=3, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    for weight, old in zip(model.trainable_weights, before, strict=True):
        assert not np.array_equal(numpy_of(weight), old), weight.path


def reverse_task(rng, count, vocab=10, steps=6):
    """Sources of 3 to `steps` tokens; targets: the reverse, then EOS.

    Ids: 0 padding, 1 BOS, 2 EOS, 3... tokens. The decoder input is BOS and
    the target shifted right (teacher forcing).
    """
    lengths = rng.integers(3, steps + 1, size=count)
    tokens = rng.integers(3, vocab, size=(count, steps))
    real = np.arange(steps) < lengths[:, None]
    source = np.where(real, tokens, 0)
    labels = np.zeros((count, steps + 1), dtype="int64")
    for row, length in enumerate(lengths):
        labels[row, :length] = source[row, :length][::-1]
        labels[row, length] = 2
    decoder_inputs = np.concatenate(
        [np.ones((count, 1), dtype="int64"), labels[:, :-1]], axis=1
    )
    decoder_inputs[labels == 0] = 0  # Padding stays padding.
    return source, decoder_inputs, labels


def test_learns_to_reverse_sequences():
    # 180 Adam steps of 64 pairs (batches of 128 cost twice as much per
    # step). Seeds 0-2 on TensorFlow and JAX: accuracy >= 0.989; with the
    # attention's memory zeroed, 0.88. A higher rate or no clipping can
    # spike.
    source, decoder_inputs, labels = reverse_task(np.random.default_rng(0), 640)
    model = seq2seq_model(
        10,
        "luong",
        units=32,
        depth=32,
        embedding=16,
        attention=16,
        attention_layer_size=32,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(
        [source, decoder_inputs], labels, batch_size=64, epochs=18, verbose=0
    )

    test_source, test_inputs, test_labels = reverse_task(
        np.random.default_rng(1), 300
    )
    logits = model.predict(
        [test_source, test_inputs], batch_size=300, verbose=0
    )
    real = test_labels > 0
    accuracy = np.mean(np.argmax(logits, -1)[real] == test_labels[real])
    assert accuracy >= 0.95


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_seq2seq_encoder_equals_keras_bidirectional(cell):
    # Seq2Seq runs each encoder layer's two directions itself; the numbers
    # must be those of keras.layers.Bidirectional with the same weights.
    model = Seq2Seq(
        10,
        10,
        embedding_dim=E,
        cell=cell,
        encoder_units=C,
        encoder_layers=2,
        decoder_units=2 * C,
        bridge="last",
    )
    model.build()
    randomize(model)
    source = ids(np.random.default_rng(0), SOURCE_LENGTHS, TS)
    memory, mask, state = model.encode(ops.convert_to_tensor(source))

    x = model.source_embedding(source)
    for i in range(2):
        rnn = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[cell]
        layer = keras.layers.Bidirectional(
            rnn(C, return_sequences=True, return_state=True)
        )
        layer.build(tuple(x.shape))
        directions = model.encoder[2 * i : 2 * i + 2]
        layer.set_weights([numpy_of(w) for d in directions for w in d.weights])
        x, *states = layer(x, mask=ops.convert_to_tensor(source > 0))
    half = len(states) // 2
    want_state = [
        np.concatenate([numpy_of(f), numpy_of(b)], -1)
        for f, b in zip(states[:half], states[half:], strict=True)
    ]
    np.testing.assert_allclose(numpy_of(memory), numpy_of(x), atol=1e-6)
    np.testing.assert_array_equal(numpy_of(mask), source > 0)
    for have, want in zip(state, want_state, strict=True):
        np.testing.assert_allclose(numpy_of(have), want, atol=1e-6)


# --- Arguments --------------------------------------------------------------


@pytest.mark.parametrize("layer_class", [AttentionDecoder, AttentionRNNCell])
@pytest.mark.parametrize(
    "cell,attention,kwargs,match",
    [
        ("gru", "bahdanau", {"query_order": "bahdanou"}, "query_order"),
        (
            "gru",
            "bahdanau",
            {"query_order": "bahdanau", "input_feeding": True},
            "input_feeding",
        ),
        (
            "gru",
            "bahdanau",
            {"attention_layer_size": 0},
            "attention_layer_size",
        ),
        ("gru", "keras_attention", {}, "attention"),
    ],
)
def test_bad_arguments_raise(layer_class, cell, attention, kwargs, match):
    cells = {
        **CELLS,
    }
    attentions = {**ATTENTIONS, "keras_attention": keras.layers.Attention}
    with pytest.raises(ValueError, match=match):
        layer_class(cells[cell](), attentions[attention](), **kwargs)
