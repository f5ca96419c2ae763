"""The tool on an install without TensorFlow (`pip install .[jax,tool]`).

The TensorBoard logs were written by Keras' `TensorBoard` callback, which
writes through `tf.summary`: on JAX or PyTorch without TensorFlow,
`seq2seq train` failed at its first step (seen on a GPU machine that has
JAX and PyTorch but no TensorFlow). Here each command runs in a fresh
Python on JAX in which `import tensorflow` fails, as it does there.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import TINY
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

REPO = Path(__file__).resolve().parents[2]
# Runs `seq2seq ARGV...` for each ARGV list given as JSON, in one Python
# (one JAX start) in which `import tensorflow` fails (None in
# sys.modules makes every import of it raise ModuleNotFoundError).
LAUNCH = """
import json, sys
sys.modules["tensorflow"] = None
from keras_seq2seq_cli import main
for argv in json.loads(sys.argv[1]):
    if main(argv):
        sys.exit(1)
"""


def seq2seq(*commands):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, json.dumps(commands)],
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
    run = runs / "jax"
    done = seq2seq(
        [
            "train", "--data", str(corpus / "train.tsv"), "--runs-dir",
            str(runs), "--name", "jax", "--vocab-size", "120",
            "--max-steps", "2", "--validate-every", "2", *TINY,
        ],
        ["translate", str(run), "Hello."],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    *_, translation = done.stdout.splitlines()  # after train's run path
    assert translation.strip()

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
