"""The tool on an install without TensorFlow (`pip install .[jax,tool]`).

The TensorBoard logs were written by Keras' `TensorBoard` callback, which
writes through `tf.summary`: on JAX or PyTorch without TensorFlow,
`seq2seq train` failed at its first step (seen on a GPU machine that has
JAX and PyTorch but no TensorFlow). Here each command runs in a fresh
Python on JAX in which `import tensorflow` fails, as it does there.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from conftest import TINY

REPO = Path(__file__).resolve().parents[2]
# Runs the tool with `tensorflow` unimportable (None in sys.modules makes
# every `import tensorflow` raise ModuleNotFoundError).
LAUNCH = (
    "import sys; sys.modules['tensorflow'] = None; "
    "from keras_seq2seq_cli import main; sys.exit(main())"
)


def seq2seq(*argv, stdin=None):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def metrics(run, column):
    with open(run / "metrics.csv", encoding="utf-8") as rows:
        return [float(row[column]) for row in csv.DictReader(rows)]


def test_train_and_translate_run_without_tensorflow(corpus, tmp_path):
    runs = tmp_path / "runs"
    done = seq2seq(
        "train", "--data", str(corpus / "train.tsv"), "--runs-dir",
        str(runs), "--name", "jax", "--vocab-size", "120", "--max-steps",
        "2", "--validate-every", "2", *TINY,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = runs / "jax"

    # TensorBoard's own reader (no TensorFlow either): the dev scores and
    # the loss at the steps metrics.csv lists.
    logs = EventAccumulator(str(run / "tensorboard" / "train"))
    logs.Reload()
    scalars = logs.Tags()["scalars"]
    for tag in ("epoch_loss", "epoch_dev_bleu", "epoch_learning_rate"):
        assert tag in scalars, scalars
        steps = [e.step for e in logs.Scalars(tag)]
        assert steps == metrics(run, "step") == [2]
    losses = [e.value for e in logs.Scalars("epoch_loss")]
    assert losses == pytest.approx(metrics(run, "loss"), abs=1e-4)

    done = seq2seq("translate", str(run), stdin="Hello.\n")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
