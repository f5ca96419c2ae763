"""Shared tool-test set-up: small real corpora and one tiny trained run.

The corpora are a few hundred pairs of `../shared/data/tatoeba-eng-spa`;
the model is tiny and trains a few steps, so every command runs for real
in seconds (its translations are poor, and no test relies on them being
good).
"""

import pytest
from cli_support import TINY, head_pairs

from keras_seq2seq.cli import main


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """Small TSV train/dev/test files (real Tatoeba lines)."""
    folder = tmp_path_factory.mktemp("corpus")
    # Every 200th line: short and long sentences, not only "Go."
    lines = head_pairs("train.tsv", 60000)[::200]
    (folder / "train.tsv").write_text("".join(lines), encoding="utf-8")
    for name in ("dev.tsv", "test.tsv"):
        text = "".join(head_pairs(name, 12))
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def trained_run(tsv_run, trained_translator):
    """A run trained for 4 steps on the TSV corpus (sentencepiece), with
    dropout. Its translator stays loaded for the session, so each
    `seq2seq translate` of the run in these tests reuses the loaded model
    and its compiled searches, as a second load in one process does."""
    return tsv_run


@pytest.fixture(scope="session")
def tsv_run(corpus, tmp_path_factory):
    """`trained_run`, trained; without its translator."""
    runs = tmp_path_factory.mktemp("runs")
    code = main([
        "train", "--data", str(corpus / "train.tsv"), "--runs-dir",
        str(runs), "--name", "tsv", "--vocab-size", "120",
        "--max-steps", "4", "--validate-every", "2", "--dropout", "0.1",
        *TINY,
    ])  # fmt: skip
    assert code == 0
    return runs / "tsv"


@pytest.fixture(scope="session")
def trained_translator(tsv_run):
    """`Translator.load(trained_run)`, shared by the tests that only read
    its translations: its model compiles the search once per batch shape
    for the whole session, not once per test. A test that patches it
    undoes that with monkeypatch."""
    from keras_seq2seq.nmt.translator import Translator

    return Translator.load(tsv_run)


@pytest.fixture
def no_training(monkeypatch):
    """Replaces the training loop: records the dev pairs it was given and
    stops the run before its first checkpoint (as Ctrl-C would)."""
    seen = []

    def record(run, model, encoded, dev, state):
        seen.append(dev)
        raise KeyboardInterrupt  # the run stops before its first checkpoint

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", record)
    return seen
