"""Checkpoints are atomic, and `--resume` continues a killed run exactly.

The training process is killed with SIGKILL (no clean-up runs) once it has
written two checkpoints; `--resume` must go on from the newest complete
one with its step counter and optimizer state.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest
from cli_support import TINY

from keras_seq2seq import Seq2Seq
from keras_seq2seq.cli import main
from keras_seq2seq.nmt import run_folder, train
from keras_seq2seq.nmt.devices import train_step
from keras_seq2seq.nmt.interrupts import (
    Terminated,
    interrupts_held,
    sigterm_as_ctrl_c,
)
from keras_seq2seq.nmt.validator import Validator


def _state(run):
    try:
        return json.loads((run / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


def test_resume_after_sigkill_keeps_step_and_optimizer_state(corpus, tmp_path):
    argv = [
        "train",
        "--data",
        str(corpus / "train.tsv"),
        "--runs-dir",
        str(tmp_path),
        "--name",
        "killed",
        "--tokenizer",
        "char",
        "--max-steps",
        "100000",
        "--validate-every",
        "2",
        *TINY,
    ]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_seq2seq.cli", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    run = tmp_path / "killed"
    try:
        deadline = time.monotonic() + 240
        while (_state(run) or {}).get("step", 0) < 4:
            assert process.poll() is None, "training ended early"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = _state(run)["step"]
    checkpoint = run / "checkpoints" / _state(run)["checkpoint"]
    saved = run_folder.load_model(checkpoint, compile=True)
    assert int(saved.optimizer.iterations) == killed_at
    moments = [
        v
        for v in saved.optimizer.variables
        if "momentum" in v.path or "velocity" in v.path
    ]
    assert moments and all(
        np.any(keras.ops.convert_to_numpy(v) != 0) for v in moments
    )  # a fresh optimizer's moments are all zero

    code = main(
        [
            "train",
            "--resume",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "killed",
            "--max-steps",
            str(killed_at + 2),
        ]
    )
    assert code == 0
    state = _state(run)
    assert state["step"] == killed_at + 2
    steps = [row["step"] for row in state["metrics"]]
    assert steps == list(range(2, killed_at + 3, 2))  # no gap, no repeat
    resumed = run_folder.load_model(
        run_folder.checkpoints(run)[-1], compile=True
    )
    assert int(resumed.optimizer.iterations) == killed_at + 2
    assert not list(run.rglob(".tmp-*"))  # leftovers of the kill removed


def test_checkpoint_write_that_dies_leaves_the_old_file(tmp_path, monkeypatch):
    sizes = dict(embedding_dim=4, encoder_units=4, decoder_units=4)
    model = Seq2Seq(9, 10, **sizes, attention_units=4, attention_layer_size=4)
    model.build()
    target = tmp_path / "model.keras"
    run_folder.save_model(model, target)
    before = target.read_bytes()

    def dying_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as half:
            half.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # the process dies mid-write

    monkeypatch.setattr(keras.Model, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run_folder.save_model(model, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    assert isinstance(run_folder.load_model(target), keras.Model)


@pytest.fixture
def ctrl_c():
    """Ctrl-C raises `KeyboardInterrupt`, as in a terminal: a process
    started in the background by a shell (`make -j`, `cmd &`) inherits
    SIGINT ignored, and Python then installs no handler for it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _train_r(corpus, tmp_path, max_steps, every):
    """`seq2seq train` of run "r" on the small corpus; its exit status."""
    argv = ["train", "--data", str(corpus / "train.tsv"), "--runs-dir",
            str(tmp_path), "--name", "r", "--vocab-size", "120",
            "--max-steps", str(max_steps), "--validate-every", str(every),
            *TINY]  # fmt: skip
    return main(argv)


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_while_a_checkpoint_is_written_keeps_the_run_files_agreeing(
    corpus, tmp_path, monkeypatch, capsys
):
    # Ctrl-C between metrics.csv and state.json left state.json one
    # validation behind the checkpoint, model.keras and metrics.csv it had
    # written: a resume then repeated steps the metrics already held.
    written = run_folder.write_text
    metrics = []

    def write_text(path, text):
        written(path, text)
        if path.name == "metrics.csv":
            metrics.append(text)
            if len(metrics) == 2:  # the validation at step 4
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(run_folder, "write_text", write_text)
    assert _train_r(corpus, tmp_path, max_steps=6, every=2) == 130
    run = tmp_path / "r"
    state = _state(run)
    assert state["step"] == 4
    assert state["checkpoint"] == "step-0000004.keras"
    assert [row["step"] for row in state["metrics"]] == [2, 4]
    assert (run / "metrics.csv").read_text() == metrics[-1]
    assert "--resume" in capsys.readouterr().err


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_between_validations_checkpoints_the_step_reached(
    corpus, tmp_path, monkeypatch, capsys
):
    # Ctrl-C at step 7 of a run validating every 4 steps kept the
    # checkpoint of step 4: the 3 steps since were trained again. Now the
    # interrupt scores dev at step 7 and checkpoints it, and the resume
    # validates at step 8 as the run would have. A second Ctrl-C while
    # dev is scored stops at once.
    trained, signalled = [], []

    def step_then_ctrl_c(model, x, y):
        logs = train_step(model, x, y)
        trained.append(1)
        if len(trained) in (7, 9):  # a signal arriving during the step
            signalled.append(len(trained))
            os.kill(os.getpid(), signal.SIGINT)
        return logs

    score = Validator._score

    def score_or_ctrl_c_again(self):
        if signalled == [7, 9]:
            os.kill(os.getpid(), signal.SIGINT)
        return score(self)

    monkeypatch.setattr(train, "train_step", step_then_ctrl_c)
    monkeypatch.setattr(Validator, "_score", score_or_ctrl_c_again)
    assert _train_r(corpus, tmp_path, max_steps=10, every=4) == 130
    run = tmp_path / "r"
    state = _state(run)
    assert (state["step"], state["checkpoint"]) == (7, "step-0000007.keras")
    assert [row["step"] for row in state["metrics"]] == [4, 7]
    checkpoint = run / "checkpoints" / state["checkpoint"]
    saved = run_folder.load_model(checkpoint, compile=True)
    assert int(saved.optimizer.iterations) == 7
    err = capsys.readouterr().err
    assert "stopping at step 7: scoring dev" in err, err
    assert f"{run} keeps its checkpoint of step 7; continue it with" in err
    assert "not kept" not in err

    assert main(["train", "--resume", "--runs-dir", str(tmp_path),
                 "--name", "r"]) == 130  # fmt: skip
    assert [row["step"] for row in _state(run)["metrics"]] == [4, 7, 8]
    err = capsys.readouterr().err
    assert "stopping at step 9: scoring dev" in err, err
    assert (
        f"{run} keeps its checkpoint of step 8 (training reached step 9: the "
        "1 step since it is not kept;"
    ) in err, err


@pytest.mark.usefixtures("ctrl_c")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupts_held_hold_a_signal_that_another_thread_receives(signum):
    # With other threads running (TensorFlow's and JAX's pools), the
    # kernel gave the signal to one of them when the main thread blocked
    # it, and Python raised in the main thread inside the block all the
    # same.
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    done = []
    try:
        with sigterm_as_ctrl_c(), pytest.raises(KeyboardInterrupt) as raised:
            with interrupts_held():
                os.kill(os.getpid(), signum)
                time.sleep(0.2)  # Python runs handlers between bytecodes
                done.append("the block")
    finally:
        stop.set()
        thread.join()
    assert done == ["the block"]
    assert isinstance(raised.value, Terminated) == (signum == signal.SIGTERM)
