"""What a demanding user meets: a slow `--help`, two TSV files to
`--data`, a dev corpus that is the training corpus, a `--name` that is
someone else's folder.

Each test pins one defect. None trains a model: the training loop is
replaced where a command would start it.
"""

import subprocess
import sys

import pytest

from keras_seq2seq.cli import main

ERROR = "seq2seq: error: "
WARNING = "seq2seq: warning: "


def _one_error_line(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(ERROR), err
    for word in words:
        assert word in err[0], err
    return err[0]


@pytest.fixture
def no_training(monkeypatch):
    """Replaces the training loop: records the dev pairs it was given."""
    seen = []

    def record(run, model, encoded, dev, state):
        seen.append(dev)
        raise KeyboardInterrupt  # the run stops before its first checkpoint

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", record)
    return seen


# --- 1. --help and usage errors answer before Keras is imported ---

HEAVY = {"keras", "keras_seq2seq", "tensorflow", "jax", "torch"}


@pytest.mark.parametrize(
    "argv, code",
    [(["--help"], 0), (["train", "--help"], 0), (["train", "--bogus"], 2)],
)
def test_help_and_usage_errors_do_not_import_keras(argv, code):
    # `-X importtime` lists every module the launcher imports, on stderr.
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "keras_seq2seq_cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "keras_seq2seq_cli" in imported  # the list is the launcher's
    assert not imported & HEAVY
    if code == 0:
        assert done.stdout.startswith("usage: seq2seq")
    else:
        assert "unrecognized arguments: --bogus" in done.stderr
