"""What a demanding user meets, seventh round: training. A resume of a
run that reached its `--max-steps` or used its `--max-minutes`, or that
keeps fewer checkpoints; a `--batch-size` that does not split over
`--devices`; an infinite `--clip-norm` or `--learning-rate`; a NaN loss
early in a validation period; TensorBoard's x axis.

Each test pins one defect, on the tiny run of `conftest.py` or its
corpus; none trains a model (one builds it, then its steps are NaN).
"""

import json
import shutil

import pytest
from cli_support import ERROR, TINY, one_error_line, train_argv
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from keras_seq2seq.cli import main


def _copy(trained_run, tmp_path):
    """A copy of the session's run (step 4 of its 4 steps) and its files'
    bytes, in `tmp_path/runs/copy`."""
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    return run, {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


# --- 1. A resume with nothing left to train ---


def test_resuming_a_run_at_its_step_limit_is_one_error_line(
    trained_run, tmp_path, capsys
):
    run, kept = _copy(trained_run, tmp_path)
    state = json.loads((run / "state.json").read_text())
    assert state["step"] == 4  # its --max-steps
    # It loaded the run, trained nothing and exited 0.
    assert main(train_argv(tmp_path, "--name", "copy", "--resume")) == 1
    one_error_line(capsys, "step 4", "nothing to train", "--max-steps above 4")
    assert {p: p.read_bytes() for p in kept} == kept


def test_resuming_a_run_whose_time_budget_is_used_is_one_error_line(
    trained_run, tmp_path, capsys
):
    run, _ = _copy(trained_run, tmp_path)
    state = json.loads((run / "state.json").read_text())
    state["seconds"] = 150.0  # 2.5 minutes trained
    (run / "state.json").write_text(json.dumps(state))
    kept = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    argv = train_argv(tmp_path, "--name", "copy", "--resume")
    # It trained one more step, then stopped on the same budget.
    assert main([*argv, "--max-steps", "9", "--max-minutes", "2"]) == 1
    one_error_line(capsys, "2.5 min", "--max-minutes above 2.5")
    assert {p: p.read_bytes() for p in kept} == kept


# --- 2. A batch that does not split over the devices ---


def test_a_batch_that_does_not_split_over_devices_fails_first(
    corpus, tmp_path, capsys, monkeypatch
):
    def read(*args, **kwargs):
        raise AssertionError("the corpus was read before the refusal")

    # The first step refused it, after the corpus and the vocabularies.
    monkeypatch.setattr("keras_seq2seq.nmt.corpus.load", read)
    argv = train_argv(tmp_path, "--data", str(corpus / "train.tsv"))
    assert main([*argv, "--batch-size", "15", "--devices", "2"]) == 1
    one_error_line(capsys, "batch_size 15", "2 devices", "--batch-size")
    assert not (tmp_path / "runs").exists()


# --- 3. What a resume may change ---


def test_a_resume_may_keep_fewer_checkpoints(
    trained_run, tmp_path, capsys, no_training
):
    _copy(trained_run, tmp_path)
    argv = train_argv(tmp_path, "--name", "copy", "--resume")
    # "cannot change keep_checkpoints 1: the run's model, vocabularies
    # and data order fix them": pruning changes none of them.
    argv += ["--max-steps", "9", "--keep-checkpoints", "1"]
    assert main(argv) == 130  # no_training's Ctrl-C
    assert len(no_training) == 1
    err = capsys.readouterr().err
    assert "--keep-checkpoints 1" in err  # in the command that goes on


# --- 4. Optimizer values at their edges ---


@pytest.mark.parametrize("flag", ["--clip-norm", "--learning-rate"])
def test_an_infinite_optimizer_value_fails_before_the_run_folder(
    flag, tmp_path, capsys
):
    # --clip-norm inf ("no clipping") trained to a NaN loss and said
    # "lower --learning-rate".
    assert main(train_argv(tmp_path, "--name", "inf", flag, "inf")) == 1
    one_error_line(capsys, flag[2:].replace("-", "_"), "finite")
    assert not (tmp_path / "runs").exists()


def test_a_nan_loss_stops_the_run_at_its_step(
    corpus, tmp_path, capsys, monkeypatch
):
    steps = []

    def nan_step(model, x, y):
        steps.append(len(y))
        return {"loss": float("nan")}

    monkeypatch.setattr("keras_seq2seq.nmt.train.train_step", nan_step)
    argv = train_argv(tmp_path, "--data", str(corpus / "train.tsv"), *TINY)
    argv += ["--tokenizer", "char", "--validate-every", "50"]
    assert main(argv) == 1
    # It trained on to the end of the validation period (500 by default).
    assert len(steps) == 1
    *_, last = capsys.readouterr().err.strip().splitlines()
    assert last.startswith(ERROR) and "NaN at step 1" in last, last
    assert not (tmp_path / "runs").exists()


# --- 5. What a run leaves on disk ---


def test_tensorboard_plots_the_dev_scores_at_their_steps(trained_run):
    logs = EventAccumulator(str(trained_run / "tensorboard" / "train"))
    logs.Reload()
    steps = [event.step for event in logs.Scalars("epoch_dev_bleu")]
    # Validations at steps 2 and 4 were plotted at 0 and 1 (their index).
    assert steps == [2, 4]  # as metrics.csv has them
