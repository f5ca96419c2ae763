"""What a demanding user meets: a slow `--help`, two TSV files to
`--data`, a dev corpus that is the training corpus, a `--name` that is
someone else's folder.

Each test pins one defect. None trains a model: the training loop is
replaced where a command would start it.
"""

import subprocess
import sys

import pytest
from cli_support import WARNING, one_error_line, train_argv, tsv_corpus

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import corpus as corpus_lib
from keras_seq2seq.nmt.data import read_pairs
from keras_seq2seq.nmt.run_error import RunError

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


# --- 2. Two TSV files to --data ---


def test_two_tsv_files_to_data_say_what_two_files_mean(
    tmp_path, capsys, no_training
):
    train, dev = (
        tsv_corpus(tmp_path / "train.tsv", 30),
        tsv_corpus(tmp_path / "dev.tsv", 5),
    )
    argv = train_argv(tmp_path, "--data", str(train), str(dev))
    assert main(argv) == 1
    line = one_error_line(
        capsys, str(train), str(dev), "tab-separated", "source and the target"
    )
    assert line.endswith(
        "give --data one TSV file, and a dev TSV file to --dev"
    )
    assert "aligned line by line;" in line
    assert not (tmp_path / "runs").exists()


def test_two_tsv_files_are_refused_even_when_their_lengths_match(
    tmp_path, capsys, no_training
):
    # Aligned, each pair would be two whole TSV lines: nothing says so.
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    one, two = (
        tsv_corpus(tmp_path / "a.tsv", 5),
        tsv_corpus(tmp_path / "b.tsv", 5, 5),
    )
    argv = train_argv(
        tmp_path, "--data", str(train), "--dev", str(one), str(two)
    )
    assert main(argv) == 1
    line = one_error_line(capsys, "tab-separated", "two files to --dev")
    assert line.endswith("give --dev one TSV file")
    # Elsewhere (evaluate, Python) the message names no option.
    with pytest.raises(RunError, match="two corpus files .* give one TSV"):
        read_pairs([str(one), str(two)])


def test_aligned_text_files_with_a_tab_in_some_lines_still_read(tmp_path):
    source, target = tmp_path / "a.en", tmp_path / "a.es"
    source.write_text("Go.\nTab\there.\n")
    target.write_text("Ve.\tya.\nTab aqui.\n")
    assert read_pairs([str(source), str(target)]) == [
        ("Go.", "Ve.\tya."),
        ("Tab\there.", "Tab aqui."),
    ]


# --- 3. A dev corpus that is the training corpus ---


def test_dev_naming_the_training_file_warns_in_one_line(
    tmp_path, monkeypatch, capsys, no_training
):
    tsv_corpus(tmp_path / "train.tsv", 30)
    (tmp_path / "x").mkdir()
    monkeypatch.chdir(tmp_path)
    argv = train_argv(
        tmp_path, "--data", "train.tsv", "--dev", "./x/../train.tsv"
    )
    argv += ["--tokenizer", "char", "--embedding-dim", "4", "--encoder-units"]
    argv += ["4", "--decoder-units", "4", "--attention-units", "4"]
    argv += ["--attention-layer-size", "4"]
    assert main(argv) == 130  # the replaced training loop stops the run
    err = capsys.readouterr().err.strip().splitlines()
    warnings = [line for line in err if line.startswith(WARNING)]
    assert len(warnings) == 1, err
    assert "./x/../train.tsv is the training corpus" in warnings[0]
    assert "memorisation" in warnings[0] and "--dev" in warnings[0]
    [dev] = no_training
    assert len(dev) == 30  # the warning does not change what dev is


def test_a_held_out_dev_file_gets_no_warning(tmp_path, capsys):
    train, dev = (
        tsv_corpus(tmp_path / "train.tsv", 30),
        tsv_corpus(tmp_path / "d.tsv", 5),
    )
    config = config_lib.resolve({}, {"data": [str(train)], "dev": [str(dev)]})
    assert len(corpus_lib.load(config)[1]) == 5
    assert capsys.readouterr().err == ""


# --- 4. --name naming a folder that is not a run ---


def test_a_folder_that_is_not_a_run_is_not_written_into(
    tmp_path, capsys, no_training
):
    folder = tmp_path / "runs" / "thesis"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes")
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--name", "thesis")
    assert main(argv) == 1
    one_error_line(capsys, str(folder), "not a run folder", "--name")
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    assert not no_training
    # --resume cannot continue it either.
    assert main([*argv, "--resume"]) == 1
    one_error_line(capsys, str(folder), "not a run folder")
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
