"""Every expected failure: one `seq2seq: error:` line, exit 1, no traceback.

Usage errors (unknown options, values outside a flag's choices) exit 2
through argparse. Nothing half-written is left behind.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import pytest
import yaml
from cli_support import ERROR, stderr_lines

from keras_seq2seq.cli import main


def _fails_with(capsys, argv, *words, code=1):
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(ERROR), err
    assert "Traceback" not in err[0]
    for word in words:
        assert word in err[0], err
    return err[0]


def _train(tmp_path, data, *extra):
    return [
        "train",
        "--data",
        *map(str, data),
        "--runs-dir",
        str(tmp_path / "runs"),
        "--name",
        "bad",
        *extra,
    ]


@pytest.mark.parametrize(
    "content, words",
    [
        (None, ("not found",)),
        (b"", ("empty",)),
        (b"\n  \n", ("empty",)),
        (b"Go.\tVe.\nno tab here\n", ("line 2", "no tab")),
        (b"Go.\tVe.\nHi.\t \n", ("line 2", "empty target")),
        (b"\tVe.\n", ("line 1", "empty source")),
        (b"Go.\tVe.\n\xff\xfe bad\tmal\n", ("line 2", "not UTF-8")),
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "no-tab",
        "empty-target",
        "empty-source",
        "not-utf8",
    ],
)
def test_bad_corpus_is_one_line_and_writes_nothing(
    tmp_path, capsys, content, words
):
    path = tmp_path / "train.tsv"
    if content is not None:
        path.write_bytes(content)
    _fails_with(capsys, _train(tmp_path, [path]), str(path), *words)
    assert not (tmp_path / "runs").exists()


def test_misaligned_file_pair(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    (tmp_path / "b.txt").write_text("uno\n")
    argv = _train(tmp_path, [tmp_path / "a.txt", tmp_path / "b.txt"])
    _fails_with(capsys, argv, "aligned")


def test_columns_beyond_the_line(tmp_path, capsys):
    (tmp_path / "t.tsv").write_text("Go.\tVe.\n")
    argv = _train(tmp_path, [tmp_path / "t.tsv"], "--columns", "0", "2")
    _fails_with(capsys, argv, "line 1", "columns")


def test_missing_run_folder(tmp_path, capsys):
    _fails_with(
        capsys, ["translate", str(tmp_path / "nope"), "Go."], "not found"
    )


def test_folder_that_is_not_a_run(tmp_path, capsys):
    _fails_with(
        capsys,
        ["evaluate", str(tmp_path), "--data", "x.tsv"],
        "not a run folder",
    )


@pytest.fixture
def broken_run(trained_run, tmp_path):
    """A writable copy of the trained run."""
    return shutil.copytree(trained_run, tmp_path / "copy")


def test_corrupt_model_file(broken_run, capsys):
    model = broken_run / "model.keras"
    model.write_bytes(model.read_bytes()[:1000])  # a cut-off write
    _fails_with(capsys, ["translate", str(broken_run), "Go."], "corrupt")


def test_missing_model_file(broken_run, capsys):
    (broken_run / "model.keras").unlink()
    _fails_with(capsys, ["plot", str(broken_run), "Go."], "no model file")


def test_mistyped_model_option_lists_the_runs_models(trained_run, capsys):
    line = _fails_with(
        capsys,
        ["translate", str(trained_run), "--model", "avreaged.keras", "Go."],
        "no model file",
        "model.keras",
    )
    assert "no checkpoint yet" not in line
    # Other tests may have added models (`average`): every one is listed.
    names = [p.name for p in (trained_run / "checkpoints").glob("*.keras")]
    assert all(p.name in line for p in trained_run.glob("*.keras"))
    assert names and all(f"checkpoints/{n}" in line for n in names)


def test_model_of_another_kind(broken_run, capsys):
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.save(broken_run / "model.keras")
    _fails_with(
        capsys,
        ["translate", str(broken_run), "Go."],
        "not a keras_seq2seq Seq2Seq",
    )


def test_config_from_a_newer_tool(broken_run, capsys):
    path = broken_run / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["decoder_dropout"] = 0.1
    path.write_text(yaml.safe_dump(config))
    _fails_with(
        capsys, ["translate", str(broken_run), "Go."], "decoder_dropout"
    )


def test_a_hand_edited_run_config_reads_as_config_files_do(broken_run, capsys):
    # A float in exponent form is a float, as in `--config` files (YAML
    # 1.1 read `1e-4` as a string, and the run was "corrupt").
    path = broken_run / "config.yaml"
    lines = path.read_text().splitlines(keepends=True)
    [at] = [i for i, line in enumerate(lines) if line.startswith("clip_norm:")]

    def edit(*new_lines):
        path.write_text("".join(lines[:at] + list(new_lines) + lines[at + 1 :]))

    edit("clip_norm: 1e-4\n")
    assert main(["translate", str(broken_run), "Go."]) == 0
    capsys.readouterr()
    # A slip names its line, not "corrupt, train the run again".
    edit("clip_norm: [1\n")
    line = _fails_with(capsys, ["translate", str(broken_run), "Go."], "line")
    assert str(path) in line and "corrupt" not in line
    # A key written twice is refused, as in `--config` files.
    edit("clip_norm: 1.0\n", "clip_norm: 2.0\n")
    _fails_with(capsys, ["translate", str(broken_run), "Go."], "repeats")


def test_vocabulary_of_another_model(broken_run, capsys):
    path = broken_run / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["tokenizer"] = "char"
    path.write_text(yaml.safe_dump(config))
    for side in ("source", "target"):
        (broken_run / f"{side}.chars.json").write_text(
            '{"pieces": ["<pad>", "<s>", "</s>", "<unk>", "a", "b"]}'
        )
    _fails_with(
        capsys, ["translate", str(broken_run), "Go."], "vocabulary", "expects"
    )


def test_missing_vocabulary(broken_run, capsys):
    (broken_run / "target.spm").unlink()
    _fails_with(
        capsys, ["translate", str(broken_run), "Go."], "target vocabulary"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--no-such-option"],
        ["train", "--cell", "transformer"],
        ["train", "--batch-size", "many"],
        ["translate"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_translate_without_a_run_names_only_the_run(capsys):
    # Sentences are optional (stdin): the usage error must not ask for one.
    with pytest.raises(SystemExit):
        main(["translate"])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.endswith("the following arguments are required: RUN"), line


def test_bad_option_values(trained_run, tmp_path, capsys):
    run = str(trained_run)
    _fails_with(capsys, ["translate", run, "--beam", "0", "Go."], "beam")
    _fails_with(
        capsys,
        ["translate", run, "--beam", "2", "--n-best", "3", "Go."],
        "n-best",
    )
    _fails_with(
        capsys,
        ["train", "--batch-size", "0", "--runs-dir", str(tmp_path)],
        "batch_size",
    )
    _fails_with(
        capsys,
        ["plot", run, "Go.", "--output", str(tmp_path / "map.jpg")],
        ".png",
    )


def test_unknown_config_key_names_the_nearest(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("batchsize: 32\n")
    _fails_with(
        capsys,
        ["train", "--config", str(path), "--runs-dir", str(tmp_path)],
        "batchsize",
        "batch_size",
    )
    path.write_text("- a list\n")
    _fails_with(capsys, ["train", "--config", str(path)], "mapping")
    path.write_text("learning_rate: fast\n")
    _fails_with(capsys, ["train", "--config", str(path)], "learning_rate")


def test_existing_run_needs_resume(trained_run, capsys):
    argv = [
        "train",
        "--runs-dir",
        str(trained_run.parent),
        "--name",
        trained_run.name,
        "--data",
        "whatever.tsv",
    ]
    _fails_with(capsys, argv, "--resume")


def test_resume_without_a_run(tmp_path, capsys):
    _fails_with(
        capsys, ["train", "--resume", "--runs-dir", str(tmp_path)], "not found"
    )


def test_too_long_input_is_truncated_with_a_warning(trained_run, capsys):
    limit = 80  # the run's max_source_length (the default)
    long_sentence = " ".join(["the cat is here"] * limit)
    assert main(["translate", str(trained_run), long_sentence, "Go."]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    [warning] = stderr_lines(captured.err)
    assert warning.startswith("seq2seq: warning: input 1 ")
    assert f"first {limit}" in warning


def test_debug_shows_the_traceback(tmp_path):
    from keras_seq2seq.nmt.run_error import RunError

    with pytest.raises(RunError, match="not found"):
        main(["translate", str(tmp_path / "nope"), "Go.", "--debug"])


def _executable(argv, stdin=None, **environment):
    """Runs the installed `seq2seq` as a user's shell would."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "TF_CPP_MIN_LOG_LEVEL"
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("seq2seq")), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**env, **environment},
        timeout=300,
        check=False,
    )


def test_executable_error_is_one_line_on_stderr(trained_run, tmp_path):
    # TensorFlow's import-time C++ log lines would come first on stderr:
    # an error found after Keras started (the run opened, its data not).
    missing = tmp_path / "missing.tsv"
    done = _executable(["evaluate", str(trained_run), "--data", str(missing)])
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"seq2seq: error: corpus file {missing} not found; check the path"
    ]


@pytest.mark.parametrize("command", ["translate", "plot", "average", "serve"])
def test_a_missing_run_is_told_before_keras_starts(tmp_path, command):
    # The launcher looks for RUN before it imports Keras (seconds): with a
    # backend that cannot start, the missing run is still what it says.
    argv = [command, str(tmp_path / "missing")]
    argv += ["x"] if command in ("translate", "plot") else []
    done = _executable(argv, KERAS_BACKEND="no-such-backend")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"seq2seq: error: run folder {tmp_path / 'missing'} not found; "
        "train one with `seq2seq train`"
    ]


def test_executable_translates_stdin_with_a_clean_stderr(trained_run):
    # One line out per line in, the blank one too (test_cli.py's run of the
    # executable on stdin, merged here: one process instead of two).
    done = _executable(
        ["translate", str(trained_run)], stdin="Go.\nI am happy.\n\n"
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    assert stderr_lines(done.stderr) == []


def test_unknown_backend_is_one_line(tmp_path):
    done = _executable(  # RUN exists: the launcher goes on to Keras
        ["translate", str(tmp_path), "Go."], KERAS_BACKEND="no-such-backend"
    )
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(ERROR) and "'no-such-backend'" in line, line


def test_help_needs_no_backend():
    # The arguments are parsed before Keras is imported: --help answers
    # even when KERAS_BACKEND names a backend that cannot start.
    done = _executable(["train", "--help"], KERAS_BACKEND="no-such-backend")
    assert done.returncode == 0, done.stderr
    assert "--data" in done.stdout and done.stderr == ""


@pytest.mark.parametrize(
    "failure, code",
    [
        (KeyboardInterrupt(), 130),
        (ValueError("the loss became NaN"), 1),
    ],
    ids=["interrupted", "failed"],
)
def test_train_failing_before_its_first_checkpoint_leaves_no_folder(
    corpus, tmp_path, monkeypatch, capsys, failure, code
):
    def fail(run, *args):
        assert (run.path / "config.yaml").exists()  # the folder was made
        raise failure

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", fail)
    argv = _train(tmp_path, [corpus / "train.tsv"], "--tokenizer", "char")
    assert main(argv) == code
    assert not (tmp_path / "runs").exists()
    # A folder that was there before the run is the user's: it stays, and
    # what the run wrote in it goes.
    (tmp_path / "runs" / "bad").mkdir(parents=True)
    assert main(argv) == code
    assert list((tmp_path / "runs" / "bad").iterdir()) == []
    capsys.readouterr()
