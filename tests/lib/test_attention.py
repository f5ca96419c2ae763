"""Attention layers: numbers against `reference.py`, masks, keys, errors."""

import keras
import numpy as np
import pytest
from keras import ops

import reference
from helpers import assert_all_close, check_layer, gradients, to_numpy
from keras_seq2seq import (
    BahdanauAttention,
    BahdanauMonotonicAttention,
    LuongAttention,
    LuongMonotonicAttention,
)

B, TQ, TV, HQ, DV, U = 3, 5, 7, 4, 6, 2
LENGTHS = np.array([TV, 1, 4])  # The longest, the shortest, one between.
MODES = ("parallel", "recursive", "hard")

LAYERS = {
    "bahdanau": lambda: BahdanauAttention(units=U),
    "bahdanau_normalize": lambda: BahdanauAttention(units=U, normalize=True),
    "luong": lambda: LuongAttention(units=HQ),
    "luong_scale": lambda: LuongAttention(units=HQ, scale=True),
    **{
        f"bahdanau_monotonic_{mode}": (
            lambda mode=mode: BahdanauMonotonicAttention(units=U, mode=mode)
        )
        for mode in MODES
    },
    **{
        f"luong_monotonic_{mode}": (
            lambda mode=mode: LuongMonotonicAttention(units=HQ, mode=mode)
        )
        for mode in MODES
    },
}
MONOTONIC = [kind for kind in LAYERS if "monotonic" in kind]


@keras.saving.register_keras_serializable(package="keras_seq2seq_tests")
def softmax_at_temperature_2(scores):
    return ops.softmax(scores / 2.0, axis=-1)


def make_inputs(seed, query_rank=3, lengths=LENGTHS, steps=TQ):
    """`query`, `value` and `value_mask` drawn from `default_rng(seed)`."""
    rng = np.random.default_rng(seed)
    query_shape = (B, steps, HQ) if query_rank == 3 else (B, HQ)
    return {
        "query": rng.normal(size=query_shape).astype("float32"),
        "value": rng.normal(size=(B, TV, DV)).astype("float32"),
        "value_mask": np.arange(TV) < lengths[:, None],
    }


def built_layer(kind, inputs, seed=1):
    """The layer, built, with every weight drawn at random (none at init)."""
    layer = LAYERS[kind]()
    layer.build(inputs["query"].shape, inputs["value"].shape)
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(size=w.shape).astype("float32") for w in layer.weights]
    )
    return layer


def expected_outputs(layer, query, value, value_mask, probabilities=None):
    """`(context, weights)` of `reference.py` with the layer's weights."""
    weights = {
        w.path.split("/", 1)[1]: ops.convert_to_numpy(w).astype("float64")
        for w in layer.weights
    }
    query_3d = query if query.ndim == 3 else query[:, None]
    if isinstance(layer, BahdanauAttention):
        scores = reference.bahdanau_scores(
            query_3d,
            value,
            weights["query_dense/kernel"],
            weights["key_dense/kernel"],
            weights["attention_v"],
            g=weights.get("attention_g"),
            b=weights.get("attention_b"),
        )
    else:
        scores = reference.luong_scores(
            query_3d,
            value,
            weights["key_dense/kernel"],
            g=weights.get("attention_g"),
        )
    mask = value_mask[:, None]  # (B, 1, Tv)
    if probabilities is not None:
        alignments = probabilities(scores, mask)
    elif isinstance(
        layer, BahdanauMonotonicAttention | LuongMonotonicAttention
    ):
        alignments = reference.monotonic_weights(
            scores, mask, layer.mode, weights["score_bias"]
        )
    else:
        alignments = reference.masked_softmax(scores, mask)
    context = reference.context(alignments, value)
    if query.ndim == 2:
        return context[:, 0], alignments[:, 0]
    return context, alignments


@pytest.mark.parametrize("query_rank", [2, 3])
@pytest.mark.parametrize("kind", LAYERS)
def test_layer_matches_reference(kind, query_rank):
    inputs = make_inputs(seed=0, query_rank=query_rank)
    layer = built_layer(kind, inputs)
    context, weights = to_numpy(layer(**inputs))
    want_context, want_weights = expected_outputs(layer, **inputs)
    np.testing.assert_allclose(weights, want_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, want_context, rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape(
        inputs["query"].shape, inputs["value"].shape
    ) == (context.shape, weights.shape)


@pytest.mark.parametrize("query_rank", [2, 3])
def test_output_shape_with_unknown_sizes_matches_a_symbolic_call(query_rank):
    layer = BahdanauAttention(units=U)
    query_shape = (None,) * (query_rank - 1) + (HQ,)
    value_shape, key_shape = (None, None, DV), (None, None, 3)
    outputs = layer(
        keras.Input(batch_shape=query_shape),
        keras.Input(batch_shape=value_shape),
        key=keras.Input(batch_shape=key_shape),
    )
    assert layer.compute_output_shape(
        query_shape, value_shape, key_shape
    ) == tuple(tuple(y.shape) for y in outputs)
    with pytest.raises(ValueError, match="`query` must have rank 2"):
        layer.compute_output_shape((B, 1, 1, HQ), value_shape)


@pytest.mark.parametrize("kind", LAYERS)
def test_layer_passes_check_layer(kind, tmp_path):
    outputs = check_layer(
        LAYERS[kind],
        make_inputs(seed=0),
        tmp_path,
        # Hard alignments are piecewise constant: no gradient reaches a weight.
        train=not kind.endswith("hard"),
    )
    assert [y.shape for y in outputs] == [(B, TQ, DV), (B, TQ, TV)]


@pytest.mark.parametrize("kind", LAYERS)
def test_padding_content_does_not_change_outputs(kind):
    inputs = make_inputs(seed=0)
    layer = built_layer(kind, inputs)
    padded = ~inputs["value_mask"]
    changed = dict(inputs, value=inputs["value"].copy())
    changed["value"][padded] = 100.0 * np.random.default_rng(2).normal(
        size=(padded.sum(), DV)
    )
    want_context, want_weights = to_numpy(layer(**inputs))
    context, weights = to_numpy(layer(**changed))
    np.testing.assert_array_equal(weights, want_weights)
    np.testing.assert_array_equal(context, want_context)
    assert np.all(weights[np.broadcast_to(padded[:, None], weights.shape)] == 0)


@pytest.mark.parametrize(
    "kind, policy",
    [(kind, "float32") for kind in LAYERS]
    + [
        (kind, policy)
        # Every variable of the Bahdanau score; Luong, through the log-space
        # cumulative product of the parallel monotonic alignments.
        for kind in ("bahdanau_normalize", "luong_monotonic_parallel")
        for policy in ("mixed_float16", "mixed_bfloat16")
    ],
)
def test_all_padding_row_gives_zeros_and_finite_gradients(kind, policy):
    keras.config.set_dtype_policy(policy)
    inputs = make_inputs(seed=0, lengths=np.array([TV, 0, 4]))
    layer = LAYERS[kind]()
    context, weights = to_numpy(layer(**inputs))
    assert layer.compute_dtype == keras.config.dtype_policy().compute_dtype
    np.testing.assert_array_equal(weights[1], np.zeros((TQ, TV)))
    np.testing.assert_array_equal(context[1], np.zeros((TQ, DV)))
    assert np.all(np.isfinite(context)) and np.all(np.isfinite(weights))

    value_grad, weight_grads = gradients(layer, inputs, wrt="value")
    for grad in [value_grad, *weight_grads]:
        assert np.all(np.isfinite(grad))
    # d sum(context) / d value is the weight of each step: 0 where padded.
    padded = ~inputs["value_mask"]
    np.testing.assert_array_equal(value_grad[padded], 0.0)
    assert np.any(value_grad[~padded] != 0)


@pytest.mark.parametrize("kind", ["bahdanau", "luong_monotonic_parallel"])
def test_embedding_mask_reaches_attention_in_functional_model(kind, tmp_path):
    rng = np.random.default_rng(0)
    mask = np.arange(TV) < LENGTHS[:, None]
    tokens = rng.integers(1, 20, size=(B, TV)) * mask  # 0 is padding.
    query = rng.normal(size=(B, TQ, HQ)).astype("float32")

    query_input = keras.Input((TQ, HQ), name="query")
    token_input = keras.Input((None,), dtype="int32", name="tokens")
    mask_input = keras.Input((None,), dtype="bool", name="mask")
    embedded = keras.layers.Embedding(20, 8, mask_zero=True)(token_input)
    value = keras.layers.GRU(DV, return_sequences=True)(embedded)
    attention = LAYERS[kind]()
    model = keras.Model(
        [query_input, token_input], attention(query_input, value)
    )
    by_hand = keras.Model(
        [query_input, token_input, mask_input],
        attention(query_input, value, value_mask=mask_input),
    )

    context, weights = to_numpy(model([query, tokens]))
    assert np.all(weights[np.broadcast_to(~mask[:, None], weights.shape)] == 0)
    assert_all_close(
        to_numpy(by_hand([query, tokens, mask])), [context, weights]
    )
    # Row 2 alone, without its padding, gives the same numbers.
    short_context, short_weights = to_numpy(model([query[2:], tokens[2:, :4]]))
    np.testing.assert_allclose(short_context, context[2:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        short_weights, weights[2:, :, :4], rtol=1e-5, atol=1e-6
    )

    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert_all_close(to_numpy(loaded([query, tokens])), [context, weights])


# Recursive mode steps the same way; its stepping is checked below.
@pytest.mark.parametrize(
    "kind", [kind for kind in LAYERS if not kind.endswith("recursive")]
)
def test_decoder_loop_projects_keys_once(kind, monkeypatch):
    inputs = make_inputs(seed=0, steps=30)
    query, value, mask = inputs["query"], inputs["value"], inputs["value_mask"]
    layer = built_layer(kind, dict(inputs, query=query[:, 0]))
    key_projections = []
    project = layer.key_dense.call

    def counting_projection(*args, **kwargs):
        key_projections.append(args)
        return project(*args, **kwargs)

    monkeypatch.setattr(layer.key_dense, "call", counting_projection)
    memory = layer.prepare(value, value_mask=mask)
    previous = layer.initial_weights(memory)
    stepped = []
    for t in range(30):
        context, previous = layer.attend(
            query[:, t], memory, previous_weights=previous
        )
        stepped.append(to_numpy((context, previous)))
    assert len(key_projections) == 1

    previous = None  # The default: `initial_weights`.
    for t, want in enumerate(stepped):
        got = to_numpy(
            layer(
                query[:, t], value, value_mask=mask, previous_weights=previous
            )
        )
        assert_all_close(got, want)
        previous = want[1]


@pytest.mark.parametrize("kind", LAYERS)
def test_attend_outside_call_matches_call_under_mixed_precision(kind):
    keras.config.set_dtype_policy("mixed_float16")
    inputs = make_inputs(seed=0, query_rank=2)
    layer = LAYERS[kind]()
    want = to_numpy(layer(**inputs))
    # No layer `__call__` here, so no autocast of the float32 variables.
    memory = layer.prepare(inputs["value"], value_mask=inputs["value_mask"])
    got = to_numpy(layer.attend(inputs["query"], memory))
    assert [y.dtype for y in got] == [y.dtype for y in want] == ["float16"] * 2
    assert_all_close(got, want)


@pytest.mark.parametrize("kind", MONOTONIC)
def test_monotonic_query_sequence_equals_chained_steps(kind):
    inputs = make_inputs(seed=0)
    layer = built_layer(kind, inputs)
    context, weights = to_numpy(layer(**inputs))

    memory = layer.prepare(inputs["value"], value_mask=inputs["value_mask"])
    previous = layer.initial_weights(memory)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(previous), np.eye(TV)[[0, 0, 0]]
    )
    for t in range(TQ):
        step_context, previous = layer.attend(
            inputs["query"][:, t], memory, previous_weights=previous
        )
        step_context, step_weights = to_numpy((step_context, previous))
        np.testing.assert_allclose(weights[:, t], step_weights, atol=1e-6)
        np.testing.assert_allclose(context[:, t], step_context, atol=1e-6)


@pytest.mark.parametrize(
    "kind", ["bahdanau_monotonic_parallel", "luong_monotonic_recursive"]
)
def test_sigmoid_noise_applies_only_while_training(kind):
    inputs = make_inputs(seed=0, query_rank=2)
    quiet = built_layer(kind, inputs)
    noisy = type(quiet).from_config(
        dict(quiet.get_config(), sigmoid_noise=1.0, sigmoid_noise_seed=3)
    )
    noisy(**inputs)
    noisy.set_weights(quiet.get_weights())
    want = to_numpy(quiet(**inputs))
    assert_all_close(to_numpy(noisy(**inputs, training=False)), want)
    trained_weights = to_numpy(noisy(**inputs, training=True))[1]
    assert not np.allclose(trained_weights, want[1], atol=1e-3)


@pytest.mark.parametrize(
    "query_shape, value_shape, mask_shape, match",
    [
        (
            (B, TQ, 1, HQ),
            (B, TV, DV),
            None,
            r"`query` must have rank 2 .* query.shape=\(3, 5, 1, 4\)",
        ),
        ((B, HQ), (B, TV), None, r"`value` must have rank 3.*\(3, 7\)"),
        (
            (B + 1, HQ),
            (B, TV, DV),
            None,
            r"same batch size.*query.shape=\(4, 4\), value.shape=\(3, 7, 6\)",
        ),
        (
            (B, HQ),
            (B, TV, DV),
            (B, TV + 1),
            r"`value_mask` must have shape.*value_mask.shape=\(3, 8\)",
        ),
        (
            (B, HQ),
            (B, TV, DV),
            (B, TV, 1),
            r"`value_mask` must have shape.*value_mask.shape=\(3, 7, 1\)",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["bahdanau", "luong_monotonic_parallel"])
def test_bad_shapes_raise_naming_the_argument(
    kind, query_shape, value_shape, mask_shape, match
):
    arguments = {"query": np.ones(query_shape), "value": np.ones(value_shape)}
    if mask_shape is not None:
        arguments["value_mask"] = np.ones(mask_shape, dtype=bool)
    with pytest.raises(ValueError, match=match):
        LAYERS[kind]()(**arguments)


@pytest.mark.parametrize("kind", ["bahdanau", "luong", "luong_monotonic_hard"])
def test_query_depth_other_than_built_raises(kind):
    layer = LAYERS[kind]()
    layer(np.ones((B, HQ)), np.ones((B, TV, DV)))
    with pytest.raises(ValueError, match=r"`query` has depth 5 .* depth 4"):
        layer(np.ones((B, HQ + 1)), np.ones((B, TV, DV)))


def test_luong_query_depth_other_than_units_raises():
    with pytest.raises(ValueError, match=r"`query` depth must equal `units`"):
        LuongAttention(units=HQ + 1)(np.ones((B, HQ)), np.ones((B, TV, DV)))


@pytest.mark.parametrize("units", [0, -2, 2.0, True])
@pytest.mark.parametrize(
    "cls",
    [
        BahdanauAttention,
        LuongAttention,
        BahdanauMonotonicAttention,
        LuongMonotonicAttention,
    ],
)
def test_units_must_be_a_positive_int(cls, units):
    with pytest.raises(ValueError, match=rf"`units` .*units={units!r}"):
        cls(units=units)


@pytest.mark.parametrize("cls", [BahdanauAttention, LuongAttention])
def test_unknown_probability_fn_raises(cls):
    with pytest.raises(ValueError, match="probability_fn='sparsemax'"):
        cls(units=HQ, probability_fn="sparsemax")


@pytest.mark.parametrize(
    "cls", [BahdanauMonotonicAttention, LuongMonotonicAttention]
)
def test_unknown_monotonic_mode_raises(cls):
    with pytest.raises(ValueError, match=r"`mode` must be one of .*'soft'"):
        cls(units=HQ, mode="soft")


@pytest.mark.parametrize("cls", [BahdanauAttention, LuongAttention])
def test_hardmax_picks_the_best_real_step(cls):
    inputs = make_inputs(seed=0)
    # Padded steps get large values, so that they would often score best.
    inputs["value"][~inputs["value_mask"]] *= 10.0
    units = U if cls is BahdanauAttention else HQ
    layer = cls(units=units, probability_fn="hardmax")
    context, weights = to_numpy(layer(**inputs))
    want_context, want_weights = expected_outputs(
        layer, **inputs, probabilities=reference.hardmax
    )
    everything = np.ones((B, TV), dtype=bool)
    _, unmasked = expected_outputs(
        layer, inputs["query"], inputs["value"], everything, reference.hardmax
    )
    assert not np.array_equal(unmasked, want_weights)  # The mask matters.
    np.testing.assert_array_equal(weights, want_weights)
    np.testing.assert_allclose(context, want_context, rtol=1e-5, atol=1e-6)


def test_callable_probability_fn_is_used_and_round_trips(tmp_path):
    inputs = make_inputs(seed=0)

    def factory():
        return LuongAttention(units=HQ, probability_fn=softmax_at_temperature_2)

    check_layer(factory, inputs, tmp_path)  # Config and `.keras` round trips.
    layer = factory()
    context, weights = to_numpy(layer(**inputs))
    want_context, want_weights = expected_outputs(
        layer,
        **inputs,
        probabilities=lambda s, m: reference.masked_softmax(s / 2.0, m),
    )
    np.testing.assert_allclose(weights, want_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, want_context, rtol=1e-5, atol=1e-6)
    clone = LuongAttention.from_config(layer.get_config())
    assert clone.probability_fn is softmax_at_temperature_2


def test_a_value_mask_given_as_a_list_masks_as_an_array():
    # The shape check read `.shape` off the raw argument: a list failed.
    layer = BahdanauAttention(4)
    rng = np.random.default_rng(0)
    query = rng.standard_normal((2, 3)).astype("float32")
    value = rng.standard_normal((2, 5, 3)).astype("float32")
    rows = [[True] * 5, [True] * 3 + [False] * 2]
    from_list = layer(query, value, value_mask=rows)
    from_array = layer(query, value, value_mask=np.array(rows))
    for got, want in zip(from_list, from_array, strict=True):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(got), ops.convert_to_numpy(want)
        )
    assert np.all(ops.convert_to_numpy(from_list[1])[1, 3:] == 0)
