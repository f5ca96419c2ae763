"""What a demanding user meets, thirteenth round: a `columns:` value of a
`--config` file that the corpus lacks, named as a flag never given;
`evaluate` scoring the header line of a test file laid out as the run's
corpus; a resume's refusal leaving `--devices` out of what a resume may
change; serve's `--max-chars` counting an accent typed as a combining mark
as a character of its own; stdin with old Mac line ends (`\\r` alone).

Each test pins one defect, on the tiny run of `conftest.py`, a copy of
it, or files the test writes; none trains a model (the training loop is
replaced where it would start).
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from types import SimpleNamespace

import pytest
from cli_support import head_pairs, one_error_line, train_argv
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import line_stream
from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.serve_request import Limits, RequestError, parse_request


def _edit_config(run, old, new):
    """Replaces `old` by `new` in the run's config.yaml (a hand edit)."""
    path = run / "config.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- 1. A config file's columns that the corpus lacks ---


def test_columns_of_a_config_file_that_the_corpus_lacks_name_the_file(
    corpus, tmp_path, capsys
):
    # "train.tsv line 1 has 2 columns but --columns needs 3": no
    # --columns was typed; the value was the config file's.
    config = tmp_path / "run.yaml"
    config.write_text("columns: [0, 2]\n", encoding="utf-8")
    argv = train_argv(tmp_path, "--data", str(corpus / "train.tsv"))
    assert main([*argv, "--config", str(config)]) == 1
    line = one_error_line(
        capsys, f"config file {config}", "columns 0 2", "line 1 has 2 columns"
    )
    assert "--columns" not in line
    assert not (tmp_path / "runs").exists()
    # Typed, the flag is named as before.
    assert main([*argv, "--columns", "2", "0"]) == 1
    line = one_error_line(capsys, "line 1 has 2 columns but --columns needs 3")
    assert "config file" not in line


def test_a_resume_names_the_runs_columns_that_the_corpus_lacks(
    trained_run, tmp_path, capsys, no_training
):
    # The run's config.yaml gave the columns, not a flag.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    _edit_config(run, "columns:\n- 0\n- 1", "columns:\n- 0\n- 2")
    assert main(train_argv(tmp_path, "--name", "copy", "--resume")) == 1
    line = one_error_line(
        capsys, "line 1 has 2 columns", "the run's columns 0 2", "config.yaml"
    )
    assert "--columns needs" not in line


# --- 2. evaluate reads a header as the run read its corpus ---


def test_evaluate_skips_a_header_as_the_run_was_trained(
    trained_run, tmp_path, capsys
):
    # A run trained --header on a TSV file with a header row scored the
    # header line of a test file of the same layout as a sentence.
    run = shutil.copytree(trained_run, tmp_path / "run")
    _edit_config(run, "header: false", "header: true")
    test = tmp_path / "test.tsv"
    pairs = "".join(head_pairs("test.tsv", 4))
    test.write_text("english\tspanish\n" + pairs, encoding="utf-8")
    count = len(pairs.splitlines())

    def scored(*options):
        argv = ["evaluate", str(run), "--data", str(test), "--json", "-"]
        assert main([*argv, *options]) == 0
        out, err = capsys.readouterr()
        return json.loads(out[: out.index("}") + 1])["n"], err

    n, err = scored()
    assert n == count and "looks like column names" not in err
    n, err = scored("--no-header")  # read as a pair, with the warning
    assert n == count + 1 and "looks like column names" in err
    # A run trained without --header reads every line, as before.
    assert main(["evaluate", str(trained_run), "--data", str(test)]) == 0
    assert f"{count + 1} sentences" in capsys.readouterr().out
    # Two aligned files are not the layout of the run's TSV file.
    sides = [tmp_path / "test.en", tmp_path / "test.es"]
    for side, text in zip(sides, ("Go.\nHi.\n", "Ve.\nHola.\n"), strict=True):
        side.write_text(text, encoding="utf-8")
    assert main(["evaluate", str(run), "--data", *map(str, sides)]) == 0
    assert "2 sentences" in capsys.readouterr().out


# --- 3. What a resume may change ---


def test_a_resume_refusal_lists_devices_among_what_it_may_change(
    trained_run, tmp_path, capsys, no_training
):
    shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    argv = train_argv(tmp_path, "--name", "copy", "--resume")
    assert main([*argv, "--batch-size", "8"]) == 1
    line = one_error_line(capsys, "cannot change batch_size 8")
    may_change = line[line.index("a resume may change") :]
    assert "devices" in may_change and "max_steps" in may_change


# --- 4. serve's --max-chars counts characters, not code points ---


_TRANSLATOR = SimpleNamespace(
    max_source_length=40,
    source_tokenizer=SimpleNamespace(encode=list),
    target_tokenizer=SimpleNamespace(vocab_size=32),
)


def _sentences_of(sentence, max_chars):
    body = json.dumps({"sentences": [sentence]}).encode()
    limits = Limits(max_chars=max_chars)
    return parse_request(body, limits, _TRANSLATOR)[0]


def test_max_chars_counts_an_accent_with_its_letter():
    # "café" typed on macOS is c a f e U+0301: 5 code points, 4
    # characters; --max-chars 4 refused it, and took the composed "é".
    decomposed = "cafe\u0301"
    assert _sentences_of(decomposed, 4) == [decomposed]
    assert _sentences_of("caf\u00e9", 4) == ["caf\u00e9"]
    with pytest.raises(RequestError, match="has 5 characters; the limit is 4"):
        _sentences_of("cafe\u0301s", 4)


# --- 5. Old Mac line ends (`\r` alone) on stdin ---


def _chunks_of_a_pipe(data, size, monkeypatch, read_size=None):
    """`line_chunks` of a pipe that holds `data`, its writer closed."""
    if read_size is not None:
        monkeypatch.setattr(line_stream, "READ_SIZE", read_size)
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stream:
        return list(line_stream.line_chunks(stream, size, "the input"))


def test_stdin_with_carriage_returns_alone_is_read_line_by_line(
    monkeypatch,
):
    # A file saved with old Mac line ends held no "\n": stdin was read to
    # its end, then given to the model as one chunk of every line.
    data = "".join(f"line {i}\r" for i in range(30)).encode()
    chunks = _chunks_of_a_pipe(data, 8, monkeypatch)
    assert [len(chunk) for chunk in chunks] == [8, 8, 8, 6]
    assert sum(chunks, []) == [f"line {i}" for i in range(30)]
    # A "\r\n" cut between two reads ends one line, not two.
    chunks = _chunks_of_a_pipe(b"ab\r\ncd\r\n\re\r", 8, monkeypatch, 3)
    assert sum(chunks, []) == ["ab", "cd", "", "e"]
    chunks = _chunks_of_a_pipe(b"a\rb\nc\n", 8, monkeypatch, 3)
    assert sum(chunks, []) == ["a", "b", "c"]


def test_a_line_that_is_not_utf8_is_named_after_carriage_returns(
    monkeypatch,
):
    # "the input line 1 is not UTF-8": the line was the third.
    with pytest.raises(RunError, match="the input line 3 is not UTF-8"):
        _chunks_of_a_pipe(b"a\rb\r\xffc\rd\r", 8, monkeypatch)
    with pytest.raises(RunError, match="the input line 3 is not UTF-8"):
        _chunks_of_a_pipe(b"a\r\nb\r\n\xffc\r\n", 8, monkeypatch, 4)


# --- 6. A resume compiles its step as this backend trains ---


def _save_compiled_with_jit(checkpoint, jit):
    """Rewrites a checkpoint as a backend that compiles (`jit`) saves it:
    its compile config holds the choice."""
    with zipfile.ZipFile(checkpoint) as saved:
        files = {name: saved.read(name) for name in saved.namelist()}
    config = json.loads(files["config.json"])
    config["compile_config"]["jit_compile"] = jit
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(checkpoint, "w") as rewritten:
        for name, data in files.items():
            rewritten.writestr(name, data)


def test_a_resume_compiles_its_step_as_a_new_run_here_would(
    trained_run, tmp_path, monkeypatch, capsys
):
    # A run trained on TensorFlow (no XLA) and resumed on JAX trained op
    # by op (12 tokens/s against thousands): the checkpoint's compile
    # config said jit_compile False. Here a checkpoint saved by JAX (True)
    # resumes on TensorFlow, whose tool steps run without XLA.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    [*_, newest] = sorted((run / "checkpoints").iterdir())
    _save_compiled_with_jit(newest, True)
    compiled = []

    def record(run_, model, encoded, dev, state):
        compiled.append(model.jit_compile)
        raise KeyboardInterrupt

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", record)
    argv = train_argv(tmp_path, "--name", "copy", "--resume")
    assert main(argv) == 130
    # The run's own --jit-compile still decides, as for a new run.
    _edit_config(run, "jit_compile: null", "jit_compile: true")
    _save_compiled_with_jit(newest, False)
    assert main(argv) == 130
    assert compiled == [False, True]


# --- 7. average --output is a name inside the run ---


def test_average_output_as_a_path_says_it_writes_inside_the_run(
    trained_run, tmp_path, capsys
):
    # "--output must be a file name ending in .keras; got /x/avg.keras":
    # it ends in .keras; what was wrong is the folder.
    path = str(tmp_path / "avg.keras")
    assert main(["average", str(trained_run), "--output", path]) == 1
    one_error_line(capsys, f"--output {path}", "inside the run", "averaged")
    assert main(["average", str(trained_run), "--output", "avg.h5"]) == 1
    line = one_error_line(capsys, "--output avg.h5", "end in .keras")
    assert "inside the run" not in line
    assert not (tmp_path / "avg.keras").exists()


# --- 8. A --jit-compile that the backend or --devices overrides ---


def test_a_jit_compile_that_devices_override_gets_a_warning(
    corpus, tmp_path, capsys
):
    # `--devices 2 --jit-compile` on TensorFlow trained without XLA (its
    # XLA step fails under MirroredStrategy) and said nothing. (A batch
    # of 15 does not split over 2 devices: refused before any device.)
    argv = train_argv(tmp_path, "--data", str(corpus / "train.tsv"))
    argv += ["--devices", "2", "--batch-size", "15"]
    assert main([*argv, "--jit-compile"]) == 1
    warning, error = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith("seq2seq: warning: --jit-compile changes")
    assert "--devices 2" in warning and "MirroredStrategy" in warning
    assert "does not split over 2 devices" in error
    # Unset, or as the backend trains: nothing to say.
    for jit in ([], ["--no-jit-compile"]):
        assert main([*argv, *jit]) == 1
        assert "warning" not in capsys.readouterr().err


# --- 9. TensorBoard logs of a JAX run, without TensorFlow ---

_LOG_A_PERIOD = """
import sys
from types import SimpleNamespace
from keras_seq2seq.nmt.scalar_log import ScalarLog
log = ScalarLog(sys.argv[1])
log.set_model(SimpleNamespace(optimizer=SimpleNamespace(learning_rate=0.5)))
log.on_train_begin()
log.on_epoch_end(7, {"loss": 2.5})
log.on_train_end()
print("tensorflow" in sys.modules)
"""


def test_a_jax_runs_tensorboard_log_does_not_import_tensorflow(tmp_path):
    # The tensorboard package's writer opened its file through TensorFlow
    # where it is installed: a JAX or PyTorch run imported all of it
    # (seconds) and printed its C++ log lines amid the progress.
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", _LOG_A_PERIOD, str(tmp_path / "tb")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "False\n", done.stderr
    logs = EventAccumulator(str(tmp_path / "tb" / "train"))
    logs.Reload()
    assert [(e.step, e.value) for e in logs.Scalars("epoch_loss")] == [(7, 2.5)]
    assert logs.Scalars("epoch_learning_rate")[0].value == 0.5
