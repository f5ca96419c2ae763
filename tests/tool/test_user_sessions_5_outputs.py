"""What a demanding user meets, fifth round, where the tool writes: an
`evaluate --json` or `average` into a folder it cannot write, a file of
long inputs to translate, a line separator inside an input line, a
`--host` that is no address, a JSON body with a byte-order mark.

Each test pins one defect. The resumes and the corpora are in
test_user_sessions_5.py.
"""

import errno
import io
import os
import shutil
import socket
import sys
import threading
from types import SimpleNamespace

import pytest
from cli_support import WARNING, one_error_line, stderr_lines

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import listen_address, run_folder, serve
from keras_seq2seq.nmt.translator import Translator

# --- 3. evaluate --json into a folder that cannot be written ---


def test_evaluate_into_an_unwritable_folder_fails_first_naming_the_path(
    trained_run, corpus, tmp_path, monkeypatch, capsys
):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def denied(path, flags, *args, **kwargs):
        # As chmod 555 does (root ignores it): no new file in `locked`.
        if os.path.dirname(os.fspath(path)) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("translated before checking the output paths")

    monkeypatch.setattr(os, "open", denied)
    monkeypatch.setattr(Translator, "translate", refuse)
    test = str(corpus / "test.tsv")
    for flag in ("--json", "--output"):
        out = locked / "scores.json"
        argv = ["evaluate", str(trained_run), "--data", test, flag, str(out)]
        assert main(argv) == 1
        line = one_error_line(capsys, flag, str(out), "Permission denied")
        assert ".tmp" not in line
    assert list(locked.iterdir()) == []


def test_a_failed_write_names_the_users_file_not_the_temporary(
    tmp_path, monkeypatch
):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr("pathlib.Path.write_text", full)
    with pytest.raises(OSError) as failed:
        run_folder.write_text(tmp_path / "scores.json", "{}")
    assert failed.value.filename == str(tmp_path / "scores.json")
    assert str(tmp_path / "scores.json") in str(failed.value)
    # A checkpoint on a full disk: the same.
    model = SimpleNamespace(save=lambda path: full(path))
    with pytest.raises(OSError) as failed:
        run_folder.save_model(model, tmp_path / "step-0000004.keras")
    assert failed.value.filename == str(tmp_path / "step-0000004.keras")


def test_a_read_only_output_file_is_not_replaced(
    trained_run, corpus, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "scores.json"
    out.write_text("the user's\n")
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    argv = ["evaluate", str(trained_run), "--data", str(corpus / "test.tsv")]
    assert main([*argv, "--json", str(out)]) == 1
    one_error_line(capsys, "--json", "read-only")
    assert out.read_text() == "the user's\n"


# --- 4. Many long inputs: one warning line ---


def test_long_inputs_get_one_warning_that_counts_them(trained_run, capsys):
    long_sentence = " ".join(["the cat is here"] * 80)  # over 80 pieces
    inputs = [long_sentence] * 7 + ["Go."]
    inputs[2] = "Hi."
    assert main(["translate", str(trained_run), *inputs]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 8
    [warning] = stderr_lines(captured.err)
    assert warning.startswith(WARNING + "6 inputs (1, 2, 4, 5, 6 and 1 more)")
    assert "model's 80 source tokens" in warning and "first 80" in warning


# --- 5. A --host that is no address of this machine ---


def test_serve_with_an_invalid_host_says_so_before_loading(tmp_path, capsys):
    # The run does not exist: the host is checked before the model loads.
    missing = str(tmp_path / "no-run")
    for host in ("256.1.1.1", "1.2.3"):
        assert main(["serve", missing, "--host", host]) == 1
        line = one_error_line(capsys, f"--host {host}", "not a valid")
        assert "--port" not in line


def test_serve_with_an_empty_host_says_so_before_loading(tmp_path, capsys):
    # `--host "$HOST"` with HOST unset: it printed 'serving on http://:PORT/'.
    for host in ("", " "):
        argv = ["serve", str(tmp_path / "no-run"), "--host", host]
        assert main(argv) == 1
        one_error_line(capsys, "--host is empty", "127.0.0.1")


def test_serve_on_a_port_in_use_names_the_port(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["serve", str(tmp_path / "no-run"), "--port", str(port)]
        assert main(argv) == 1
    one_error_line(capsys, f"port {port}", "in use", "--port")


def test_an_address_of_another_machine_names_the_host():
    error = OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
    message = str(listen_address.address_error("192.0.2.1", 8000, error))
    assert "--host 192.0.2.1 is not an address of this machine" in message
    assert "--port" not in message


# --- Found using the tool: a line separator inside an input line ---


def test_translate_writes_one_line_per_input_line(
    trained_run, tmp_path, capsys
):
    text = tmp_path / "input.txt"
    text.write_text("Go.\u2028Now.\nHi.\x0cthere.\n", encoding="utf-8")
    assert main(["translate", str(trained_run), "--input", str(text)]) == 0
    assert capsys.readouterr().out.count("\n") == 2


# --- Found using the tool: average, and a JSON body with a BOM ---


def test_average_into_a_run_it_cannot_write_fails_before_loading(
    trained_run, tmp_path, monkeypatch, capsys
):
    run = shutil.copytree(trained_run, tmp_path / "run")
    real_open = os.open

    def denied(path, flags, *args, **kwargs):
        if os.path.dirname(os.fspath(path)) == str(run):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("loaded the checkpoints before the check")

    monkeypatch.setattr(os, "open", denied)
    monkeypatch.setattr(run_folder, "load_model", refuse)
    assert main(["average", str(run), "--last", "2"]) == 1
    one_error_line(capsys, "--output", "averaged.keras", "Permission denied")


def test_serve_reads_a_json_body_with_a_byte_order_mark():
    limits = serve.Limits()
    translator = SimpleNamespace(
        max_source_length=40,
        source_tokenizer=SimpleNamespace(encode=list),
        target_tokenizer=SimpleNamespace(vocab_size=32),
    )
    body = '\ufeff{"sentences": ["Hi."], "beam": 2}'.encode()
    assert serve.parse_request(body, limits, translator) == (
        ["Hi."],
        2,
        1,
        0.0,
    )
    with pytest.raises(serve.RequestError, match="the body is empty"):
        serve.parse_request(b" \n", limits, translator)


# --- Found using the tool: a pipe as --input, or as a corpus ---


def _fifo_with(path, text):
    """A named pipe at `path` that a thread fills with `text` once it is
    opened for reading (as bash's <(...) gives)."""
    os.mkfifo(path)

    def write():
        with open(path, "w", encoding="utf-8") as pipe:
            pipe.write(text)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


def test_translate_reads_its_input_from_a_pipe(trained_run, tmp_path, capsys):
    pipe = tmp_path / "input"
    writer = _fifo_with(pipe, "Go.\nHi.\n")
    assert main(["translate", str(trained_run), "--input", str(pipe)]) == 0
    writer.join(timeout=10)
    assert capsys.readouterr().out.count("\n") == 2


def test_train_refuses_a_pipe_as_corpus_in_one_line(tmp_path, capsys):
    pipe = tmp_path / "train.tsv"
    os.mkfifo(pipe)  # never opened: the check comes first
    argv = ["train", "--data", str(pipe), "--runs-dir", str(tmp_path / "r")]
    assert main(argv) == 1
    one_error_line(capsys, str(pipe), "not a regular file", "--resume")
    assert not (tmp_path / "r").exists()


def test_translate_input_dash_reads_stdin(trained_run, monkeypatch, capsys):
    stream = io.TextIOWrapper(io.BytesIO(b"Go.\nHi.\n"), "utf-8")
    monkeypatch.setattr(sys, "stdin", stream)
    assert main(["translate", str(trained_run), "--input", "-"]) == 0
    assert capsys.readouterr().out.count("\n") == 2
