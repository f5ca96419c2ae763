"""What a demanding user meets, fourth round, with the commands that use a
run: help that hid a default of 0.0, `translate ... | head`, `translate`
waiting on a terminal, `evaluate --output` or `--json` naming the corpus
or a file of the run.

Each test pins one defect. Training, corpora and config files are in
test_user_sessions_4.py.
"""

import io
import os
import shutil

import pytest
from cli_support import one_error_line, stderr_lines

from keras_seq2seq.cli import main

# --- Help: a default of 0.0 is a default ---


@pytest.mark.parametrize("command", ["translate", "evaluate", "plot"])
def test_help_shows_the_length_penalty_default_of_zero(command, capsys):
    # 0.0 == False: the formatter took it for an off switch and hid it.
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--length-penalty ALPHA GNMT length penalty" in text
    assert "beam search; 0: none (default: 0.0)" in text


# --- stdout's reader stops: `seq2seq translate ... | head` ---


@pytest.mark.parametrize("command", ["translate", "evaluate"])
def test_a_closed_pipe_on_stdout_is_no_error_line(
    command, trained_run, corpus, monkeypatch, capsys
):
    read, write = os.pipe()
    os.close(read)  # the reader (`head`) has exited
    with open(write, "w", encoding="utf-8") as pipe:
        monkeypatch.setattr("sys.stdout", pipe)
        argv = [command, str(trained_run)]
        argv += ["Go."] if command == "translate" else []
        argv += (
            ["--data", str(corpus / "test.tsv")]
            if command == "evaluate"
            else []
        )
        assert main(argv) == 141  # 128 + SIGPIPE, as a shell reports it
        pipe.write("x")
        pipe.flush()  # stdout now goes nowhere, without a second error
    assert stderr_lines(capsys.readouterr().err) == []


# --- translate with no sentence, on a terminal ---


class _Terminal(io.TextIOWrapper):
    def isatty(self):
        return True


def test_translate_reading_a_terminal_says_how_to_end(
    trained_run, monkeypatch, capsys
):
    # `seq2seq translate RUN` with the sentence forgotten waited silently.
    terminal = _Terminal(io.BytesIO(b"Go.\n"), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", terminal)
    assert main(["translate", str(trained_run)]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == (
        "seq2seq: reading sentences from the terminal, one per line; "
        "end with Ctrl-D"
    )
    assert len(captured.out.splitlines()) == 1
    # Piped input gets no such line.
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"Go.\n")))
    assert main(["translate", str(trained_run)]) == 0
    assert stderr_lines(capsys.readouterr().err) == []


# --- evaluate --output / --json over the corpus or the run ---


def test_evaluate_never_writes_over_its_corpus_or_the_runs_files(
    trained_run, corpus, tmp_path, capsys
):
    run = shutil.copytree(trained_run, tmp_path / "run")
    (run / "data").mkdir()  # where a dates run keeps its splits
    data = shutil.copy(corpus / "test.tsv", tmp_path / "test.tsv")
    kept = {p: p.read_bytes() for p in [data, *run.rglob("*")] if p.is_file()}
    argv = ["evaluate", str(run), "--data", str(data)]
    for extra, words in [
        (["--output", str(data)], ("--output", "is a --data file")),
        (["--json", str(run / "model.keras")], ("--json", "seq2seq train")),
        (["--output", str(run / "config.yaml")], (str(run),)),
        (["--output", str(run / "checkpoints" / "x")], ("files",)),
        (["--output", str(run / "data" / "test.tsv")], ("files",)),
        (["--json", "s.json", "--output", "s.json"], ("the same file",)),
    ]:
        assert main([*argv, *extra]) == 1
        one_error_line(capsys, *words)
    assert {p: p.read_bytes() for p in kept} == kept
