"""Programs users write, sixth audit round: the native API as the README's
"Bahdanau attention in a Keras functional model" readers use it, and TFA
programs ported with `import keras_seq2seq.tfa as tfa`.

The expected numbers are identities that must hold (a row decoded alone or
in a batch, `top_k=1` sampling and greedy search, a saved and a loaded
model), NumPy computations, or finite differences.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from helpers import gradients, small_seq2seq
from keras_seq2seq import (
    AttentionDecoder,
    BahdanauAttention,
    LuongAttention,
    LuongMonotonicAttention,
    SequenceLoss,
)
from keras_seq2seq.decoding import attention_step, beam_search, sample
from keras_seq2seq.tfa.alignment_history import AlignmentHistory

PAD, BOS, EOS = 0, 1, 2
SOURCE_VOCAB, V = 11, 13
# Compiled and eager searches agree (test_generate.py); the sampling tests
# run the faster one: on TensorFlow XLA takes seconds per option set, and
# on JAX the eager loop is compiled too.
COMPILE = keras.backend.backend() == "jax"


def numpy(x):
    return ops.convert_to_numpy(x)


def numpy_dict(result):
    return {name: numpy(x) for name, x in result.items()}


@pytest.fixture(scope="module")
def model():
    """One model for the `generate` tests: its compiled searches are kept
    on it, so tests with the same options and shapes share them."""
    return small_seq2seq()


def odd_sources():
    """B=5 sources of width 4: lengths 4, 2, 4, 0 (all padding) and 1."""
    rng = np.random.default_rng(0)
    ids = rng.integers(3, SOURCE_VOCAB, size=(5, 4)).astype("int32")
    ids[1, 2:] = PAD
    ids[3, :] = PAD
    ids[4, 1:] = PAD
    return ids


# --- Seq2Seq.generate on odd batches: a batch of 5 with an all-padding
# row and a one-token row; each row decoded in the batch is the row decoded
# alone (nothing leaks between rows), and nothing is NaN.


@pytest.mark.parametrize(
    "options",
    [dict(method="greedy"), dict(method="beam", beam_size=3, n_best=2)],
    ids=["greedy", "beam"],
)
def test_each_row_of_an_odd_batch_decodes_as_alone(options, model):
    ids = odd_sources()
    batch = numpy_dict(model.generate(ids, max_length=6, **options))
    for name in ("scores", "weights"):
        assert np.all(np.isfinite(batch[name])), name
    # The all-padding row attends to nothing: zero weights, not NaN.
    assert not batch["weights"][3].any()
    for row in range(len(ids)):
        alone = numpy_dict(
            model.generate(ids[row : row + 1], max_length=6, **options)
        )
        np.testing.assert_array_equal(alone["ids"][0], batch["ids"][row])
        np.testing.assert_array_equal(
            alone["lengths"][0], batch["lengths"][row]
        )
        np.testing.assert_allclose(
            alone["scores"][0], batch["scores"][row], atol=1e-5
        )


def test_a_one_token_source_decodes_with_weight_one_on_it(model):
    result = numpy_dict(
        model.generate(np.array([[5]]), method="beam", beam_size=2)
    )
    # max_length 2.0 * Ts + 2 = 4 steps; one source step.
    assert result["weights"].shape == (1, 1, 4, 1)
    alive = np.arange(4) < result["lengths"][0, 0]
    np.testing.assert_allclose(result["weights"][0, 0, :, 0], alive * 1.0)


# --- Padding columns added to the source batch change nothing, for beam
# search and for sampling (same seed) too.


@pytest.mark.parametrize(
    "options",
    [
        dict(method="beam", beam_size=3, n_best=2, coverage_penalty=0.3),
        dict(method="sample", top_k=4, top_p=0.8, temperature=1.5, seed=5),
    ],
    ids=["beam", "sample"],
)
def test_more_padding_columns_change_no_search(options, model):
    ids = odd_sources()
    wide = np.concatenate([ids, np.zeros((len(ids), 3), "int32")], axis=1)
    options = dict(options, max_length=6, jit_compile=COMPILE)
    narrow = numpy_dict(model.generate(ids, **options))
    padded = numpy_dict(model.generate(wide, **options))
    for name in ("ids", "lengths"):
        np.testing.assert_array_equal(padded[name], narrow[name])
    np.testing.assert_allclose(padded["scores"], narrow["scores"], atol=1e-5)
    # The extra source steps get weight 0 exactly.
    assert not padded["weights"][..., 4:].any()
    np.testing.assert_allclose(
        padded["weights"][..., :4], narrow["weights"], atol=1e-6
    )


# --- Sampling's filters at their edges: top_k=1 (at any temperature) and
# a nucleus smaller than any token are greedy search; top_p=1 and
# top_k >= V filter nothing.


@pytest.mark.parametrize(
    "filters",
    [dict(top_k=1), dict(top_k=1, temperature=3.0), dict(top_p=1e-6)],
    ids=["top_k_1", "top_k_1_hot", "tiny_nucleus"],
)
def test_sampling_filtered_to_one_token_is_greedy_search(filters, model):
    ids = odd_sources()
    greedy = numpy_dict(model.generate(ids, max_length=6, jit_compile=COMPILE))
    sampled = numpy_dict(
        model.generate(
            ids,
            max_length=6,
            method="sample",
            seed=3,
            jit_compile=COMPILE,
            **filters,
        )
    )
    np.testing.assert_array_equal(sampled["ids"], greedy["ids"])
    np.testing.assert_array_equal(sampled["lengths"], greedy["lengths"])
    # Scores are the model's log-probs, before temperature.
    np.testing.assert_allclose(sampled["scores"], greedy["scores"], atol=1e-5)


@pytest.mark.parametrize(
    "filters", [dict(top_p=1.0), dict(top_k=V)], ids=["top_p_1", "top_k_V"]
)
def test_sampling_filters_that_keep_everything_change_nothing(filters, model):
    ids = odd_sources()
    options = dict(max_length=6, method="sample", seed=3, jit_compile=COMPILE)
    plain = numpy_dict(model.generate(ids, **options))
    kept = numpy_dict(model.generate(ids, **options, **filters))
    np.testing.assert_array_equal(kept["ids"], plain["ids"])
    np.testing.assert_allclose(kept["scores"], plain["scores"], atol=1e-6)


def test_sampling_never_draws_a_token_of_probability_zero():
    # p = [0, 0, 0.5, 0.3, 0.2] after every token; eos = 0 is impossible.
    probs = np.array([0.0, 0.0, 0.5, 0.3, 0.2], "float32")
    with np.errstate(divide="ignore"):
        table = np.tile(np.log(probs), (5, 1))
    expected_log_p = np.log(probs[2:])

    def step_fn(token_ids, state):
        log_probs = ops.take(ops.convert_to_tensor(table), token_ids, axis=0)
        return log_probs, state, ops.ones((8, 1))

    for options in [
        dict(temperature=1e6),
        dict(temperature=1e-6),
        dict(top_p=0.8, top_k=2),
        dict(top_k=5),
    ]:
        result = numpy_dict(
            sample(
                step_fn,
                ops.zeros((8, 1)),
                bos_id=2,
                eos_id=0,
                max_length=6,
                seed=1,
                **options,
            )
        )
        assert np.isin(result["ids"], [2, 3, 4]).all(), options
        if options.get("top_k") == 2:
            assert np.isin(result["ids"], [2, 3]).all(), options
        # Each score is the sum of the drawn tokens' log-probs.
        expected = expected_log_p[result["ids"] - 2].sum(axis=1)
        np.testing.assert_allclose(result["scores"], expected, rtol=1e-5)


# --- Invalid `generate` inputs: one clear error, naming what was given
# (a rank-1 source raised IndexError "tuple index out of range", an empty
# source the encoder's error, float ids were truncated, and a negative
# float max_length was reported as the int it became).


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (np.array([3, 4, 5]), r"shape=\(3,\), dtype=int"),
        (np.zeros((2, 0), "int32"), r"shape=\(2, 0\)"),
        (np.zeros((0, 3), "int32"), r"shape=\(0, 3\)"),
        (np.array([[3.5, 4.0]]), "dtype=float"),
        (np.ones((1, 2), bool), "dtype=bool"),
    ],
    ids=["rank_1", "no_step", "no_row", "float", "bool"],
)
def test_generate_refuses_what_is_not_a_batch_of_ids(source, match, model):
    with pytest.raises(ValueError, match="`source_ids` must be integer") as e:
        model.generate(source)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=match):
        model.generate(source)


def test_a_numpy_float_max_length_is_a_ratio_as_a_float_is(model):
    # np.float32 is no Python float: it was refused as "must be an int".
    ids = odd_sources()
    expected = numpy_dict(model.generate(ids, max_length=1.5))
    got = numpy_dict(model.generate(ids, max_length=np.float32(1.5)))
    assert got["ids"].shape == expected["ids"].shape
    np.testing.assert_array_equal(got["ids"], expected["ids"])


@pytest.mark.parametrize("ratio", [-1.0, 0.0, float("nan"), float("inf")])
def test_a_float_max_length_must_be_a_positive_ratio(ratio, model):
    with pytest.raises(ValueError, match=f"Received: max_length={ratio!r}"):
        model.generate(odd_sources(), max_length=ratio)


def test_generate_takes_ids_of_any_integer_dtype(model):
    ids = odd_sources()
    expected = numpy(model.generate(ids, max_length=6)["ids"])
    for dtype in ("int64", "uint8"):
        got = model.generate(ids.astype(dtype), max_length=6)["ids"]
        np.testing.assert_array_equal(numpy(got), expected)


# --- The README's functional model, trained with `fit`, saved to `.keras`
# and loaded: the loaded layers drive the README's search and find what
# the trained layers find, for the attentions the README lists.

E, H, U, TV = 6, 8, 5, 17


def readme_model(attention):
    """The README's model at small sizes; its layers, by name."""
    source = keras.Input((None,), dtype="int32", name="source")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    x = keras.layers.Embedding(TV, E, mask_zero=True)(source)
    memory, state = keras.layers.GRU(
        H, return_sequences=True, return_state=True, name="encoder"
    )(x)
    target_embedding = keras.layers.Embedding(
        TV, E, mask_zero=True, name="target_embedding"
    )
    decoder = AttentionDecoder(
        keras.layers.GRUCell(H),
        attention,
        query_order="bahdanau",
        name="decoder",
    )
    outputs = decoder(target_embedding(target_in), memory, initial_state=state)
    output_layer = keras.layers.Dense(TV, name="output_layer")
    return keras.Model([source, target_in], output_layer(outputs))


def pairs(n=8, source_steps=6, target_steps=5):
    rng = np.random.default_rng(1)
    source = rng.integers(3, TV, (n, source_steps)).astype("int32")
    lengths = rng.integers(1, source_steps + 1, n)
    source[np.arange(source_steps)[None] >= lengths[:, None]] = PAD
    target = rng.integers(3, TV, (n, target_steps)).astype("int32")
    target[:, -1] = EOS
    target_in = np.concatenate([np.full((n, 1), BOS), target[:, :-1]], 1)
    return source, target_in.astype("int32"), target


def readme_beam_search(model, source_ids):
    """The README's translation snippet, over `model`'s layers."""
    encoder = keras.Model(
        model.get_layer("source").output, model.get_layer("encoder").output
    )
    decoder = model.get_layer("decoder")
    values, h = encoder(source_ids)
    cell = decoder.step
    prepared = cell.prepare(values, value_mask=ops.not_equal(source_ids, 0))
    step = attention_step(
        cell,
        model.get_layer("output_layer"),
        model.get_layer("target_embedding"),
    )
    return beam_search(
        step,
        cell.get_initial_state(prepared, h),
        bos_id=BOS,
        eos_id=EOS,
        max_length=7,
        beam_size=3,
        n_best=2,
        constants=prepared,
    )


@pytest.mark.parametrize(
    ("attention", "policy"),
    [
        (lambda: BahdanauAttention(U), "float32"),
        (lambda: LuongAttention(scale=True), "mixed_bfloat16"),
        (
            lambda: LuongMonotonicAttention(scale=True, score_bias_init=-1.0),
            "float32",
        ),
    ],
    ids=["bahdanau", "luong_scaled_bfloat16", "luong_monotonic"],
)
def test_readme_model_fit_saved_and_loaded_decodes_the_same(
    attention, policy, tmp_path
):
    keras.config.set_dtype_policy(policy)  # conftest resets it
    keras.utils.set_random_seed(0)
    model = readme_model(attention())
    assert model.get_layer("decoder").dtype_policy.name == policy
    source, target_in, target = pairs()
    model.compile("adam", SequenceLoss())
    history = model.fit([source, target_in], target, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    path = tmp_path / "readme.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_layer("decoder").dtype_policy.name == policy
    np.testing.assert_allclose(
        numpy(ops.cast(loaded([source, target_in]), "float32")),
        numpy(ops.cast(model([source, target_in]), "float32")),
        atol=1e-5,
    )
    trained = numpy_dict(readme_beam_search(model, source[:5]))
    again = numpy_dict(readme_beam_search(loaded, source[:5]))
    np.testing.assert_array_equal(again["ids"], trained["ids"])
    np.testing.assert_allclose(again["scores"], trained["scores"], atol=1e-5)
    np.testing.assert_allclose(again["weights"], trained["weights"], atol=1e-5)
    # Whatever the policy, the searches give float32 weights that sum to 1
    # (softmax; monotonic attention: at most 1) over the real source steps
    # at each live step, and 0 elsewhere.
    assert again["weights"].dtype == np.float32
    alive = np.arange(7)[None, None] < again["lengths"][..., None]
    sums = again["weights"].sum(-1)
    attention = loaded.get_layer("decoder").step.attention
    if not isinstance(attention, LuongMonotonicAttention):
        np.testing.assert_allclose(sums[alive], 1.0, atol=1e-2)
    assert np.all(sums[alive] > 0) and np.all(sums[alive] <= 1 + 1e-2)
    assert not sums[~alive].any()
    padded = source[:5] == PAD
    assert not (again["weights"] * padded[:, None, None, :]).any()


# --- Gradients flow into the memory through the keys and the values, and
# none reaches a padded step: checked against central differences.


@pytest.mark.parametrize(
    ("make", "query_depth"),
    [
        (lambda: BahdanauAttention(2, normalize=True), 4),
        (lambda: LuongAttention(scale=True), 6),
    ],
    ids=["bahdanau", "luong"],
)
def test_memory_gradient_matches_finite_differences(make, query_depth):
    rng = np.random.default_rng(2)
    query = rng.normal(size=(3, query_depth)).astype("float32")
    value = rng.normal(size=(3, 7, 6)).astype("float32")
    mask = np.arange(7)[None] < np.array([7, 3, 1])[:, None]
    layer = make()
    inputs = {"query": query, "value": value, "value_mask": mask}
    value_gradient, weight_gradients = gradients(layer, inputs, "value")
    assert not value_gradient[~mask].any()
    assert all(np.abs(g).max() > 0 for g in weight_gradients)

    def total(v):
        context, _ = layer(query, v.astype("float32"), value_mask=mask)
        return float(np.sum(numpy(context), dtype="float64"))

    eps = 1e-2
    for b, t, d in [(0, 6, 0), (1, 2, 3), (2, 0, 5), (1, 0, 1)]:
        plus, minus = value.copy(), value.copy()
        plus[b, t, d] += eps
        minus[b, t, d] -= eps
        numeric = (total(plus) - total(minus)) / (2 * eps)
        np.testing.assert_allclose(
            value_gradient[b, t, d], numeric, rtol=2e-2, atol=2e-3
        )


# --- tfa.seq2seq.tile_batch on a whole AttentionWrapperState that keeps an
# alignment history: the history is time-major (steps, B, Ts), so its
# batch axis is axis 1. It was repeated along the steps (TensorFlow,
# PyTorch) or raised (JAX), and came back a plain tensor.

B, TS, C, K = 2, 5, 6, 3


def wrapper_state_after_two_steps():
    rng = np.random.default_rng(4)
    memory = rng.normal(size=(B, TS, 4)).astype("float32")
    mechanism = tfa.seq2seq.BahdanauAttention(
        4, memory=memory, memory_sequence_length=[5, 3]
    )
    cell = tfa.seq2seq.AttentionWrapper(
        keras.layers.GRUCell(C),
        mechanism,
        attention_layer_size=7,
        alignment_history=True,
    )
    state = cell.get_initial_state(batch_size=B, dtype="float32")
    inputs = rng.normal(size=(B, 3)).astype("float32")
    for _ in range(2):
        _, state = cell(inputs, state)
    return state


def test_tile_batch_tiles_the_batch_axis_of_an_alignment_history():
    state = wrapper_state_after_two_steps()
    tiled = tfa.seq2seq.tile_batch(state, K)
    assert isinstance(tiled, tfa.seq2seq.AttentionWrapperState)
    history = tiled.alignment_history
    assert isinstance(history, AlignmentHistory)
    stacked = numpy(state.alignment_history.stack())  # (2, B, Ts)
    np.testing.assert_array_equal(
        numpy(history.stack()), np.repeat(stacked, K, axis=1)
    )
    assert int(history.size()) == 2
    np.testing.assert_array_equal(
        numpy(tiled.cell_state), np.repeat(numpy(state.cell_state), K, 0)
    )
    np.testing.assert_array_equal(
        numpy(tiled.alignments), np.repeat(numpy(state.alignments), K, 0)
    )


def test_tile_batch_of_a_fresh_state_keeps_an_empty_history():
    memory = np.ones((B, TS, 4), "float32")
    cell = tfa.seq2seq.AttentionWrapper(
        keras.layers.GRUCell(C),
        tfa.seq2seq.LuongAttention(C, memory=tfa.seq2seq.tile_batch(memory, K)),
        alignment_history=True,
    )
    state = cell.get_initial_state(batch_size=B * K, dtype="float32")
    tiled_twice = tfa.seq2seq.tile_batch(state, 1)
    assert tuple(tiled_twice.alignment_history.shape) == (0, B * K, TS)
    # The tiled state steps on: one more step of alignments, per row.
    _, state = cell(np.ones((B * K, 3), "float32"), tiled_twice)
    history = numpy(state.alignment_history.stack())
    assert history.shape == (1, B * K, TS)
    np.testing.assert_allclose(history.sum(-1), 1.0, rtol=1e-5)


def test_tile_batch_refuses_a_bad_multiplier_for_a_history():
    with pytest.raises(ValueError, match="`multiplier` must be an int >= 1"):
        tfa.seq2seq.tile_batch(wrapper_state_after_two_steps(), 0)


# --- CustomSampler had no config: `get_config()` was `{}`, and a
# serialized CustomSampler could not be found to load.


@keras.saving.register_keras_serializable(package="test_user_programs_6")
def first_input(inputs):
    return ops.zeros((ops.shape(inputs)[0],), "bool"), inputs[:, 0]


@keras.saving.register_keras_serializable(package="test_user_programs_6")
def argmax_id(time, outputs, state):
    return ops.cast(ops.argmax(outputs, -1), "int32")


@keras.saving.register_keras_serializable(package="test_user_programs_6")
def outputs_as_inputs(time, outputs, state, sample_ids):
    finished = ops.full((ops.shape(outputs)[0],), time >= 2)
    return finished, outputs[:, :3], state


def test_a_custom_sampler_round_trips_and_decodes_the_same():
    sampler = tfa.CustomSampler(
        first_input, argmax_id, outputs_as_inputs, sample_ids_shape=()
    )
    config = keras.saving.serialize_keras_object(sampler)
    rebuilt = keras.saving.deserialize_keras_object(config)
    assert type(rebuilt) is tfa.CustomSampler
    assert rebuilt.get_config() == sampler.get_config()
    assert rebuilt.sample_fn is argmax_id
    assert rebuilt.sample_ids_dtype == "int32"

    rng = np.random.default_rng(5)
    inputs = rng.normal(size=(B, 4, 3)).astype("float32")
    state = rng.normal(size=(B, C)).astype("float32")
    cell, output_layer = keras.layers.GRUCell(C), keras.layers.Dense(V)
    results = []
    for each in (sampler, rebuilt):
        decoder = tfa.BasicDecoder(cell, each, output_layer=output_layer)
        outputs, _, lengths = decoder(inputs, initial_state=state)
        results.append((numpy(outputs.rnn_output), numpy(lengths)))
    np.testing.assert_array_equal(results[1][0], results[0][0])
    # finished once time >= 2: three steps per row.
    np.testing.assert_array_equal(results[0][1], [3, 3])
    assert results[0][0].shape == (B, 3, V)


# --- The embedding row of the padding id is read at every padded step (by
# `Embedding(mask_zero=True)` too): whatever it holds, the README model's
# outputs at real target steps and its beam search do not change.


def test_the_padding_embedding_row_changes_no_real_output_or_search():
    keras.utils.set_random_seed(0)
    model = readme_model(BahdanauAttention(U))
    source, target_in, _ = pairs()
    target_in[:3, 3:] = PAD  # padded targets too
    real = target_in != PAD
    # Never emit the padding id: fed back to the search's step function it
    # would be read as a real token (the functional model masks it).
    output_layer = model.get_layer("output_layer")
    kernel, bias = output_layer.get_weights()
    output_layer.set_weights([kernel, bias - 50.0 * (np.arange(TV) == PAD)])
    logits = numpy(model([source, target_in]))
    searched = numpy_dict(readme_beam_search(model, source[:5]))
    assert (searched["ids"] != PAD).all()
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding):
            table = numpy(layer.embeddings).copy()
            table[PAD] = rng.normal(scale=10.0, size=E)
            layer.embeddings.assign(table)
    changed = numpy(model([source, target_in]))
    np.testing.assert_allclose(changed[real], logits[real], atol=1e-5)
    again = numpy_dict(readme_beam_search(model, source[:5]))
    np.testing.assert_array_equal(again["ids"], searched["ids"])
    np.testing.assert_allclose(again["scores"], searched["scores"], atol=1e-5)


# --- SequenceLoss as compiled users call it: pad id, per-sentence sample
# weights and label smoothing together, against NumPy. TFA's `sum_over_*`
# divide by the number of weighted tokens, `average_*` by the weights' sum.


@pytest.mark.parametrize(
    "flags",
    [
        {},
        dict(
            average_across_timesteps=True,
            average_across_batch=True,
            sum_over_timesteps=False,
            sum_over_batch=False,
        ),
        dict(sum_over_batch=False),
    ],
    ids=["sum_over_both", "average_both", "sum_over_timesteps"],
)
def test_sequence_loss_with_pad_id_weights_and_smoothing_matches_numpy(flags):
    rng = np.random.default_rng(8)
    logits = rng.normal(size=(3, 4, 5)).astype("float32")
    y_true = rng.integers(1, 5, size=(3, 4))
    y_true[0, 2:] = PAD
    y_true[2, 1:] = PAD
    row_weight = np.array([0.5, 2.0, 1.0], "float32")
    loss = SequenceLoss(pad_id=PAD, label_smoothing=0.2, **flags)
    got = numpy(loss(y_true, logits, sample_weight=row_weight))

    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    target_ce = -np.take_along_axis(log_p, y_true[..., None], -1)[..., 0]
    ce = 0.8 * target_ce + 0.2 * -log_p.mean(-1)
    weights = row_weight[:, None] * (y_true != PAD)
    if flags.get("average_across_batch"):
        expected = (ce * weights).sum() / weights.sum()
    elif flags.get("sum_over_batch") is False:
        expected = (ce * weights).sum(1) / (weights != 0).sum(1)
    else:
        expected = (ce * weights).sum() / (weights != 0).sum()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


# --- BeamSearchDecoder's lengths, as TFA's `dynamic_decode` returns them:
# int32 `(B, K)`, equal to the final state's lengths, and counting each
# beam's tokens up to and including its first end token (TFA 0.23 casts
# the state's int64 lengths to int32 there; ours are int32 throughout).


def test_beam_search_decoder_lengths_count_tokens_up_to_the_end_token():
    rng = np.random.default_rng(9)
    memory = rng.normal(size=(B, TS, 4)).astype("float32")
    mechanism = tfa.seq2seq.LuongAttention(
        C,
        memory=tfa.seq2seq.tile_batch(memory, K),
        memory_sequence_length=tfa.seq2seq.tile_batch(np.array([5, 3]), K),
    )
    cell = tfa.seq2seq.AttentionWrapper(keras.layers.GRUCell(C), mechanism)
    output_layer = keras.layers.Dense(
        V, bias_initializer=keras.initializers.Constant(np.eye(V)[EOS])
    )
    decoder = tfa.seq2seq.BeamSearchDecoder(
        cell, K, output_layer=output_layer, maximum_iterations=6
    )
    outputs, state, lengths = decoder(
        rng.normal(size=(V, 3)).astype("float32"),
        start_tokens=np.full((B,), BOS, "int32"),
        end_token=EOS,
        initial_state=cell.get_initial_state(batch_size=B * K, dtype="float32"),
    )
    assert keras.backend.standardize_dtype(lengths.dtype) == "int32"
    assert tuple(lengths.shape) == (B, K)
    np.testing.assert_array_equal(numpy(lengths), numpy(state.lengths))
    ids = numpy(outputs.predicted_ids)  # (B, T, K)
    is_end = ids == EOS
    first_end = np.where(is_end.any(1), is_end.argmax(1) + 1, ids.shape[1])
    np.testing.assert_array_equal(numpy(lengths), first_end)
    assert (first_end < ids.shape[1]).any()  # some beam ended early
