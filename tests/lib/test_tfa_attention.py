"""Parity of `keras_seq2seq.tfa` mechanisms with TFA's fixtures."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_seq2seq.tfa as tfa
from shared_data import assert_outputs, case_ids, load_case

MECHANISMS = {
    "BahdanauAttention": tfa.seq2seq.BahdanauAttention,
    "LuongAttention": tfa.seq2seq.LuongAttention,
    "BahdanauMonotonicAttention": tfa.seq2seq.BahdanauMonotonicAttention,
    "LuongMonotonicAttention": tfa.seq2seq.LuongMonotonicAttention,
}


def is_function_case(name):
    return name.startswith(("monotonic_attention_fn", "hardmax_fn"))


def build_mechanism(case, arrays):
    """The TFA-style mechanism the case's `tfa_call` constructs."""
    class_name = case["tfa_call"].split("tfa.seq2seq.")[1].split("(")[0]
    args = {
        k: v for k, v in case["args"].items() if k != "memory_sequence_length"
    }
    return MECHANISMS[class_name](
        memory=arrays["memory"],
        memory_sequence_length=arrays["memory_sequence_length"],
        **args,
    )


def run(mechanism, query, previous):
    alignments, next_state = mechanism([query, previous])
    context = ops.matmul(alignments[:, None, :], mechanism.values)[:, 0]
    np.testing.assert_array_equal(
        ops.convert_to_numpy(alignments), ops.convert_to_numpy(next_state)
    )
    return ops.convert_to_numpy(alignments), ops.convert_to_numpy(context)


@pytest.mark.parametrize(
    "cid", case_ids("attention", lambda n: not is_function_case(n))
)
def test_mechanism_matches_tfa_with_weights_in_tfa_order(cid):
    case, a = load_case(cid)
    mechanism = build_mechanism(case, a)
    # TFA creates the query projection at the first call; so do we.
    run(mechanism, a["query"], a["previous_alignments"])
    order = case["get_weights_order"]["mechanism"]
    assert [tuple(w.shape) for w in mechanism.get_weights()] == [
        a[name].shape for name in order
    ]
    mechanism.set_weights([a[name] for name in order])
    alignments, context = run(mechanism, a["query"], a["previous_alignments"])
    got = {
        "alignments": alignments,
        "context": context,
        "keys": ops.convert_to_numpy(mechanism.keys),
    }
    if "initial_alignments" in a:
        batch, _ = a["previous_alignments"].shape
        initial = mechanism.initial_alignments(batch, "float32")
        got["initial_alignments"] = ops.convert_to_numpy(initial)
        got["alignments_from_initial"] = run(mechanism, a["query"], initial)[0]
    assert_outputs(case, a, got)


@pytest.mark.parametrize(
    "cid",
    case_ids("attention", lambda n: n.startswith("monotonic_attention_fn")),
)
def test_monotonic_attention_function_matches_tfa(cid):
    case, a = load_case(cid)
    got = tfa.seq2seq.monotonic_attention(
        a["p_choose_i"], a["previous_attention"], case["args"]["mode"]
    )
    assert_outputs(case, a, {"attention": ops.convert_to_numpy(got)})


@pytest.mark.parametrize(
    "cid", case_ids("attention", lambda n: n == "hardmax_fn")
)
def test_hardmax_matches_tfa(cid):
    case, a = load_case(cid)
    got = ops.convert_to_numpy(tfa.seq2seq.hardmax(a["logits"]))
    assert_outputs(case, a, {"hardmax": got})


def test_seq2seq_is_the_same_namespace():
    import keras_seq2seq.tfa.seq2seq as seq2seq

    for name in tfa.__all__:
        assert getattr(seq2seq, name) is getattr(tfa, name)


def test_query_before_memory_raises():
    mechanism = tfa.BahdanauAttention(units=3)
    with pytest.raises(ValueError, match="memory is not set up"):
        mechanism([np.ones((2, 4), "float32"), np.zeros((2, 5), "float32")])


def test_set_weights_recomputes_keys_of_the_memory():
    rng = np.random.default_rng(0)
    memory = rng.normal(size=(2, 5, 3)).astype("float32")
    mechanism = tfa.LuongAttention(units=4, memory=memory)
    kernel = rng.normal(size=(3, 4)).astype("float32")
    mechanism.set_weights([kernel])
    np.testing.assert_allclose(
        ops.convert_to_numpy(mechanism.keys),
        memory @ kernel,
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "make, projects_query",
    [
        (lambda memory: tfa.BahdanauAttention(4, memory), True),
        (lambda memory: tfa.LuongAttention(4, memory), False),
        (lambda memory: tfa.BahdanauMonotonicAttention(4, memory), True),
        (lambda memory: tfa.LuongMonotonicAttention(4, memory), False),
    ],
)
def test_memory_and_query_layers_have_tfa_names(make, projects_query):
    # TFA's mechanisms expose the projections as `memory_layer` (memory to
    # keys) and `query_layer` (None where the query is used as it is).
    rng = np.random.default_rng(2)
    memory = rng.normal(size=(2, 5, 3)).astype("float32")
    mechanism = make(memory)
    query = rng.normal(size=(2, 4)).astype("float32")
    mechanism([query, mechanism.initial_alignments(2, "float32")])
    np.testing.assert_allclose(
        ops.convert_to_numpy(mechanism.memory_layer(memory)),
        ops.convert_to_numpy(mechanism.keys),
        rtol=1e-6,
    )
    assert tuple(mechanism.memory_layer.kernel.shape) == (3, 4)
    if projects_query:
        assert tuple(mechanism.query_layer.kernel.shape) == (4, 4)
    else:
        assert mechanism.query_layer is None


BY_KIND = {
    "bahdanau": tfa.BahdanauAttention,
    "luong": tfa.LuongAttention,
    "bahdanau_monotonic": tfa.BahdanauMonotonicAttention,
    "luong_monotonic": tfa.LuongMonotonicAttention,
}


@pytest.mark.parametrize("kind", BY_KIND)
def test_a_given_memory_or_query_layer_projects(kind):
    # TFA's own AttentionWrapper tests build each mechanism with
    # `memory_layer=Dense(depth, kernel_initializer="ones",
    # use_bias=False)` (and a `query_layer=` for Bahdanau's): the same
    # numbers as the default layers with those weights set.
    rng = np.random.default_rng(4)
    memory = rng.normal(size=(2, 5, 3)).astype("float32")
    query = rng.normal(size=(2, 4)).astype("float32")
    lengths = np.array([5, 2])
    cls = BY_KIND[kind]
    bahdanau = kind.startswith("bahdanau")
    given = {"memory_layer": keras.layers.Dense(4, kernel_initializer="ones")}
    if bahdanau:
        given["query_layer"] = keras.layers.Dense(
            4, use_bias=False, kernel_initializer="ones"
        )
    mechanism = cls(4, memory, lengths, **given)
    state = mechanism.initial_alignments(2, "float32")
    alignments, _ = mechanism([query, state])
    assert mechanism.memory_layer is given["memory_layer"]
    # Its weights stand where TFA's are: the memory layer's kernel, then
    # its bias. Without the bias (zeros), they are the default layers'.
    layer = given["memory_layer"]
    weights = mechanism.weights
    ids = [id(w) for w in weights]
    assert ids.index(id(layer.bias)) == ids.index(id(layer.kernel)) + 1
    default = cls(4, memory, lengths)
    default([query, state])
    default.set_weights(
        [ops.convert_to_numpy(w) for w in weights if w is not layer.bias]
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(alignments),
        ops.convert_to_numpy(default([query, state])[0]),
        rtol=1e-6,
    )
    clone = cls.from_config(mechanism.get_config())
    assert clone.get_config() == mechanism.get_config()
    assert isinstance(clone.memory_layer, keras.layers.Dense)
    if not bahdanau:
        with pytest.raises(ValueError, match="query_layer"):
            cls(4, query_layer=keras.layers.Dense(4))


@pytest.mark.parametrize("kind", BY_KIND)
def test_build_by_shapes_then_weights_in_tfa_order(kind):
    # As TFA's own test of a mechanism rebuilt from its config: built for
    # the memory, given the weights a mechanism had before its first
    # query, set up, built for the query, then given all the weights.
    rng = np.random.default_rng(5)
    memory = rng.normal(size=(3, 5, 6)).astype("float32")
    query = rng.normal(size=(3, 4)).astype("float32")
    state = rng.normal(size=(3, 5)).astype("float32")
    cls = BY_KIND[kind]
    mechanism = cls(4, memory)
    before_query = mechanism.get_weights()
    score = mechanism([query, state])
    clone = cls.from_config(mechanism.get_config())
    clone.build(memory.shape)
    clone.set_weights(before_query)
    clone(memory, setup_memory=True)
    clone.build([query.shape, state.shape])
    clone.set_weights(mechanism.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(clone([query, state])[0]),
        ops.convert_to_numpy(score[0]),
        rtol=1e-6,
    )


def test_setup_memory_through_call_masks_padding():
    rng = np.random.default_rng(1)
    memory = rng.normal(size=(2, 5, 3)).astype("float32")
    mechanism = tfa.BahdanauAttention(units=4)
    values = mechanism([memory, np.array([5, 2], "int32")], setup_memory=True)
    values = ops.convert_to_numpy(values)
    np.testing.assert_array_equal(values[1, 2:], 0.0)
    np.testing.assert_array_equal(values[0], memory[0])
    alignments, _ = mechanism(
        [rng.normal(size=(2, 6)).astype("float32"), np.zeros((2, 5), "float32")]
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(alignments)[1, 2:], 0.0)


def test_probability_fn_outside_tfa_choices_raises():
    with pytest.raises(ValueError, match="probability_fn"):
        tfa.BahdanauAttention(units=3, probability_fn="sparsemax")
