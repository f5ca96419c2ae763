"""Translations the search cut at its length limit, and the rows of a batch.

A model that has not learnt to end a sentence writes tokens until the
search's length limit; before, its cut translations came out as if whole,
with one token more than the run's `max_target_length`. And every model
call had 64 rows, so one sentence cost 64 sentences' work and memory (a
wide beam on one sentence asked for gigabytes).
"""

import shutil

import keras
import numpy as np
import pytest
from cli_support import CUT, WARNING

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import run_folder
from keras_seq2seq.nmt.translator import Translator

SENTENCES = ["Tom is here.", "I like it very much.", "Go."]
LIMIT = 7  # the copies' max_target_length: below any width's 2 x width + 10


def _run_whose_model_ends(trained_run, tmp_path, eos_bias):
    """A copy of the trained run whose output layer gives the end token
    the bias `eos_bias`: -1e9 never ends a sentence, +1e9 always does.
    Its translations have at most `LIMIT` tokens."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    config = (run / "config.yaml").read_text(encoding="utf-8")
    assert "\nmax_target_length: 80\n" in config
    config = config.replace(
        "\nmax_target_length: 80\n", f"\nmax_target_length: {LIMIT}\n"
    )
    (run / "config.yaml").write_text(config, encoding="utf-8")
    model = run_folder.load_model(run / "model.keras")
    kernel, bias = model.output_layer.get_weights()
    kernel[:, model.eos_id] = 0.0
    bias[model.eos_id] = eos_bias
    model.output_layer.set_weights([kernel, bias])
    model.save(run / "model.keras")
    return run


@pytest.fixture(scope="module")
def endless_run(trained_run, tmp_path_factory):
    return _run_whose_model_ends(
        trained_run, tmp_path_factory.mktemp("a"), -1e9
    )


# One translator for the endless run (as conftest's trained_translator
# for the trained one): a model compiles its search once per batch shape,
# and the tests below share those shapes (they only read the translators;
# the spies are undone by monkeypatch).
@pytest.fixture(scope="module")
def endless(endless_run):
    return Translator.load(endless_run)


@pytest.mark.parametrize("beam", [1, 3])
def test_a_translation_without_end_is_marked_and_kept_to_the_limit(
    endless, beam
):
    translator = endless
    found = translator.translate(SENTENCES, beam=beam, n_best=beam)
    for hypotheses in found:
        for hypothesis in hypotheses:
            assert hypothesis.at_length_limit
            assert len(hypothesis.target_tokens) == LIMIT
            assert len(hypothesis.attention) == LIMIT


def _log_prob(translator, sentence, ids):
    """The model's log-prob of the target `ids` for `sentence`, each token
    scored after the ones before it (teacher forcing), in float64."""
    model = translator.model
    source = np.array([translator.source_tokenizer.encode(sentence)], "int32")
    target_in = np.array([[model.bos_id, *ids[:-1]]], "int32")
    logits = keras.ops.convert_to_numpy(model((source, target_in)))[0]
    logits = logits.astype("float64")
    top = logits.max(axis=-1, keepdims=True)
    log_probs = logits - top - np.log(np.exp(logits - top).sum(-1))[:, None]
    return log_probs[np.arange(len(ids)), ids].sum()


@pytest.mark.parametrize("beam, length_penalty", [(1, 0.0), (3, 0.0), (3, 0.6)])
def test_a_cut_translation_scores_the_tokens_it_keeps(
    endless, beam, length_penalty
):
    # The search ran one step past the limit (room for the end token);
    # the score was that of the longer path, not of the translation.
    translator = endless
    found = translator.translate(
        SENTENCES, beam=beam, n_best=beam, length_penalty=length_penalty
    )
    pieces = translator.target_tokenizer.pieces
    penalty = ((5 + LIMIT) / 6) ** length_penalty  # GNMT's, as the search
    for sentence, hypotheses in zip(SENTENCES, found, strict=True):
        for hypothesis in hypotheses:
            ids = [pieces.index(piece) for piece in hypothesis.target_tokens]
            want = _log_prob(translator, sentence, ids) / penalty
            assert hypothesis.score == pytest.approx(want, abs=1e-3)
        scores = [hypothesis.score for hypothesis in hypotheses]
        assert scores == sorted(scores, reverse=True)  # best first still


def test_translations_that_end_are_not_marked(trained_run, tmp_path):
    translator = Translator.load(
        _run_whose_model_ends(trained_run, tmp_path, 1e9)
    )
    [[first], [second], [third]] = translator.translate(SENTENCES)
    for hypothesis in (first, second, third):
        assert hypothesis.text == "" and hypothesis.target_tokens == []
        assert not hypothesis.at_length_limit


def test_translate_warns_of_the_cut_translations_in_one_line(
    endless_run, capsys
):
    assert main(["translate", str(endless_run), *SENTENCES]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(SENTENCES)
    [warning] = [line for line in err.splitlines() if line.startswith(WARNING)]
    assert CUT in warning and "3 translations (1, 2, 3)" in warning
    assert f"max_target_length, {LIMIT} tokens" in warning


def test_evaluate_names_the_file_lines_of_cut_translations(
    endless_run, corpus, capsys
):
    data = str(corpus / "test.tsv")
    assert main(["evaluate", str(endless_run), "--data", data]) == 0
    warnings = [
        line for line in capsys.readouterr().err.splitlines() if CUT in line
    ]
    assert (
        len(warnings) == 1 and "test.tsv lines 1, 2, 3, 4, 5 and" in warnings[0]
    )


class _Rows:
    """Records the rows of each batch the model is given."""

    def __init__(self, model):
        self.generate = model.generate
        self.rows = []

    def __call__(self, source, **options):
        self.rows.append(np.shape(source)[0])
        return self.generate(source, **options)


@pytest.mark.parametrize(
    "count, rows", [(1, [1]), (3, [4]), (20, [32]), (64, [64]), (70, [64, 64])]
)
def test_a_batch_has_as_many_rows_as_it_needs(
    trained_translator, monkeypatch, count, rows
):
    translator = trained_translator
    spy = _Rows(translator.model)
    monkeypatch.setattr(translator.model, "generate", spy)
    sentences = [f"{SENTENCES[i % 3]} {i}" for i in range(count)]
    one = translator.translate(sentences)
    assert spy.rows == rows
    # Each sentence alone: the same translation as in its batch.
    for i in (0, count - 1):
        [alone] = translator.translate([sentences[i]])
        assert alone[0].text == one[i][0].text
        np.testing.assert_allclose(alone[0].score, one[i][0].score, atol=1e-4)


def test_a_wide_beam_on_one_sentence_searches_one_row(
    trained_translator, monkeypatch
):
    translator = trained_translator
    spy = _Rows(translator.model)
    monkeypatch.setattr(translator.model, "generate", spy)
    [hypotheses] = translator.translate(["Go."], beam=40, n_best=40)
    # 40 translations, none told twice, though this model writes to the
    # limit, where beams that differed only past it were alike.
    tokens = [tuple(h.target_tokens) for h in hypotheses]
    assert spy.rows == [1] and len(set(tokens)) == len(tokens) == 40


def test_cut_translations_of_a_sentence_are_told_once(endless):
    # The search runs one step past the limit: beams that differed only
    # in that step's token were one translation once cut, and the n-best
    # listed it twice (or, searching more beams, fewer than n_best).
    translator = endless
    found = translator.translate(SENTENCES, beam=5, n_best=5)
    for hypotheses in found:
        assert all(h.at_length_limit for h in hypotheses)
        tokens = [tuple(h.target_tokens) for h in hypotheses]
        assert len(set(tokens)) == len(tokens) == 5, tokens
        scores = [h.score for h in hypotheses]
        assert scores == sorted(scores, reverse=True)
