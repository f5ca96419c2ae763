"""Training on 2 virtual CPU devices follows the 1-device loss curve.

Each backend runs in a fresh subprocess (this file run as a script): the
virtual devices must be set up before the backend starts its runtime, and
each run needs its own `KERAS_BACKEND`. The subprocess trains the same
model twice, on 1 device and then on 2; in the same process (its runtime
started, with its 2 devices) it then asks `distribute` for more devices
than exist, on TensorFlow counts the rows each replica's step gets, and
runs `seq2seq train --devices 2` twice: on a tiny dates corpus, and on a
corpus smaller than a batch.
"""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest

STEPS = 12  # 3 epochs of 4 batches
GLOBAL_BATCH = 8

# Data parallelism changes only the order of floating-point sums: both
# replicas' losses are means over B/2 * T tokens (Keras'
# "sum_over_batch_size" divides by the padded size, not by the mask), so
# their average is the global mean exactly in real arithmetic, and the
# gradients are averaged. Float32 reordering gave relative differences
# below 1e-6 over these 12 steps on both backends; the curve itself moves
# by more than 5 %, three orders of magnitude above the tolerance.
RTOL = 1e-5


def _python(backend, *args, timeout=300):
    """Runs `python ARGS` under `backend` on CPU; returns the finished run."""
    # CPU only, so the 2 devices are the virtual CPU ones on any machine.
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JAX_PLATFORMS": "cpu",
        "CUDA_VISIBLE_DEVICES": "",
    }
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _train(count):
    """Trains a tiny Seq2Seq on a copy task from a fixed seed."""
    import keras

    from keras_seq2seq.models import Seq2Seq
    from keras_seq2seq.nmt.devices import (
        distribute,
        train_step,
        variable_devices,
    )

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n, steps = 32, 6
    lengths = rng.integers(1, steps + 1, size=n)
    real = np.arange(steps)[None] < lengths[:, None]
    source = np.where(real, rng.integers(3, 12, size=(n, steps)), 0)
    target_in = np.concatenate([np.ones((n, 1), int), source], axis=1)
    target_out = np.concatenate([source, np.zeros((n, 1), int)], axis=1)
    target_out[np.arange(n), lengths] = 2  # EOS after the copy
    source, target_in, target_out = (
        a.astype("int32") for a in (source, target_in, target_out)
    )
    with distribute(count):
        model = Seq2Seq(
            12,
            12,
            embedding_dim=8,
            encoder_units=8,
            decoder_units=16,
            attention_units=8,
            attention_layer_size=16,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-2),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        losses = []  # the tool's own step: `seq2seq train --devices N`
        for step in range(STEPS):  # 3 passes over 4 batches, in order
            start = step * GLOBAL_BATCH % n
            rows = slice(start, start + GLOBAL_BATCH)
            logs = train_step(
                model, (source[rows], target_in[rows]), target_out[rows]
            )
            losses.append(logs["loss"])
    devices = [sorted(variable_devices(v)) for v in model.trainable_variables]
    return {"losses": [float(x) for x in losses], "devices": devices}


def _main(runs_dir):
    import keras

    from keras_seq2seq.nmt.devices import distribute, prepare_devices
    from keras_seq2seq.nmt.run_error import RunError

    prepare_devices(2)  # before anything starts the runtime
    result = {"trained": [_train(1), _train(2)]}
    result["refusal_of_64"] = None
    try:  # the runtime has started, with its 2 devices
        with distribute(64):
            pass
    except RunError as e:
        result["refusal_of_64"] = str(e)
    if keras.backend.backend() == "tensorflow":
        result["rows_per_replica"] = _rows_per_replica()
    result["small_corpus"] = _small_corpus_error()
    result["dates_run"] = _train_dates_run(runs_dir)
    print(json.dumps(result))


# `seq2seq train --devices 2` on a tiny model and dates corpus.
TINY_DATES = [
    "--embedding-dim", "8", "--encoder-units", "8", "--decoder-units",
    "16", "--attention-units", "8", "--attention-layer-size", "16",
    "--batch-size", "16", "--max-steps", "4", "--validate-every", "2",
    "--validation-size", "8", "--dates-train-size", "200",
]  # fmt: skip


def _train_dates_run(runs_dir):
    """`seq2seq train --devices 2` into `runs_dir`. It is the process'
    second model on 2 devices: on TensorFlow a second `MirroredStrategy`
    failed at its first step (its all-reduces reused the first one's
    numbers), so `distribute` keeps one strategy per device set."""
    return _train_command(["--runs-dir", runs_dir, *TINY_DATES])


def _train_command(flags):
    """`seq2seq train --devices 2 FLAGS` in this process: its exit code
    and stderr."""
    import contextlib
    import io

    from keras_seq2seq.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["train", "--devices", "2", *flags])
    return {"code": code, "stderr": err.getvalue()}


def _small_corpus_error():
    """What `seq2seq train --devices 2` says of a corpus of 27 training
    pairs (30 less 3 held out for dev) with --batch-size 64."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "train.tsv"
        data.write_text("".join(f"w {i}.\tp {i}.\n" for i in range(30)))
        return _train_command(["--data", str(data), "--runs-dir", folder,
                               "--batch-size", "64"])  # fmt: skip


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("device-runs")


@functools.cache
def _subprocess(backend, runs_dir):
    done = _python(backend, __file__, str(runs_dir / backend))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def run_of(runs_dir):
    """The subprocess's results under a backend (run once per module); its
    `seq2seq train` writes its run under `runs_dir / backend`."""
    return lambda backend: _subprocess(backend, runs_dir)


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_two_devices_follow_the_one_device_loss_curve(backend, run_of):
    one, two = run_of(backend)["trained"]
    assert len(one["losses"]) == len(two["losses"]) == STEPS
    # The curve really moves (same batch, epochs 1 and 3), so agreeing on
    # it means something.
    assert one["losses"][-1] < 0.95 * one["losses"][3]
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=RTOL)
    # Every weight has a copy on each of the 2 devices, and only 1 before.
    assert all(len(d) == 2 for d in two["devices"]), two["devices"]
    assert all(len(d) == 1 for d in one["devices"]), one["devices"]


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_seq2seq_train_on_two_devices_writes_a_usable_run(
    backend, run_of, runs_dir, capsys
):
    trained = run_of(backend)["dates_run"]
    assert trained["code"] == 0, trained["stderr"][-3000:]
    assert "stopped at step 4" in trained["stderr"]
    # Translated here, on one device of this process' backend: the run is
    # a plain run, whatever trained it.
    from keras_seq2seq.cli import main

    run = runs_dir / backend / "dates"
    assert main(["translate", str(run), "9/5/18"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def _rows_per_replica():
    """How many rows of a global batch of 8 each of 2 replicas' steps gets
    from the tool's `train_step` (TensorFlow; a probe model's step returns
    its batch's row count, averaged over the replicas)."""
    import keras
    import tensorflow as tf

    from keras_seq2seq.nmt.devices import distribute, train_step

    class Probe(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, _ = data
            return {"rows": tf.cast(tf.shape(x)[0], "float32")}

    with distribute(2):
        model = Probe()
        model.build((None, 3))
        model.compile(optimizer="sgd", loss="mse")
        x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
        return float(train_step(model, x, y)["rows"])


def test_tensorflow_step_gives_each_device_half_the_batch(run_of):
    # Keras' train_on_batch would give each replica all 8 rows; the tool's
    # step must split them (the replicas' row counts are averaged).
    assert run_of("tensorflow")["rows_per_replica"] == 4.0


# What `distribute(2)` refuses with on PyTorch, in a fresh process.
TORCH_REFUSAL = """
from keras_seq2seq.nmt.devices import distribute
from keras_seq2seq.nmt.run_error import RunError
try:
    with distribute(2):
        pass
except RunError as e:
    print(e)
"""


def test_torch_is_refused_with_one_line():
    done = _python("torch", "-c", TORCH_REFUSAL, timeout=120)
    lines, err = done.stdout.strip().splitlines(), done.stderr
    assert len(lines) == 1, err
    assert "KERAS_BACKEND=jax or tensorflow" in lines[0]


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_a_corpus_smaller_than_a_batch_that_does_not_split_is_named(
    backend, run_of
):
    # Its one batch is the whole corpus, whatever --batch-size says: the
    # error must say so, not ask for a --batch-size that 2 divides (64).
    small = run_of(backend)["small_corpus"]
    assert small["code"] == 1
    [line] = [x for x in small["stderr"].splitlines() if "error" in x]
    assert "gives 27 training pairs, fewer than --batch-size 64" in line
    assert "--batch-size 26" in line


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_more_devices_than_exist_is_refused(backend, run_of):
    # The runtime has started with its devices before the request.
    refusal = run_of(backend)["refusal_of_64"]
    assert refusal is not None, "distribute(64) was not refused"
    assert len(refusal.splitlines()) == 1 and "more devices than" in refusal


if __name__ == "__main__":
    _main(sys.argv[1])
