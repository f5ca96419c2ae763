"""Greedy search, sampling and beam search over scripted and attention steps.

A scripted step reads its log-probs from a table indexed by the previous
token, so every expected id, score and ranking below is computed by hand from
the script's probabilities. Scripted steps all have `B` rows, `TS` source
positions and run `T` steps: on JAX, whose eager ops compile once per shape,
the tests then share those compilations.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_seq2seq.attention import BahdanauAttention
from keras_seq2seq.decoder.attention_rnn_cell import AttentionRNNCell
from keras_seq2seq.decoding.beam_search import beam_search
from keras_seq2seq.decoding.compile import compiled
from keras_seq2seq.decoding.greedy import greedy_search
from keras_seq2seq.decoding.sampling import sample
from keras_seq2seq.decoding.step import attention_step, stable_top_k

VOCAB = ["<eos>", "<bos>", *"abcdehinorst"]
EOS, BOS = 0, 1
V = len(VOCAB)
B, T, TS = 4, 6, 2

# Greedy spells "cat" (4 tokens with eos) and "to".
CAT = {
    "<bos>": {"c": 0.5},
    "c": {"a": 0.6},
    "a": {"t": 0.7},
    "t": {"<eos>": 0.8},
}
TO = {"<bos>": {"t": 0.6}, "t": {"o": 0.7}, "o": {"<eos>": 0.9}}
# Greedy takes "h" and spells "he" (p = .55 * .4 * .5 = .11); "so" is more
# probable (p = .4 * .9 * .9 = .324).
HE_SO = {
    "<bos>": {"h": 0.55, "s": 0.4},
    "h": {"e": 0.4, "i": 0.3},
    "e": {"<eos>": 0.5},
    "s": {"o": 0.9},
    "o": {"<eos>": 0.9},
}
# "it" (p = .5 * .6 * .9 = .27, 3 tokens with eos) is a little more probable
# than "bond" (p = .4 * .9**4 = .26244, 5 tokens).
IT_BOND = {
    "<bos>": {"i": 0.5, "b": 0.4},
    "i": {"t": 0.6},
    "t": {"<eos>": 0.9},
    "b": {"o": 0.9},
    "o": {"n": 0.9},
    "n": {"d": 0.9},
    "d": {"<eos>": 0.9},
}
P_IT, P_BOND = 0.5 * 0.6 * 0.9, 0.4 * 0.9**4
# "it" attends only source position 0 after "<bos>"; the rest is uniform.
IT_ATTENTION = {"i": [1.0, 0.0], "t": [1.0, 0.0]}


def script_table(script):
    """Probabilities `(V, V)`, row = previous token, from a script.

    A script maps a previous token to `{next token: probability}`; the
    tokens it does not name share the rest of the row equally, and a
    previous token it does not name gives a uniform row.
    """
    table = np.full((V, V), 1.0 / V)
    for previous, nexts in script.items():
        row = np.full(V, (1.0 - sum(nexts.values())) / (V - len(nexts)))
        for token, probability in nexts.items():
            row[VOCAB.index(token)] = probability
        table[VOCAB.index(previous)] = row
    return table


class TableStep:
    """A step function over probability tables, one table per batch row.

    Row `b` reads `probs[b, previous token]`; the attention weights over the
    `TS` source positions are `weights[previous token]`.
    """

    def __init__(self, probs, weights):
        self.probs = probs  # (B, V, V)
        self.log_probs = ops.convert_to_tensor(
            np.log(probs).reshape(-1, V).astype("float32")
        )
        self.weights = ops.convert_to_tensor(weights.astype("float32"))

    def initial_state(self):
        return {"row": np.arange(len(self.probs), dtype="int32")}

    def __call__(self, token_ids, state):
        flat = state["row"] * V + token_ids
        log_probs = ops.take(self.log_probs, flat, axis=0)
        return log_probs, state, ops.take(self.weights, token_ids, axis=0)


def scripted(*scripts, attention=None):
    """A `TableStep` whose `B` rows take the scripts in turn."""
    weights = np.full((V, TS), 1.0 / TS)
    for token, row in (attention or {}).items():
        weights[VOCAB.index(token)] = row
    tables = [script_table(scripts[b % len(scripts)]) for b in range(B)]
    return TableStep(np.stack(tables), weights)


def random_step(seed):
    """A `TableStep` with random tables; eos is likely enough to end rows."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(V, 0.5), size=(B, V))
    return TableStep(probs, rng.dirichlet(np.ones(TS), size=V))


def word(ids):
    """The letters `ids` spell before the first eos."""
    letters = []
    for i in np.asarray(ids).tolist():
        if i == EOS:
            break
        letters.append(VOCAB[i])
    return "".join(letters)


def path_log_prob(step, row, ids):
    """Sum of the table's log-probs along `ids`, eos included."""
    previous, total = BOS, 0.0
    for token in np.asarray(ids).tolist():
        total += np.log(step.probs[row, previous, token])
        if token == EOS:
            break
        previous = token
    return total


def to_numpy(result):
    return {name: ops.convert_to_numpy(x) for name, x in result.items()}


def run_greedy(step, max_length=T, **kwargs):
    return to_numpy(
        greedy_search(
            step, step.initial_state(), BOS, EOS, max_length, **kwargs
        )
    )


def run_beam(step, beam_size, max_length=T, **kwargs):
    return to_numpy(
        beam_search(
            step,
            step.initial_state(),
            BOS,
            EOS,
            max_length,
            beam_size,
            **kwargs,
        )
    )


def run_sample(step, max_length=T, **kwargs):
    return to_numpy(
        sample(step, step.initial_state(), BOS, EOS, max_length, **kwargs)
    )


def test_greedy_follows_the_argmax_path_and_stops_at_eos():
    attention = {
        "<bos>": [1.0, 0.0],
        "c": [0.75, 0.25],
        "a": [0.5, 0.5],
        "t": [0.25, 0.75],
        "o": [0.0, 1.0],
    }
    r = run_greedy(scripted(CAT, TO, attention=attention))
    assert [word(ids) for ids in r["ids"]] == ["cat", "to", "cat", "to"]
    # Eos is part of the ids; every position after it is eos too.
    cat, to = [4, 2, 13, EOS, EOS, EOS], [13, 10, EOS, EOS, EOS, EOS]
    np.testing.assert_array_equal(r["ids"], [cat, to, cat, to])
    np.testing.assert_array_equal(r["lengths"], [4, 3, 4, 3])
    p_cat, p_to = 0.5 * 0.6 * 0.7 * 0.8, 0.6 * 0.7 * 0.9
    want = np.log([p_cat, p_to, p_cat, p_to])
    np.testing.assert_allclose(r["scores"], want, rtol=1e-6)
    assert int(r["steps"]) == 4  # Stops when the longest row has ended.
    # The weights of each step follow its input token; zeros after the end.
    np.testing.assert_allclose(
        r["weights"][0],
        [[1, 0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75]] + [[0, 0]] * 2,
    )
    np.testing.assert_allclose(
        r["weights"][1], [[1, 0], [0.25, 0.75], [0, 1]] + [[0, 0]] * 3
    )


@pytest.mark.parametrize("search", [run_greedy, run_sample])
def test_a_row_whose_step_masks_every_token_ends_there(search):
    # Greedy search took token 0 at log-prob -inf and went on decoding
    # from it; sampling drew from NaN probabilities. Rows 0 and 2 spell
    # "ca", after which the step allows no token; rows 1 and 3 spell "to".
    sure_ca = {"<bos>": {"c": 1.0}, "c": {"a": 1.0}}
    sure_to = {"<bos>": {"t": 1.0}, "t": {"o": 1.0}, "o": {"<eos>": 1.0}}
    tables = np.stack(
        [script_table([sure_ca, sure_to][b % 2]) for b in range(B)]
    )
    tables[0::2, VOCAB.index("a")] = 0.0
    with np.errstate(divide="ignore"):  # log(0) = -inf, meant
        step = TableStep(tables, np.full((V, TS), 1.0 / TS))
    r = search(step)
    ca, to = [4, 2] + [EOS] * 4, [13, 10] + [EOS] * 4
    np.testing.assert_array_equal(r["ids"], [ca, to, ca, to])
    np.testing.assert_array_equal(r["lengths"], [2, 3, 2, 3])
    np.testing.assert_array_equal(r["scores"], [-np.inf, 0, -np.inf, 0])
    np.testing.assert_array_equal(
        r["token_log_probs"][0], [0, 0, -np.inf, 0, 0, 0]
    )
    np.testing.assert_array_equal(r["weights"][0, 2:], 0.0)
    np.testing.assert_allclose(r["weights"][0, :2], 1.0 / TS)
    assert int(r["steps"]) == 3
    if search is run_greedy:  # the compiled loop, where there is one
        got = compiled(greedy_search)(step, step.initial_state(), BOS, EOS, T)
        for name, value in to_numpy(got).items():
            np.testing.assert_array_equal(value, r[name], err_msg=name)


def test_beam_size_one_equals_greedy():
    step = random_step(seed=1)
    greedy = run_greedy(step)
    beam = run_beam(step, beam_size=1)
    assert (greedy["lengths"] < T).any()  # Some rows end early.
    np.testing.assert_array_equal(beam["ids"][:, 0], greedy["ids"])
    np.testing.assert_array_equal(beam["lengths"][:, 0], greedy["lengths"])
    np.testing.assert_array_equal(beam["log_probs"][:, 0], greedy["scores"])
    np.testing.assert_array_equal(beam["scores"][:, 0], greedy["scores"])
    np.testing.assert_array_equal(beam["weights"][:, 0], greedy["weights"])


def test_beam_search_finds_a_more_probable_sequence_than_greedy():
    step = scripted(HE_SO)
    greedy = run_greedy(step)
    beam = run_beam(step, beam_size=2, n_best=2)
    assert word(greedy["ids"][0]) == "he"
    assert [word(ids) for ids in beam["ids"][0]] == ["so", "he"]
    want = np.log([0.4 * 0.9 * 0.9, 0.55 * 0.4 * 0.5])
    np.testing.assert_allclose(beam["scores"][0], want, rtol=1e-6)
    np.testing.assert_allclose(greedy["scores"][0], want[1], rtol=1e-6)
    np.testing.assert_array_equal(beam["lengths"][0], [3, 3])


def gnmt_length_penalty(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def coverage(weights_per_step):
    """TFA's coverage sum: log(min(acc, 1)) over positions where acc > 0."""
    acc = np.sum(weights_per_step, axis=0)
    return np.sum(np.log(np.minimum(acc[acc > 0], 1.0)))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_length_penalty_ranks_by_the_gnmt_formula(alpha):
    # With stop_early=False the search goes on after "bond" ends, so both
    # hypotheses are scored finished, their lengths counting eos.
    r = run_beam(
        scripted(IT_BOND), 2, n_best=2, length_penalty=alpha, stop_early=False
    )
    candidates = {
        "it": np.log(P_IT) / gnmt_length_penalty(3, alpha),
        "bond": np.log(P_BOND) / gnmt_length_penalty(5, alpha),
    }
    ranking = sorted(candidates, key=candidates.get, reverse=True)
    assert ranking == (["it", "bond"] if alpha == 0 else ["bond", "it"])
    assert [word(ids) for ids in r["ids"][0]] == ranking
    want = [candidates[w] for w in ranking]
    np.testing.assert_allclose(r["scores"][0], want, rtol=1e-5)
    want_log_probs = [np.log(P_IT if w == "it" else P_BOND) for w in ranking]
    np.testing.assert_allclose(r["log_probs"][0], want_log_probs, rtol=1e-5)
    np.testing.assert_array_equal(
        r["lengths"][0], [3 if w == "it" else 5 for w in ranking]
    )


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_coverage_penalty_ranks_by_tfa_formula(weight):
    step = scripted(IT_BOND, attention=IT_ATTENTION)
    r = run_beam(step, 2, n_best=2, coverage_penalty=weight, stop_early=False)
    uniform = [0.5, 0.5]
    # The weights of each unfinished step, eos step included.
    it = [uniform, IT_ATTENTION["i"], IT_ATTENTION["t"]]
    bond = [uniform] * 5
    candidates = {
        "it": np.log(P_IT) + weight * coverage(it),  # log(.5) * weight
        "bond": np.log(P_BOND) + weight * coverage(bond),  # 0
    }
    ranking = sorted(candidates, key=candidates.get, reverse=True)
    assert ranking == (["it", "bond"] if weight == 0 else ["bond", "it"])
    assert [word(ids) for ids in r["ids"][0]] == ranking
    want = [candidates[w] for w in ranking]
    np.testing.assert_allclose(r["scores"][0], want, rtol=1e-5)


def test_finished_beams_keep_their_score():
    alpha = 1.0
    r = run_beam(
        scripted(IT_BOND),
        2,
        n_best=2,
        length_penalty=alpha,
        stop_early=False,
        return_raw=True,
    )
    j = [word(ids) for ids in r["ids"][0]].index("it")
    # Walk the beam of "it" back from the last step.
    slots = [j]
    for t in range(5, 0, -1):
        slots.insert(0, r["parent_ids"][0, t, slots[0]])
    scores = [r["step_scores"][0, t, slot] for t, slot in enumerate(slots)]
    # "it" ends at step 2. Like TFA, that step scores it without counting
    # the eos; every later step scores it with the eos, and never changes.
    log_p = np.log(P_IT)
    np.testing.assert_allclose(
        scores[2], log_p / gnmt_length_penalty(2, alpha), rtol=1e-6
    )
    np.testing.assert_allclose(
        scores[3:], [log_p / gnmt_length_penalty(3, alpha)] * 3, rtol=1e-6
    )
    assert r["final_finished"][0].all()
    np.testing.assert_allclose(r["final_log_probs"][0, j], log_p, rtol=1e-6)


def test_n_best_hypotheses_are_sorted_distinct_and_scored_by_their_ids():
    step = random_step(seed=2)
    r = run_beam(step, beam_size=4, n_best=3)
    assert r["ids"].shape == (B, 3, T)
    for b in range(B):
        assert (np.diff(r["scores"][b]) <= 0).all()
        hypotheses = {
            tuple(ids[:length])
            for ids, length in zip(r["ids"][b], r["lengths"][b], strict=True)
        }
        assert len(hypotheses) == 3
        for ids, log_prob in zip(r["ids"][b], r["log_probs"][b], strict=True):
            want = path_log_prob(step, b, ids)
            np.testing.assert_allclose(log_prob, want, rtol=1e-5)
    np.testing.assert_array_equal(r["scores"], r["log_probs"])  # No penalty.


def test_one_per_beam_at_end_keeps_hypotheses_distinct_before_the_last_step():
    # A caller that cuts the hypotheses one token short (the translator
    # keeps that step as room for eos) found two alike where beams took
    # two tokens of one parent at the last step.
    step, end = random_step(seed=5), 3

    def cut(r, b):
        return [word(ids[: end - 1]) for ids in r["ids"][b]]

    plain = run_beam(step, beam_size=4, n_best=4, max_length=end)
    assert any(len(set(cut(plain, b))) < 4 for b in range(B))
    one = run_beam(
        step, beam_size=4, n_best=4, max_length=end, one_per_beam_at_end=True
    )
    for b in range(B):
        assert len(set(cut(one, b))) == 4, cut(one, b)
        assert (np.diff(one["scores"][b]) <= 0).all()
        for ids, length in zip(one["ids"][b], one["lengths"][b], strict=True):
            # The last step added its beam's most probable token.
            if length == end:
                previous = ids[end - 2]
                assert ids[end - 1] == np.argmax(step.probs[b, previous])
    fast = compiled(beam_search)(
        step,
        step.initial_state(),
        BOS,
        EOS,
        max_length=end,
        beam_size=4,
        n_best=4,
        one_per_beam_at_end=True,
    )
    assert_same(to_numpy(fast), one)


def path_token_log_probs(step, row, ids, length):
    """Each of the first `length` tokens' table log-prob, then zeros."""
    previous, want = BOS, np.zeros(len(ids))
    for t, token in enumerate(np.asarray(ids).tolist()[:length]):
        want[t] = np.log(step.probs[row, previous, token])
        previous = token
    return want


@pytest.mark.parametrize("search", ["greedy", "sample", "beam"])
def test_token_log_probs_are_the_models_along_each_hypothesis(search):
    # A caller that keeps part of a hypothesis (the translator cuts the
    # step it ran past its limit) scores the part from these.
    step, end = random_step(seed=5), 4
    if search == "greedy":
        r = run_greedy(step, max_length=end)
    elif search == "sample":
        r = run_sample(step, max_length=end, seed=7)
    else:
        r = run_beam(
            step,
            beam_size=4,
            n_best=4,
            max_length=end,
            length_penalty=0.8,
            one_per_beam_at_end=True,
        )
    if search != "beam":  # one hypothesis per row: a beam axis of one
        r = {k: v[:, None] for k, v in r.items() if k != "steps"}
        r["log_probs"] = r["scores"]
    assert r["token_log_probs"].shape == r["ids"].shape
    assert (r["lengths"] == end).any()  # some rows end at the limit
    for b in range(B):
        for k in range(r["ids"].shape[1]):
            ids, length = r["ids"][b, k], r["lengths"][b, k]
            want = path_token_log_probs(step, b, ids, length)
            np.testing.assert_allclose(
                r["token_log_probs"][b, k], want, rtol=1e-5, atol=1e-6
            )
            np.testing.assert_allclose(
                r["token_log_probs"][b, k].sum(),
                r["log_probs"][b, k],
                rtol=1e-5,
            )


def attention_model(lengths):
    """Step function, state and memory of a small attention decoder.

    Random weights; the eos logit gets a bias so that some hypotheses end
    early. The memory goes to the searches as `constants`.
    """
    rng = np.random.default_rng(0)
    batch_size, source_steps, depth = len(lengths), 7, 6
    vocab_size, embedding_dim, units = 9, 3, 5
    cell = AttentionRNNCell(
        keras.layers.GRUCell(units),
        BahdanauAttention(4),
        attention_layer_size=4,
    )
    cell.build((None, embedding_dim), (None, source_steps, depth))
    output_layer = keras.layers.Dense(vocab_size)
    output_layer.build((None, cell.output_size))
    output_layer.bias.assign(np.eye(vocab_size)[EOS] * 1.5)
    embedding = keras.layers.Embedding(vocab_size, embedding_dim)
    embedding.build((None,))
    value = rng.normal(size=(batch_size, source_steps, depth))
    value_mask = np.arange(source_steps) < np.array(lengths)[:, None]
    memory = cell.prepare(value.astype("float32"), value_mask=value_mask)
    cell_state = rng.normal(size=(batch_size, units)).astype("float32")
    state = cell.get_initial_state(memory, cell_state)
    return attention_step(cell, output_layer, embedding), state, memory


def test_weights_sum_to_one_on_real_source_positions_and_zero_elsewhere():
    lengths = np.array([7, 1, 4])
    step_fn, state, memory = attention_model(lengths)
    beam = to_numpy(
        beam_search(step_fn, state, BOS, EOS, 6, 3, n_best=3, constants=memory)
    )
    greedy = to_numpy(
        greedy_search(step_fn, state, BOS, EOS, 6, constants=memory)
    )
    hypotheses = [
        (beam["weights"][b, j], beam["lengths"][b, j], lengths[b])
        for b in range(3)
        for j in range(3)
    ] + [
        (greedy["weights"][b], greedy["lengths"][b], lengths[b])
        for b in range(3)
    ]
    assert any(length < 6 for _, length, _ in hypotheses)  # Some ended.
    for weights, length, source_length in hypotheses:
        real = weights[:length, :source_length]
        np.testing.assert_allclose(real.sum(axis=-1), 1.0, rtol=1e-5)
        assert (weights[:length, source_length:] == 0).all()
        assert (weights[length:] == 0).all()


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="compiled() runs torch eagerly: Keras' torch while_loop is a "
    "Python loop with a data-dependent exit, which torch.compile cannot "
    "capture as one graph, so there is no compiled result to compare",
)
def test_compiled_and_eager_results_are_identical():
    step_fn, state, memory = attention_model(np.array([7, 1, 4]))
    calls = [
        (greedy_search, dict(max_length=6, constants=memory)),
        (
            sample,
            dict(max_length=6, top_k=5, top_p=0.9, seed=3, constants=memory),
        ),
        (
            beam_search,
            dict(
                constants=memory,
                max_length=6,
                beam_size=3,
                length_penalty=0.6,
                coverage_penalty=0.4,
                n_best=2,
                return_raw=True,
            ),
        ),
    ]
    for fn, kwargs in calls:
        eager = to_numpy(fn(step_fn, state, BOS, EOS, **kwargs))
        fast = to_numpy(compiled(fn)(step_fn, state, BOS, EOS, **kwargs))
        if fn is sample and keras.backend.backend() == "tensorflow":
            # Under XLA, TensorFlow's stateless random ops use another
            # algorithm: the compiled draws differ from the eager ones, and
            # are as reproducible.
            eager = to_numpy(compiled(fn)(step_fn, state, BOS, EOS, **kwargs))
        assert_same(fast, eager)


def assert_same(actual, expected):
    """Equal ids, lengths and flags; floats equal to float32 rounding."""
    assert actual.keys() == expected.keys()
    for name, want in expected.items():
        if want.dtype.kind in "biu":
            np.testing.assert_array_equal(actual[name], want, name)
        else:
            np.testing.assert_allclose(
                actual[name], want, rtol=1e-5, atol=1e-5, err_msg=name
            )


def test_sampling_with_a_seed_is_reproducible():
    step = random_step(seed=3)
    first = run_sample(step, seed=7)
    again = run_sample(step, seed=7)
    other = run_sample(step, seed=8)
    for name in first:
        np.testing.assert_array_equal(again[name], first[name])
    assert (other["ids"] != first["ids"]).any()
    # Scores are the model's log-probs of the drawn ids.
    for b in range(B):
        want = path_log_prob(step, b, first["ids"][b])
        np.testing.assert_allclose(first["scores"][b], want, rtol=1e-5)


def drawn(r):
    """Every `(row, previous token, token)` that a decoding drew."""
    draws = []
    for row, (ids, length) in enumerate(
        zip(r["ids"], r["lengths"], strict=True)
    ):
        previous = [BOS, *ids[: length - 1]]
        draws += [
            (row, p, t) for p, t in zip(previous, ids[:length], strict=True)
        ]
    return draws


def test_sampling_draws_only_from_the_top_k():
    step = random_step(seed=4)
    r = run_sample(step, top_k=3, seed=0)
    top3 = np.argsort(-step.probs, axis=-1, kind="stable")[..., :3]
    draws = drawn(r)
    assert all(token in top3[row, prev] for row, prev, token in draws)
    # Not greedy: some draws are not the most probable token.
    assert any(token != top3[row, prev, 0] for row, prev, token in draws)


def test_sampling_draws_only_from_the_nucleus():
    # After any token: "a" .5, "b" .3, "c" .15, the rest (eos too) .05.
    # The mass before "b" is .5 < .7: kept; before "c" it is .8: cut.
    step = scripted({t: {"a": 0.5, "b": 0.3, "c": 0.15} for t in VOCAB})
    r = run_sample(step, top_p=0.7, seed=0)
    assert set(r["ids"].ravel()) == {VOCAB.index("a"), VOCAB.index("b")}


def test_sampling_at_a_low_temperature_is_greedy():
    # The best token always leads by >= log(.4 / .3): at temperature .01
    # the others keep a probability below exp(-28).
    step = scripted(CAT, TO, HE_SO)
    cold = run_sample(step, temperature=0.01, seed=0)
    greedy = run_greedy(step)
    np.testing.assert_array_equal(cold["ids"], greedy["ids"])
    np.testing.assert_allclose(cold["scores"], greedy["scores"], rtol=1e-6)


def test_stop_early_false_runs_exactly_max_length_steps():
    step = scripted(CAT, TO)
    early = run_greedy(step)
    full = run_greedy(step, stop_early=False)
    assert (int(early["steps"]), int(full["steps"])) == (4, T)
    beam_early = run_beam(scripted(IT_BOND), 2, n_best=2)
    beam_full = run_beam(scripted(IT_BOND), 2, n_best=2, stop_early=False)
    assert (int(beam_early["steps"]), int(beam_full["steps"])) == (5, T)
    for a, b in [(early, full), (beam_early, beam_full)]:
        for name in a:
            if name != "steps":
                np.testing.assert_array_equal(b[name], a[name], name)


@pytest.mark.parametrize(
    "fn, kwargs, match",
    [
        (greedy_search, dict(max_length=0), "max_length"),
        (sample, dict(max_length=T, temperature=0.0), "temperature"),
        (sample, dict(max_length=T, top_k=0), "top_k"),
        (sample, dict(max_length=T, top_p=1.5), "top_p"),
        (beam_search, dict(max_length=T, beam_size=0), "beam_size"),
        (beam_search, dict(max_length=T, beam_size=2, n_best=3), "n_best"),
        (beam_search, dict(max_length=T, beam_size=V + 1), "vocabulary"),
        (
            beam_search,
            dict(max_length=T, beam_size=2, one_per_beam_at_end=1),
            "one_per_beam_at_end",
        ),
        (
            beam_search,
            dict(max_length=T, beam_size=2, length_penalty=-1.0),
            "length_penalty",
        ),
    ],
)
def test_invalid_arguments_raise(fn, kwargs, match):
    step = scripted(CAT)
    with pytest.raises(ValueError, match=match):
        fn(step, step.initial_state(), BOS, EOS, **kwargs)


@pytest.mark.parametrize(
    "fn, kwargs",
    [
        (greedy_search, {}),
        (sample, {"seed": 1}),
        (beam_search, {"beam_size": 2}),
    ],
)
def test_a_missing_bos_id_raises_by_name(fn, kwargs):
    step = scripted(CAT)
    with pytest.raises(ValueError, match="bos_id"):
        fn(step, step.initial_state(), None, EOS, max_length=T, **kwargs)


class ConstantTableStep(TableStep):
    """`TableStep` that reads its row from `constants`, not from the state."""

    def __call__(self, token_ids, state, constants):
        log_probs, _, weights = super().__call__(token_ids, constants)
        return log_probs, state, weights


def test_constants_reach_every_beam_unchanged():
    # The row index read from `constants` selects the table: wrong tiling
    # or a reordering of the constants would mix the rows' tables.
    tables = random_step(seed=5)
    step = ConstantTableStep(tables.probs, ops.convert_to_numpy(tables.weights))
    constants = step.initial_state()
    state = {"unused": np.zeros((B, 1), "float32")}
    for search, kwargs in [
        (greedy_search, {}),
        (beam_search, dict(beam_size=3, n_best=3)),
    ]:
        want = to_numpy(
            search(tables, tables.initial_state(), BOS, EOS, T, **kwargs)
        )
        got = to_numpy(
            search(step, state, BOS, EOS, T, constants=constants, **kwargs)
        )
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], name)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_stable_top_k_orders_ties_inside_and_at_the_edge(k):
    # Distinct values but for a tie for first in every row, and in every
    # third row a tie of the k-th value with one outside the k: the rows
    # are fixed by different paths (PyTorch's top_k has no tie order).
    rng = np.random.default_rng(10 + k)
    x = rng.permutation(np.arange(64 * 50, dtype="float32")).reshape(64, 50)
    order = np.argsort(-x, axis=-1)
    rows = np.arange(64)[:, None]
    top = order[:, :2]
    x[rows, top] = x[rows, top].max(-1, keepdims=True)  # a tie for first
    edge = order[::3, k - 1 : k + 1]
    x[rows[::3], edge] = x[rows[::3], edge].max(-1, keepdims=True)
    values, indices = stable_top_k(ops.convert_to_tensor(x), k)
    want = np.argsort(-x, axis=-1, kind="stable")[:, :k]
    np.testing.assert_array_equal(ops.convert_to_numpy(indices), want)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(values), np.take_along_axis(x, want, -1)
    )


def test_stable_top_k_first_maximum_of_long_rows():
    # Rows as long as a beam's candidates, which a backend may reduce in
    # parallel chunks: copies of the maximum far apart, and side by side.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 40_000)).astype("float32")
    for row, places in enumerate([(5, 39_999), (20_000, 20_001), (0, 1)]):
        x[row, list(places)] = 10.0
    x[3] = -1.0  # all equal
    values, indices = stable_top_k(ops.convert_to_tensor(x), 1)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(indices)[:, 0], [5, 20_000, 0, 0]
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(values)[:, 0], [10.0, 10.0, 10.0, -1.0]
    )


@pytest.mark.parametrize("k", [1, 3, 7])
def test_stable_top_k_breaks_ties_by_the_lower_index(k):
    # Few distinct values, so most rows have ties at and above the k-th.
    rng = np.random.default_rng(k)
    x = rng.integers(0, 3, size=(5, 7)).astype("float32")
    x[0] = 1.0  # one row all equal
    x[1, :4] = float("-inf")
    values, indices = stable_top_k(ops.convert_to_tensor(x), k)
    # NumPy's stable sort of -x: by value descending, then index ascending.
    want = np.argsort(-x, axis=-1, kind="stable")[:, :k]
    np.testing.assert_array_equal(ops.convert_to_numpy(indices), want)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(values), np.take_along_axis(x, want, -1)
    )
