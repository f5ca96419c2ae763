"""What a demanding user meets, fourth round: a config.yaml of their own
where a run would go, a failed run in their own empty folder, a dev corpus
that overlaps training (warned once, not on each resume), TSV files with a
line that lost its tab.

Each test pins one defect. Most train no model: the training loop is
replaced where a command would start it. The commands that use a run
(help, translate, evaluate) are in test_user_sessions_4_commands.py.
"""

import json
import os
import pathlib
import shutil

import pytest
import yaml
from cli_support import one_error_line, train_argv, tsv_corpus, warning_lines

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import corpus as corpus_lib
from keras_seq2seq.nmt.data import read_pairs
from keras_seq2seq.nmt.run_error import RunError

TINY_CHAR = [
    "--tokenizer", "char", "--embedding-dim", "4", "--encoder-units", "4",
    "--decoder-units", "4", "--attention-units", "4",
    "--attention-layer-size", "4",
]  # fmt: skip


# --- 1. A config.yaml someone wrote does not make a run folder ---

USER_CONFIG = "# my settings for the thesis\nbatch_size: 8\ncell: lstm\n"


def test_a_users_config_yaml_in_the_run_folder_is_never_overwritten(
    tmp_path, capsys, no_training
):
    folder = tmp_path / "runs" / "thesis"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(USER_CONFIG)
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--name", "thesis")
    for extra in ([], ["--config", str(folder / "config.yaml")]):
        assert main([*argv, *extra, *TINY_CHAR]) == 1
        line = one_error_line(capsys, str(folder), "not a run folder")
        assert "no vocabularies" in line and "--config" in line
    assert main([*argv, "--resume"]) == 1
    one_error_line(capsys, str(folder), "not a run folder", "nothing to")
    assert not no_training
    assert [p.name for p in folder.iterdir()] == ["config.yaml"]
    assert (folder / "config.yaml").read_text() == USER_CONFIG


def test_a_run_folder_without_a_checkpoint_is_still_trained_anew(
    trained_run, tmp_path, capsys, no_training
):
    # A run killed before its first checkpoint: config.yaml and
    # vocabularies, no state.json. It is the tool's, so a new run may go in.
    folder = shutil.copytree(trained_run, tmp_path / "runs" / "killed")
    (folder / "state.json").unlink()
    shutil.rmtree(folder / "checkpoints")
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--name", "killed")
    assert main([*argv, *TINY_CHAR]) == 130
    assert len(no_training) == 1
    capsys.readouterr()


# --- 5. A failed run in the user's own empty folder ---


def test_a_failed_run_empties_the_users_folder_and_keeps_it(
    tmp_path, capsys, no_training
):
    folder = tmp_path / "runs" / "mine"
    folder.mkdir(parents=True)
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--name", "mine")
    assert main([*argv, *TINY_CHAR]) == 130  # Ctrl-C before a checkpoint
    assert folder.is_dir() and list(folder.iterdir()) == []
    # The same run again is still a new run (no half run folder to refuse).
    assert main([*argv, *TINY_CHAR]) == 130
    assert len(no_training) == 2
    assert folder.is_dir() and list(folder.iterdir()) == []
    capsys.readouterr()


def test_a_failed_run_removes_the_runs_folder_it_made(
    tmp_path, capsys, no_training
):
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--name", "new")
    assert main([*argv, *TINY_CHAR]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.tsv"]
    # A runs folder that holds another run keeps it.
    other = tmp_path / "runs" / "other"
    other.mkdir(parents=True)
    assert main([*argv, *TINY_CHAR]) == 130
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["other"]
    capsys.readouterr()


# --- 3. A dev corpus that overlaps training: warned once, at the start ---


def test_dev_that_repeats_training_pairs_warns_once(
    tmp_path, capsys, no_training
):
    # dev.tsv is another file, but 20 of its 25 pairs are training pairs.
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    dev = tmp_path / "dev.tsv"
    dev.write_text(
        "".join(train.read_text().splitlines(True)[10:])
        + tsv_corpus(tmp_path / "x.tsv", 5, 100).read_text()
    )
    argv = train_argv(tmp_path, "--data", str(train), "--dev", str(dev))
    assert main([*argv, *TINY_CHAR]) == 130
    [warning] = warning_lines(capsys)
    assert f"20 of the 25 dev pairs of {dev} (80 %)" in warning
    assert "are training pairs" in warning and "memorisation" in warning


def test_dev_sharing_a_training_file_warns(tmp_path, capsys, no_training):
    # The same English file, other Spanish sentences: no pair repeats, but
    # every dev source was seen in training.
    en, es, es2 = tmp_path / "a.en", tmp_path / "a.es", tmp_path / "b.es"
    en.write_text("".join(f"word {i}.\n" for i in range(30)))
    es.write_text("".join(f"palabra {i}.\n" for i in range(30)))
    es2.write_text("".join(f"otra {i}.\n" for i in range(30)))
    argv = train_argv(tmp_path, "--data", str(en), str(es), "--dev")
    assert main([*argv, str(en), str(es2), *TINY_CHAR]) == 130
    [warning] = warning_lines(capsys)
    assert f"the dev file {en} is a training file" in warning
    # Held-out files get no warning.
    other = tmp_path / "c.en"
    other.write_text("".join(f"other {i}.\n" for i in range(30)))
    assert main([*argv, str(other), str(es2), *TINY_CHAR]) == 130
    assert warning_lines(capsys) == []


def test_resume_does_not_repeat_the_dev_warning(
    trained_run, tmp_path, capsys, no_training
):
    folder = shutil.copytree(trained_run, tmp_path / "runs" / "again")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["dev"] = config["data"]  # a run that validates on training
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    # ... and started so: its state holds the fingerprint of those pairs.
    state = json.loads((folder / "state.json").read_text())
    run_config = config_lib.from_run(config)
    pairs = corpus_lib.load(run_config, find_dev=False)
    state["corpus"] = corpus_lib.fingerprint(run_config, *pairs)
    (folder / "state.json").write_text(json.dumps(state))
    argv = train_argv(tmp_path, "--name", "again", "--resume")
    assert main(argv) == 130
    assert len(no_training) == 1
    assert warning_lines(capsys) == []


# --- 2. Tab-separated files where two aligned files go, and the reverse ---


def test_a_tsv_line_without_its_tab_does_not_hide_two_tsv_files(
    tmp_path, capsys, no_training
):
    # One line of train.tsv lost its tab; the counts match, so the files
    # read as aligned: every pair was two whole TSV lines.
    train, dev = (
        tsv_corpus(tmp_path / "train.tsv", 30),
        tsv_corpus(tmp_path / "d.tsv", 30),
    )
    lines = train.read_text().splitlines(True)
    lines[7] = lines[7].replace("\t", " ")
    train.write_text("".join(lines))
    argv = train_argv(tmp_path, "--data", str(train), str(dev), *TINY_CHAR)
    assert main(argv) == 1
    one_error_line(capsys, "both tab-separated", "--dev")
    # One TSV file alone names the line.
    assert main(train_argv(tmp_path, "--data", str(train), *TINY_CHAR)) == 1
    one_error_line(capsys, f"{train} line 8 has no tab")
    assert not no_training and not (tmp_path / "runs").exists()


def test_a_tsv_file_beside_a_plain_text_file_is_refused(
    tmp_path, capsys, no_training
):
    # Each source would be a whole "word 1.<TAB>palabra 1." line.
    tsv = tsv_corpus(tmp_path / "train.tsv", 30)
    text = tmp_path / "train.es"
    text.write_text("".join(f"palabra {i}.\n" for i in range(30)))
    for pair in ((tsv, text), (text, tsv)):
        argv = train_argv(tmp_path, "--data", *map(str, pair), *TINY_CHAR)
        assert main(argv) == 1
        line = one_error_line(capsys, f"{tsv} is a tab-separated (TSV) file")
        assert line.endswith(
            "give --data the TSV file alone, or two plain-text files"
        )
    assert not no_training and not (tmp_path / "runs").exists()


def test_one_plain_text_file_to_data_says_it_is_not_a_tsv_file(
    tmp_path, capsys, no_training
):
    text = tmp_path / "train.en"
    text.write_text("".join(f"word {i}.\n" for i in range(30)))
    assert main(train_argv(tmp_path, "--data", str(text), *TINY_CHAR)) == 1
    line = one_error_line(capsys, f"{text} has no tab on any line")
    assert "two aligned files" in line
    assert not no_training and not (tmp_path / "runs").exists()


# --- A folder or a broken file where a file goes ---


def test_a_folder_given_as_corpus_or_config_says_it_is_a_folder(
    tmp_path, capsys, no_training
):
    folder = tmp_path / "corpora"
    folder.mkdir()
    for flag in ("--data", "--dev"):
        train = tsv_corpus(tmp_path / "train.tsv", 30)
        argv = [str(folder)] if flag == "--data" else [str(train)]
        argv = train_argv(tmp_path, "--data", *argv, *TINY_CHAR)
        if flag == "--dev":
            argv += ["--dev", str(folder)]
        assert main(argv) == 1
        line = one_error_line(capsys, f"corpus file {folder} is a folder")
        assert "not found" not in line
    assert main(train_argv(tmp_path, "--config", str(folder))) == 1
    one_error_line(capsys, f"config file {folder} is a folder; give a file")
    assert not no_training and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "text, where, what",
    [
        (b"batch_size: 8\ncell: [lstm\nseed: 1\n", "line 3 column 5", "','"),
        (b"batch_size: 8\n  cell: lstm\n", "line 2 column 7", "mapping"),
        (b"batch_size: 8\nname: caf\xe9\n", "line 2", "is not UTF-8"),
    ],
    ids=["unclosed-list", "indented-key", "latin-1"],
)
def test_a_broken_config_file_names_its_line(
    tmp_path, capsys, text, where, what
):
    config = tmp_path / "run.yaml"
    config.write_bytes(text)
    assert main(train_argv(tmp_path, "--config", str(config))) == 1
    one_error_line(capsys, f"config file {config} {where}", what)


# --- Aligned files: an editor's extra newline at the end ---


def test_blank_lines_at_the_end_of_one_aligned_file_are_not_a_line(tmp_path):
    source, target = tmp_path / "a.en", tmp_path / "a.es"
    source.write_text("Go.\nHi.\n")
    target.write_text("Ve.\nHola.\n\n \n")  # wc -l: 4 lines
    assert read_pairs([str(source), str(target)]) == [
        ("Go.", "Ve."),
        ("Hi.", "Hola."),
    ]
    # A line really missing is still an error, counted without the blanks.
    target.write_text("Hola.\n\n\n")
    with pytest.raises(RunError, match="a.en has 2 lines but .*a.es has 1;"):
        read_pairs([str(source), str(target)])


# --- Ctrl-C after a checkpoint says how to go on ---


def test_ctrl_c_after_a_checkpoint_says_how_to_resume(
    tmp_path, monkeypatch, capsys
):
    def checkpoint_then_interrupt(run, model, encoded, dev, state):
        state["step"] = 40
        (run.path / "state.json").write_text(json.dumps(state))
        raise KeyboardInterrupt

    monkeypatch.setattr(
        "keras_seq2seq.nmt.train._fit", checkpoint_then_interrupt
    )
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--name", "my run")
    assert main([*argv, *TINY_CHAR]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2:] == [
        f"seq2seq: {tmp_path / 'runs' / 'my run'} keeps its checkpoint of "
        "step 40; continue it with `seq2seq train --resume --name 'my run' "
        f"--runs-dir {tmp_path / 'runs'}`",
        "seq2seq: interrupted",
    ]
    assert (tmp_path / "runs" / "my run" / "config.yaml").exists()


# --- A batch that does not fit in memory ---


def _out_of_memory_errors():
    errors = [MemoryError()]
    try:
        import tensorflow as tf
    except ImportError:  # the other backends' errors are matched by text
        return errors
    return [*errors, tf.errors.ResourceExhaustedError(None, None, "OOM")]


@pytest.mark.parametrize("error", _out_of_memory_errors())
def test_out_of_memory_names_the_batch_size_in_one_line(
    error, tmp_path, monkeypatch, capsys
):
    def step_too_big(*args):
        raise error

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", step_too_big)
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--batch-size", "50000")
    assert main([*argv, *TINY_CHAR]) == 1
    line = one_error_line(capsys, "out of memory", "batches of 50000 pairs")
    assert line.endswith(
        "lower --batch-size, or --max-source-length and --max-target-length"
    )
    assert not (tmp_path / "runs").exists()


# --- A file the system will not let the tool read ---


def test_an_unreadable_corpus_is_the_systems_reason_in_one_line(
    tmp_path, monkeypatch, capsys, no_training
):
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    read_bytes = pathlib.Path.read_bytes

    def denied(path):
        if path.name == "train.tsv":  # as chmod 000 does, except for root
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(pathlib.Path, "read_bytes", denied)
    assert main(train_argv(tmp_path, "--data", str(train), *TINY_CHAR)) == 1
    line = one_error_line(capsys, f"{train}: Permission denied")
    assert "--debug" not in line and "permissions" in line
    assert not (tmp_path / "runs").exists()


# --- A run started with relative corpus paths, resumed from elsewhere ---


def _interrupted(run, model, encoded, dev, state):
    raise KeyboardInterrupt  # the resume got as far as training


def test_a_run_saves_its_corpus_paths_so_a_resume_finds_them_anywhere(
    trained_run, tmp_path, monkeypatch, capsys
):
    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    start.mkdir()
    elsewhere.mkdir()
    tsv_corpus(start / "train.tsv", 30)
    tsv_corpus(start / "dev.tsv", 5, 100)

    def finished(run, model, encoded, dev, state):
        (run.path / "state.json").write_text(json.dumps(state))

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", finished)
    monkeypatch.chdir(start)
    assert main(["train", "--data", "train.tsv", *TINY_CHAR]) == 0
    config = yaml.safe_load((start / "runs/start/config.yaml").read_text())
    # Relative, `train.tsv` was not found from another folder, and
    # --data could not say where it is (a resume may not change it).
    assert config["data"] == [str(start / "train.tsv")]
    assert config["dev"] == [str(start / "dev.tsv")]
    # A run's corpus named from another folder is the same corpus.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", _interrupted)
    monkeypatch.chdir(elsewhere)
    data = yaml.safe_load((run / "config.yaml").read_text())["data"][0]
    relative = os.path.relpath(data, elsewhere)
    argv = ["train", "--resume", "--runs-dir", "../runs", "--name", "copy"]
    assert main([*argv, "--data", relative]) == 130
    capsys.readouterr()
