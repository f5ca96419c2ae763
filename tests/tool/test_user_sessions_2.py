"""More of what a new user meets: run names, config files, corpus headers.

Each test pins a defect found by using the tool as a user would (a run
name that climbs out of `--runs-dir`, a key written twice in a YAML file,
a TSV corpus that starts with column names, ...). None trains a model:
the training loop is replaced where a command would start it, and the
tiny run of `conftest.py` serves the commands that need one.
"""

import json
import shutil

import pytest
from cli_support import one_error_line, warning_lines

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import corpus as corpus_lib
from keras_seq2seq.nmt import run_folder
from keras_seq2seq.nmt.data import read_pairs
from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.translator import Translator


@pytest.fixture
def no_training(monkeypatch):
    """Replaces the training loop: records what it was given instead."""
    seen = []

    def record(run, model, encoded, dev, state):
        seen.append((run, encoded, dev))
        raise KeyboardInterrupt  # the run stops before its first checkpoint

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", record)
    return seen


# --- 1. A run name is one folder inside --runs-dir ---


@pytest.mark.parametrize(
    "name", ["../escaped", "{tmp}/absolute", "a/b", "", ".", ".."]
)
def test_run_name_outside_runs_dir_is_refused_before_writing(
    name, corpus, tmp_path, capsys, no_training
):
    work = tmp_path / "work"
    runs = work / "runs"
    runs.mkdir(parents=True)
    name = name.format(tmp=work)
    argv = ["train", "--data", str(corpus / "train.tsv"), "--runs-dir"]
    argv += [str(runs), "--name", name, "--tokenizer", "char"]
    assert main(argv) == 1
    one_error_line(capsys, "name", repr(name))
    assert not no_training  # refused before the run was prepared
    assert [p.name for p in work.rglob("*")] == ["runs"]
    assert not any(runs.iterdir())


def test_run_name_is_checked_in_the_config_file_and_on_resume(
    tmp_path, capsys, no_training
):
    runs = tmp_path / "runs"
    config = tmp_path / "run.yaml"
    config.write_text("name: ../outside\n")
    argv = ["train", "--config", str(config), "--runs-dir", str(runs)]
    assert main(argv) == 1
    one_error_line(capsys, "name", "'../outside'")
    argv = ["train", "--resume", "--runs-dir", str(runs), "--name", "../x"]
    assert main(argv) == 1
    one_error_line(capsys, "name", "'../x'")
    assert not runs.exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "name", ["dates", "my run", "en-es.v2", "...", "-x", "run_1", "ünï"]
)
def test_plain_folder_names_stay_valid_run_names(name):
    assert config_lib.resolve({}, {"name": name}).name == name


# --- 2. A key written twice in a YAML config file ---


def test_duplicate_config_key_is_one_line_naming_key_and_lines(
    tmp_path, capsys, no_training
):
    path = tmp_path / "run.yaml"
    path.write_text("batch_size: 32\ncell: lstm\n\nbatch_size: 64\n")
    argv = ["train", "--config", str(path), "--runs-dir", str(tmp_path / "r")]
    assert main(argv) == 1
    one_error_line(capsys, str(path), "'batch_size'", "line 4", "line 1")
    assert not (tmp_path / "r").exists()


def test_distinct_keys_and_nested_lists_still_read(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("columns: [1, 0]\ndata:\n  - a.tsv\nbatch_size: 8\n")
    assert config_lib.read_yaml(path) == {
        "columns": [1, 0],
        "data": ["a.tsv"],
        "batch_size": 8,
    }


# --- 3. A TSV corpus whose first line names its columns ---

HEADED = "english\tspanish\nGo.\tVe.\nHi.\tHola.\n"


def test_header_option_skips_the_first_line_of_each_file(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("\n" + HEADED)  # the header is the first non-blank line
    pairs = [("Go.", "Ve."), ("Hi.", "Hola.")]
    assert read_pairs([str(tsv)], header=True) == pairs
    assert read_pairs([str(tsv)], (1, 0), True, header=True) == pairs
    source, target = tmp_path / "a.en", tmp_path / "a.es"
    source.write_text("english\nGo.\nHi.\n")
    target.write_text("spanish\nVe.\nHola.\n")
    assert read_pairs([str(source), str(target)], header=True) == pairs
    # Line numbers in errors still count the header.
    tsv.write_text("source\ttarget\nGo.\tVe.\nno tab\n")
    with pytest.raises(RunError, match="line 3 has no tab"):
        read_pairs([str(tsv)], header=True)
    tsv.write_text("source\ttarget\n")
    with pytest.raises(RunError, match="no pairs after its header"):
        read_pairs([str(tsv)], header=True)


def test_without_the_option_a_header_is_a_pair_and_a_warning(tmp_path, capsys):
    tsv = tmp_path / "pairs.tsv"
    for header in ("english\tspanish", "source\ttarget", "EN\tES", "src\ttgt"):
        tsv.write_text(header + "\nGo.\tVe.\n")
        pairs = read_pairs([str(tsv)])
        assert pairs[0] == tuple(header.split("\t")) and len(pairs) == 2
        [warning] = capsys.readouterr().err.splitlines()
        assert warning.startswith("seq2seq: warning: "), warning
        assert f"{tsv} line 1" in warning and "--header" in warning
    for first in ("Go.\tVe.", "hello\thola", "English\tInglés.", "no\tno"):
        tsv.write_text(first + "\nHi.\tHola.\n")
        assert read_pairs([str(tsv)])[0] == tuple(first.split("\t"))
        assert capsys.readouterr().err == ""
    tsv.write_text("english\tspanish\nGo.\tVe.\n")
    read_pairs([str(tsv)], header=True)  # skipped: nothing to warn about
    assert capsys.readouterr().err == ""


def test_train_header_flag_reaches_train_and_dev_and_the_run_config(
    tmp_path, capsys, no_training
):
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = [f"I have {n} cats.\tTengo {n} gatos.\n" for n in range(40)]
    (folder / "train.tsv").write_text("english\tspanish\n" + "".join(lines))
    (folder / "dev.tsv").write_text("english\tspanish\n" + "".join(lines[:5]))
    runs = tmp_path / "runs"
    argv = ["train", "--data", str(folder / "train.tsv"), "--runs-dir"]
    argv += [str(runs), "--tokenizer", "char", "--header"]
    assert main(argv) == 130
    [(run, encoded, dev)] = no_training
    assert len(encoded) == 40
    assert dev == [(f"I have {n} cats.", f"Tengo {n} gatos.") for n in range(5)]
    assert run.config.header is True
    assert "english" not in capsys.readouterr().err  # no header warning
    config = config_lib.resolve({"header": True}, {"data": ["a.tsv"]})
    assert config.header and not config_lib.resolve({}, {}).header
    # A run folder written before the key existed reads as no header.
    assert config_lib.from_run({"name": "old"}).header is False


def test_resume_reads_the_corpus_with_the_runs_header_setting(tmp_path):
    tsv = tmp_path / "train.tsv"
    tsv.write_text("source\ttarget\n" + "Go.\tVe.\n" * 30)
    config = config_lib.resolve({}, {"data": [str(tsv)], "header": True})
    config.dev_size = 3
    train, dev = corpus_lib.load(config)
    assert len(train) + len(dev) == 30
    assert ("source", "target") not in train + dev


def test_evaluate_header_flag_skips_the_first_line(
    trained_run, corpus, tmp_path, capsys
):
    test = tmp_path / "test.tsv"
    lines = (corpus / "test.tsv").read_text().splitlines()
    test.write_text("english\tspanish\n" + "\n".join(lines) + "\n")
    scores = tmp_path / "scores.json"
    argv = ["evaluate", str(trained_run), "--data", str(test), "--json"]
    assert main([*argv, str(scores), "--header"]) == 0
    assert json.loads(scores.read_text())["n"] == len(lines)
    assert warning_lines(capsys) == []


# --- Found using the tool: options that were dropped or overwrote work ---


@pytest.fixture
def run_copy(trained_run, tmp_path):
    """A writable copy of the session's trained run, in `tmp_path/runs`."""
    return shutil.copytree(trained_run, tmp_path / "runs" / "copy")


def test_resume_refuses_options_it_cannot_change_instead_of_ignoring(
    run_copy, capsys
):
    state = (run_copy / "state.json").read_bytes()
    resume = ["train", "--resume", "--runs-dir", str(run_copy.parent)]
    resume += ["--name", run_copy.name]
    assert main([*resume, "--batch-size", "4", "--cell", "lstm"]) == 1
    line = one_error_line(capsys, "--resume", "batch_size", "cell")
    assert "max_steps" in line  # what may change instead
    assert (run_copy / "state.json").read_bytes() == state
    # The run's own values, and the keys a resume may change, are fine.
    # (The run is at its 4 steps: a resume refuses only to train nothing.)
    assert main([*resume, "--batch-size", "16", "--max-steps", "4"]) == 1
    one_error_line(capsys, "--max-steps above 4")


def test_average_refuses_to_overwrite_the_best_model(run_copy, capsys):
    best = (run_copy / "model.keras").read_bytes()
    argv = ["average", str(run_copy), "--last", "1", "--output", "model.keras"]
    assert main(argv) == 1
    one_error_line(capsys, "model.keras", "best model")
    assert (run_copy / "model.keras").read_bytes() == best


def test_output_path_that_is_a_folder_fails_before_translating(
    trained_run, corpus, tmp_path, capsys, monkeypatch
):
    def refuse(*args, **kwargs):
        raise AssertionError("translated before checking the output paths")

    monkeypatch.setattr(Translator, "translate", refuse)
    folder = tmp_path / "scores"
    folder.mkdir()
    test = str(corpus / "test.tsv")
    for flag in ("--json", "--output"):
        argv = ["evaluate", str(trained_run), "--data", test, flag]
        assert main([*argv, str(folder)]) == 1
        one_error_line(capsys, flag, "is a folder")
    (tmp_path / "map.png").mkdir()
    argv = ["plot", str(trained_run), "Go.", "--output"]
    assert main([*argv, str(tmp_path / "map.png")]) == 1
    one_error_line(capsys, "--output", "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "scores"]


def test_a_failed_atomic_write_leaves_no_temporary_file(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(OSError):
        run_folder.write_text(tmp_path / "taken", "text")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_runs_dir_that_is_a_file_is_one_line_before_training(
    corpus, tmp_path, capsys, no_training
):
    runs = tmp_path / "runs"
    runs.write_text("not a folder\n")
    argv = ["train", "--data", str(corpus / "train.tsv"), "--runs-dir"]
    assert main([*argv, str(runs), "--tokenizer", "char"]) == 1
    one_error_line(capsys, "runs-dir", str(runs), "not a folder")
    assert not no_training and runs.read_text() == "not a folder\n"


def test_translate_input_that_is_a_folder_says_so(
    trained_run, tmp_path, capsys
):
    argv = ["translate", str(trained_run), "--input", str(tmp_path)]
    assert main(argv) == 1
    one_error_line(capsys, str(tmp_path), "is a folder")


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--port", "99999", ("--port", "65535", "99999")),
        ("--port", "-1", ("--port", "-1")),
        ("--max-beam", "0", ("--max-beam", ">= 1")),
        ("--max-sentences", "0", ("--max-sentences", ">= 1")),
        ("--max-chars", "-3", ("--max-chars", ">= 1")),
        ("--max-body-bytes", "0", ("--max-body-bytes", ">= 1")),
    ],
)
def test_serve_limits_out_of_range_fail_before_loading_the_model(
    flag, value, words, trained_run, capsys, monkeypatch
):
    def refuse(*args, **kwargs):
        raise AssertionError("loaded the model before checking the options")

    monkeypatch.setattr(Translator, "load", refuse)
    assert main(["serve", str(trained_run), flag, value]) == 1
    one_error_line(capsys, *words)
