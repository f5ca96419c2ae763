"""What a demanding user meets, fifth round, resuming: a corpus edited
under a run, a corpus moved, a run saved with relative corpus paths
resumed from elsewhere, a checkpoint deleted; and corpora with a line
separator inside a sentence or pairs over the length limits.

Each test pins one defect. The resumes train nothing: the training loop is
replaced where the resume would start it. What the tool writes (evaluate,
average, translate, serve) is in test_user_sessions_5_outputs.py.
"""

import fcntl
import json
import os
import shutil
import signal
import time

import pytest
import yaml
from cli_support import one_error_line, warning_lines

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import corpus as corpus_lib
from keras_seq2seq.nmt.data import read_pairs


@pytest.fixture
def resumed(monkeypatch):
    """Replaces the training loop: records the run and state a resume
    reached it with, then stops as Ctrl-C would (exit 130)."""
    seen = []

    def record(run, model, encoded, dev, state):
        seen.append((run, state))
        raise KeyboardInterrupt

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", record)
    return seen


def _run_on_copies(trained_run, corpus, folder):
    """A copy of the session's run in `folder/runs/copy`, whose config
    names copies of its corpus files in `folder`."""
    run = shutil.copytree(trained_run, folder / "runs" / "copy")
    config = yaml.safe_load((run / "config.yaml").read_text())
    for key in ("data", "dev"):
        config[key] = [str(shutil.copy(p, folder)) for p in config[key]]
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return run


def _resume(run, *extra):
    argv = ["train", "--resume", "--runs-dir", str(run.parent)]
    return main([*argv, "--name", run.name, *extra])


# --- 1. A corpus edited since the run started ---


def test_resume_refuses_a_corpus_whose_pairs_changed(
    trained_run, corpus, tmp_path, capsys, resumed
):
    run = _run_on_copies(trained_run, corpus, tmp_path)
    train = tmp_path / "train.tsv"
    original = train.read_bytes()
    kept = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    train.write_bytes(original + b"One more.\tUno mas.\n")
    assert _resume(run) == 1
    line = one_error_line(capsys, str(train), "not the one the run started")
    assert "another --name" in line
    # The same number of pairs, one of them edited: still refused.
    edited = original.replace(b"\t", b"\tX ", 1)
    train.write_bytes(edited)
    assert _resume(run) == 1
    one_error_line(capsys, "as many train pairs", "another order")
    # The same pairs in another order: another data order, refused too.
    lines = original.splitlines(keepends=True)
    train.write_bytes(b"".join(lines[1:] + lines[:1]))
    assert _resume(run) == 1
    one_error_line(capsys, "as many train pairs")
    # The dev file counts too.
    (tmp_path / "dev.tsv").write_text("Go.\tVe.\n")
    train.write_bytes(original)
    assert _resume(run) == 1
    one_error_line(capsys, str(tmp_path / "dev.tsv"), "1 dev pairs")
    assert {p: p.read_bytes() for p in kept} == kept and not resumed


def test_resume_accepts_the_same_pairs_in_other_bytes(
    trained_run, corpus, tmp_path, capsys, resumed
):
    run = _run_on_copies(trained_run, corpus, tmp_path)
    train = tmp_path / "train.tsv"
    # What an editor or a copy changes without changing a pair: a
    # byte-order mark, Windows line endings, blank lines, the file time.
    text = train.read_text(encoding="utf-8").replace("\n", "\r\n\r\n")
    train.write_text("\ufeff" + text, encoding="utf-8", newline="")
    os.utime(train, (1, 1))
    assert _resume(run) == 130
    [(_, state)] = resumed
    assert (
        state["corpus"]
        == json.loads((run / "state.json").read_text())["corpus"]
    )


def test_a_new_run_records_the_fingerprint_of_its_pairs(trained_run, corpus):
    state = json.loads((trained_run / "state.json").read_text())
    config = config_lib.resolve({}, {"data": [str(corpus / "train.tsv")]})
    pairs = corpus_lib.load(config)
    assert state["corpus"] == corpus_lib.fingerprint(config, *pairs)
    assert state["corpus"]["dev"]["pairs"] == 12  # dev.tsv beside train.tsv


def test_resume_may_say_where_the_runs_corpus_moved(
    trained_run, corpus, tmp_path, capsys, resumed
):
    run = _run_on_copies(trained_run, corpus, tmp_path)
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        os.replace(tmp_path / name, moved / name)
    assert _resume(run) == 1
    one_error_line(capsys, str(tmp_path / "train.tsv"), "--data")
    data = ["--data", str(moved / "train.tsv"), "--dev", str(moved / "dev.tsv")]
    assert _resume(run, *data) == 130
    assert "the run's corpus is now" in capsys.readouterr().err
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["data"] == [str(moved / "train.tsv")]
    assert config["batch_size"] == 16  # the rest of the config is the run's
    # Other pairs at the new place are refused, as an edit is.
    (moved / "train.tsv").write_text("Go.\tVe.\n" * 40)
    assert _resume(run, *data) == 1
    one_error_line(capsys, "40 train pairs")


def test_a_held_out_dev_set_stays_held_out_when_dev_tsv_appears(
    trained_run, corpus, tmp_path, capsys, resumed
):
    run = _run_on_copies(trained_run, corpus, tmp_path)
    (tmp_path / "dev.tsv").unlink()
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["dev"], config["dev_size"] = None, 5
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    state = json.loads((run / "state.json").read_text())
    held_out = config_lib.from_run(config)
    state["corpus"] = corpus_lib.fingerprint(
        held_out, *corpus_lib.load(held_out)
    )
    (run / "state.json").write_text(json.dumps(state))
    shutil.copy(corpus / "dev.tsv", tmp_path / "dev.tsv")  # added later
    assert _resume(run) == 130
    [(resumed_run, _)] = resumed
    assert resumed_run.config.dev is None


# --- 2. A run saved with relative corpus paths (before they were absolute)


def _old_run(trained_run, corpus, start):
    """The session's run as an older tool saved it, started in `start`
    with `--data train.tsv`: relative paths, no fingerprint."""
    run = _run_on_copies(trained_run, corpus, start)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config.update(data=["train.tsv"], dev=["dev.tsv"], runs_dir="runs")
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    state = json.loads((run / "state.json").read_text())
    del state["corpus"]
    (run / "state.json").write_text(json.dumps(state))
    return run


def test_an_old_run_with_relative_corpus_paths_resumes_from_anywhere(
    trained_run, corpus, tmp_path, monkeypatch, capsys, resumed
):
    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    start.mkdir()
    elsewhere.mkdir()
    run = _old_run(trained_run, corpus, start)
    monkeypatch.chdir(elsewhere)
    argv = ["train", "--resume", "--runs-dir", "../start/runs"]
    assert main([*argv, "--name", "copy"]) == 130
    [(resumed_run, state)] = resumed
    assert resumed_run.config.data == [str(start / "train.tsv")]
    assert state["corpus"]["train"]["pairs"] > 0  # recorded from now on
    # Saved absolute, as a new run saves them: found from any folder.
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["data"] == [str(start / "train.tsv")]
    assert config["dev"] == [str(start / "dev.tsv")]
    assert "config.yaml" in capsys.readouterr().err


def test_an_old_runs_corpus_can_be_named_when_its_folder_is_unknown(
    trained_run, corpus, tmp_path, monkeypatch, capsys, resumed
):
    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    start.mkdir()
    elsewhere.mkdir()
    run = _old_run(trained_run, corpus, start)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["runs_dir"] = str(elsewhere)  # absolute: says nothing of start
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.chdir(elsewhere)
    assert _resume(run) == 1
    one_error_line(capsys, "train.tsv", "started in", "--data")
    # The run's file named from here is accepted; another file is not.
    other = shutil.copy(start / "train.tsv", elsewhere / "other.tsv")
    dev = ["--dev", "../start/dev.tsv"]
    assert _resume(run, "--data", str(other), *dev) == 1
    one_error_line(capsys, "--resume cannot change data")
    assert _resume(run, "--data", "../start/train.tsv", *dev) == 130


# --- Found using the tool: a line separator inside a sentence ---


def test_a_separator_inside_a_sentence_does_not_shift_the_pairs(tmp_path):
    # str.splitlines ends lines at U+2028, U+0085, form feeds...: one more
    # line in each file kept the counts equal and shifted the pairs.
    source, target = tmp_path / "train.en", tmp_path / "train.es"
    source.write_text("a1\r\na2\u2028x\r\na3\r\n", encoding="utf-8")
    target.write_text("b1\nb2\nb3\x85y\x0c\n", encoding="utf-8")
    assert read_pairs([str(source), str(target)]) == [
        ("a1", "b1"),
        ("a2\u2028x", "b2"),
        ("a3", "b3\x85y"),
    ]


# --- Found using the tool: a resume whose checkpoint is gone ---


def test_resume_without_its_checkpoint_says_the_run_cannot_go_on(
    trained_run, tmp_path, capsys, resumed
):
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    state = json.loads((run / "state.json").read_text())
    (run / "checkpoints" / state["checkpoint"]).unlink()
    assert _resume(run) == 1
    line = one_error_line(capsys, state["checkpoint"], "another --name")
    assert "--resume it" not in line
    del state["checkpoint"]
    (run / "state.json").write_text(json.dumps(state))
    assert _resume(run) == 1
    one_error_line(capsys, "state.json is corrupt")
    assert (run / "model.keras").is_file() and not resumed


def test_dropped_long_pairs_are_counted_with_the_limits(
    tmp_path, capsys, resumed
):
    train, dev = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    pairs = [f"word {i}.\tpalabra {i}.\n" for i in range(30)]
    train.write_text("".join(pairs) + "x" * 500 + "\ty\n", encoding="utf-8")
    dev.write_text("".join(pairs[:3]), encoding="utf-8")
    argv = ["train", "--data", str(train), "--dev", str(dev), "--tokenizer"]
    argv += ["char", "--runs-dir", str(tmp_path / "runs")]
    assert main(argv) == 130  # the replaced loop stops it
    err = capsys.readouterr().err
    assert "dropped 1 of 31 training pairs: longer than" in err
    assert "--max-source-length 80 or --max-target-length 80 tokens" in err


# --- Found using the tool: a corpus saved as UTF-16 ---


def test_a_utf16_file_is_named_as_such(trained_run, tmp_path, capsys):
    # Windows "Unicode" text, as Windows PowerShell's `>` writes it.
    train = tmp_path / "train.tsv"
    train.write_bytes("Go.\tVe.\n".encode("utf-16"))
    argv = ["train", "--data", str(train), "--runs-dir", str(tmp_path)]
    assert main(argv) == 1
    one_error_line(capsys, str(train), "is UTF-16", "save it as UTF-8")
    text = tmp_path / "input.txt"
    text.write_bytes("Go.\n".encode("utf-16"))
    assert main(["translate", str(trained_run), "--input", str(text)]) == 1
    one_error_line(capsys, str(text), "is UTF-16")


# --- Found using the tool: `timeout` or a job scheduler stops a run ---


def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path, monkeypatch, capsys):
    def checkpoint_then_sigterm(run, model, encoded, dev, state):
        if run.config.max_steps == 7:  # the second run: a checkpoint first
            state["step"] = 2
            (run.path / "state.json").write_text(json.dumps(state))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this

    def unhandled(signum, frame):  # the test's: train must set its own
        raise AssertionError("train left SIGTERM to the test's handler")

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", checkpoint_then_sigterm)
    train = tmp_path / "train.tsv"
    train.write_text("".join(f"w {i}.\tp {i}.\n" for i in range(30)))
    argv = ["train", "--data", str(train), "--tokenizer", "char"]
    argv += ["--runs-dir", str(tmp_path / "runs"), "--name", "r"]
    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        assert main(argv) == 143  # 128 + SIGTERM, as a shell reports it
        assert not (tmp_path / "runs").exists()  # no checkpoint: removed
        capsys.readouterr()
        assert main([*argv, "--max-steps", "7"]) == 143
        assert signal.getsignal(signal.SIGTERM) is unhandled  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    assert "keeps its checkpoint of step 2" in err and "--resume" in err


# --- Found using the tool: a second train on a run that still trains ---


def test_a_run_that_trains_is_not_trained_twice(
    trained_run, tmp_path, capsys, resumed
):
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    held = os.open(run, os.O_RDONLY)  # as the training process holds it
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        kept = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        assert _resume(run) == 1
        one_error_line(capsys, str(run), "another seq2seq process")
        # A new run into it, before the first checkpoint (no state.json).
        (run / "state.json").unlink()
        del kept[run / "state.json"]
        argv = ["train", "--runs-dir", str(run.parent), "--name", "copy"]
        assert main([*argv, "--tokenizer", "char"]) == 1
        one_error_line(capsys, "another seq2seq process")
        assert {p: p.read_bytes() for p in kept} == kept and not resumed
    finally:
        os.close(held)


def test_ctrl_c_in_a_resume_says_the_options_it_was_given(
    trained_run, tmp_path, capsys, resumed
):
    # config.yaml keeps the run's own max_steps and patience: a resume
    # command without the ones given would stop at the run's.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    assert _resume(run, "--max-steps", "900", "--patience", "30") == 130
    err = capsys.readouterr().err
    assert f"--runs-dir {run.parent} --max-steps 900 --patience 30`" in err


# --- Found using the tool: resuming a run that stopped on its own ---


def test_resuming_a_run_that_stopped_says_it_will_stop_again(
    trained_run, corpus, tmp_path, capsys, resumed
):
    run = _run_on_copies(trained_run, corpus, tmp_path)
    patience = yaml.safe_load((run / "config.yaml").read_text())["patience"]
    state = json.loads((run / "state.json").read_text())
    state["bad_validations"] = patience  # as the run left it, stopping
    (run / "state.json").write_text(json.dumps(state))
    assert _resume(run) == 130
    [line] = warning_lines(capsys)
    assert f"no better dev score in its last {patience} validations" in line
    assert f"--patience above {patience}" in line
    assert _resume(run, "--patience", str(patience + 3)) == 130
    assert warning_lines(capsys) == []
    # A run that stopped on reaching its dev exact-match target.
    state["bad_validations"] = 0
    state["metrics"][-1]["exact_match"] = 0.75
    (run / "state.json").write_text(json.dumps(state))
    assert _resume(run, "--target-exact-match", "0.5") == 130
    [line] = warning_lines(capsys)
    assert "dev exact match reached 50%" in line
    assert "--target-exact-match" in line
    assert _resume(run, "--target-exact-match", "0.9") == 130
    assert warning_lines(capsys) == []
