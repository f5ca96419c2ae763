"""What a demanding user meets, sixth round: `evaluate` numbering long
sources by pair, not by their line in the file; a vocabulary write that
fails leaving its temporary file; a sentence that is not UTF-8 (a Latin-1
terminal, a JSON escape), of nothing the vocabulary reads (a zero-width
space) or with spaces around it; a JSON number of 5000 digits; TensorFlow's
warnings with its log off; a run's config.yaml or a --config file edited
by hand; `evaluate --data FILE RUN`; Ctrl-C in a long translate; a length
penalty that overflows; a new run beside an earlier run's checkpoints;
stdin closed; SIGTERM as soon as serve says where it serves.

Each test pins one defect, on the tiny run of `conftest.py`, small slices
of the shared corpora, or files the test writes; none trains a model.
"""

import asyncio
import errno
import logging
import pathlib
import shutil
import signal
from types import SimpleNamespace

import pytest
import yaml
from cli_support import (
    WARNING,
    head_pairs,
    one_error_line,
    stderr_lines,
    train_argv,
    translate_interrupted,
    tsv_corpus,
)

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import serve
from keras_seq2seq.nmt.tokenizer import SPECIALS, Tokenizer
from keras_seq2seq.nmt.translator import Hypothesis, Translator

LONG = " ".join(["the cat is here"] * 30)  # over the run's 80 pieces


# --- 1. evaluate names the file lines of the sources it truncated ---


def test_evaluate_names_the_file_lines_of_truncated_sources(
    trained_run, tmp_path, capsys
):
    # A header, blank lines: pair 4 is line 6, pair 5 line 8.
    test = tmp_path / "test.tsv"
    real = head_pairs("test.tsv", 3)
    lines = ["english\tspanish\n", "\n", *real, f"{LONG}\tlargo\n"]
    test.write_text("".join([*lines, "\n", f"{LONG} 2\tlargo 2\n"]))
    argv = ["evaluate", str(trained_run), "--data", str(test), "--header"]
    assert main(argv) == 0
    [warning] = stderr_lines(capsys.readouterr().err)
    assert warning.startswith(f"{WARNING}2 sources ({test} lines 6, 8) are ")
    # Two aligned files, reversed: the source is the second file's line.
    english, spanish = tmp_path / "t.en", tmp_path / "t.es"
    english.write_text("Go.\n\nHi.\n")
    spanish.write_text(f"Ve.\n\n{LONG}\n")
    argv = ["evaluate", str(trained_run), "--data", str(english)]
    assert main([*argv, str(spanish), "--reverse"]) == 0
    [warning] = stderr_lines(capsys.readouterr().err)
    assert warning.startswith(f"{WARNING}the source on {spanish} line 3 is ")


# --- 2. A vocabulary that cannot be written leaves no temporary file ---


def _disk_full(path, data):
    with open(path, "wb") as half:
        half.write(data[: len(data) // 2])
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


@pytest.mark.parametrize("kind", ["char", "sentencepiece"])
@pytest.mark.parametrize("failure", ["folder-in-the-way", "disk-full"])
def test_a_vocabulary_write_that_fails_leaves_no_temporary_file(
    kind, failure, tmp_path, monkeypatch
):
    texts = [line.split("\t")[0] for line in head_pairs("train.tsv", 200)]
    tokenizer = Tokenizer.train(texts, kind, vocab_size=60)
    suffix = ".spm" if kind == "sentencepiece" else ".chars.json"
    path = tmp_path / f"source{suffix}"
    if failure == "folder-in-the-way":
        path.mkdir()
    else:
        monkeypatch.setattr(pathlib.Path, "write_bytes", _disk_full)
    with pytest.raises(OSError) as failed:
        tokenizer.save(tmp_path, "source")
    assert [p.name for p in tmp_path.iterdir()] == [path.name] * path.exists()
    assert failed.value.filename == str(path)  # not the temporary name


# --- A sentence argument that is not UTF-8 (a Latin-1 terminal) ---


def test_a_sentence_argument_that_is_not_utf8_is_one_error_line(
    trained_run, tmp_path, capsys
):
    # Python keeps the byte 0xe9 of "café" in Latin-1 as a lone surrogate,
    # which sentencepiece refused with a bare RuntimeError.
    latin1 = b"caf\xe9".decode("utf-8", "surrogateescape")
    assert main(["translate", str(trained_run), "Go.", latin1]) == 1
    one_error_line(capsys, "sentence 2 is not UTF-8 (byte 0xe9)", "UTF-8")
    output = tmp_path / "map.png"
    assert (
        main(["plot", str(trained_run), latin1, "--output", str(output)]) == 1
    )
    one_error_line(capsys, "the sentence is not UTF-8 (byte 0xe9)")
    assert not output.exists()


# --- serve: a JSON escape that is no text, a number Python will not read ---


@pytest.fixture
def read_request(trained_run):
    """`serve.parse_request` with the run's own source vocabulary."""
    translator = SimpleNamespace(
        max_source_length=80,
        source_tokenizer=Tokenizer.load(trained_run, "source", "sentencepiece"),
        target_tokenizer=Tokenizer.load(trained_run, "target", "sentencepiece"),
    )
    return lambda body: serve.parse_request(body, serve.Limits(), translator)


def test_serve_answers_400_for_a_lone_surrogate(read_request):
    # Valid JSON, not text: the request got a 500 "internal error".
    with pytest.raises(serve.RequestError, match="lone surrogate") as error:
        read_request(b'{"sentences": ["Go.", "caf\\udce9"]}')
    assert error.value.status == 400
    assert "sentences[1]" in str(error.value)


def test_serve_answers_400_for_a_number_of_5000_digits(read_request):
    # json.loads raises ValueError, not JSONDecodeError: it got a 500.
    body = b'{"sentences": ["Go."], "beam": ' + b"9" * 5000 + b"}"
    with pytest.raises(serve.RequestError, match="too many digits") as error:
        read_request(body)
    assert error.value.status == 400


# --- A sentence of nothing the vocabulary reads ---


def test_a_sentence_the_vocabulary_reads_nothing_of_is_blank(
    trained_run, trained_translator, tmp_path, capsys
):
    # Sentencepiece drops a zero-width space: no source token, and the
    # model invented a translation of nothing (a blank line gets none).
    [go], [nothing] = trained_translator.translate(["Go.", "\u200b"])
    assert go.source_tokens and go.score < 0
    assert nothing == Hypothesis("", 0.0, [], [], [])
    output = tmp_path / "map.png"
    argv = ["plot", str(trained_run), "\u200b", "--output", str(output)]
    assert main(argv) == 1
    one_error_line(capsys, "the sentence has nothing the model reads")
    assert not output.exists()


def test_serve_answers_400_for_a_sentence_of_nothing_the_model_reads(
    read_request,
):
    with pytest.raises(serve.RequestError, match="nothing the model reads"):
        read_request('{"sentences": ["Go.", "\u200b"]}'.encode())


# --- TensorFlow's Python warnings, with its log off ---


@pytest.fixture
def tensorflow_logger():
    """The `tensorflow` logger, its level restored after the test."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    yield logger
    logger.setLevel(level)


def test_tensorflow_warnings_stay_off_stderr_with_its_log_off(
    trained_run, tensorflow_logger, monkeypatch, caplog, capsys
):
    # `serve` asked for new beam sizes logged "5 out of the last 6 calls
    # to <function compiled_model_function...> triggered tf.function
    # retracing..." between its request lines, though its log is off.
    def retracing(self, sentences, **search):
        tensorflow_logger.warning("5 out of the last 6 calls ... retracing")
        return [[Hypothesis("x", 0.0, [], [], [])] for _ in sentences]

    monkeypatch.setattr(Translator, "translate", retracing)
    for level, shown in (("3", False), ("0", True)):
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
        tensorflow_logger.setLevel(logging.NOTSET)
        caplog.clear()
        assert main(["translate", str(trained_run), "Go."]) == 0
        assert ("retracing" in caplog.text) == shown, level
    capsys.readouterr()


# --- A run's config.yaml edited by hand ---


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("max_source_length", -3, "max_source_length must be >= 1; got -3"),
        ("max_target_length", 0, "max_target_length must be >= 1; got 0"),
        ("max_source_length", "80", "'max_source_length' must be int"),
    ],
)
def test_a_hand_edited_run_config_names_the_file_and_the_key(
    key, value, words, trained_run, tmp_path, capsys
):
    # -3 cut the last 3 tokens of every input ("longer than the model's -3
    # source tokens"); 0 translated everything into nothing.
    run = shutil.copytree(trained_run, tmp_path / "run")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config[key] = value
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["translate", str(run), "Go home."]) == 1
    one_error_line(capsys, f"{run / 'config.yaml'}: ", words, "fix it there")


# --- evaluate's RUN after --data, as its usage line shows it ---


def test_evaluate_takes_run_after_data_as_its_usage_line_shows(
    trained_run, corpus, capsys
):
    # `usage: seq2seq evaluate ... --data FILE [FILE ...] ... RUN`: typed
    # so, --data took RUN as a corpus file and RUN was "required".
    test = str(corpus / "test.tsv")
    argv = ["evaluate", "--data", test, str(trained_run)]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("12 sentences, beam 1: BLEU")
    # RUN still missing is still a usage error.
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--data", test, test])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith("the following arguments are required: RUN\n")
    assert " RUN\n" in err and "[RUN]" not in err  # the usage line


# --- A --config file with a value of the wrong type ---


def test_a_config_file_value_of_the_wrong_type_names_the_file(
    tmp_path, capsys, no_training
):
    # Flags are typed by argparse, so only the file can hold a string
    # where a number goes, but the error did not name it.
    config = tmp_path / "run.yaml"
    config.write_text('cell: lstm\nbatch_size: "32"\n')
    assert main(train_argv(tmp_path, "--config", str(config))) == 1
    one_error_line(
        capsys, f"config file {config}: ", "'batch_size' must be int; got '32'"
    )
    assert not no_training and not (tmp_path / "runs").exists()


# --- Ctrl-C in a long translate ---


def test_ctrl_c_in_a_long_translate_keeps_the_lines_done(
    trained_run, tmp_path, monkeypatch, capsys
):
    # `translate --input big.txt > out.txt` translated every line before
    # it wrote one: Ctrl-C after an hour's work left out.txt empty.
    def ctrl_c():
        raise KeyboardInterrupt

    status, done = translate_interrupted(
        trained_run, tmp_path, monkeypatch, ctrl_c
    )
    assert status == 130
    captured = capsys.readouterr()
    lines = captured.out.splitlines()  # whole lines, in input order
    assert 0 < len(lines) == done
    assert lines == [f"SENTENCE {i}." for i in range(len(lines))]
    assert captured.err.splitlines() == [
        f"seq2seq: translated {len(lines)} of 3000 inputs before the "
        "interrupt; the output holds their lines",
        "seq2seq: interrupted",
    ]


# --- A length penalty too large for float32 ---


def test_a_length_penalty_that_overflows_is_one_error_line(trained_run, capsys):
    # ((5 + length) / 6) ** 50 overflows float32: every hypothesis came
    # out empty, scored -inf, under NumPy's RuntimeWarning; 1e308 gave
    # "OverflowError: (34, 'Numerical result out of range')".
    argv = ["translate", str(trained_run), "Go.", "--beam", "2"]
    for value in ("50", "1e308"):
        assert main([*argv, "--length-penalty", value]) == 1
        one_error_line(capsys, "--length-penalty", "[0, 10]", str(float(value)))


# --- Outer whitespace of an input line ---


def test_outer_whitespace_of_an_input_changes_no_translation(
    trained_run, tmp_path
):
    # Training strips each side of a pair, but translate gave a character
    # model " Go.\t" with its space and tab: tokens it never saw around a
    # sentence, so another translation than "Go." (a file with trailing
    # spaces, a pasted line). The tiny run, made character-level:
    run = shutil.copytree(trained_run, tmp_path / "run")
    for side in ("source", "target"):
        size = Tokenizer.load(run, side, "sentencepiece").vocab_size
        chars = [chr(c) for c in range(32, 32 + size - len(SPECIALS))]
        Tokenizer("char", [*SPECIALS, *chars]).save(run, side)
        (run / f"{side}.spm").unlink()
    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(
        yaml.safe_dump(config | {"tokenizer": "char"})
    )
    inputs = ["Go.", " Go.\t", "  Go.  "]  # lines of a file, say
    found = [
        (h.text, h.source_tokens, h.score)
        for [h] in Translator.load(run).translate(inputs)
    ]
    assert found[0][:2] == found[1][:2] == found[2][:2]
    assert found[0][1] == ["G", "o", "."]
    # The same tokens in other rows of one XLA program: the same score to
    # float32 rounding (XLA may give a batch's rows other kernels).
    for _, _, score in found[1:]:
        assert score == pytest.approx(found[0][2], rel=1e-6)


# --- A new run where an earlier run left its checkpoints ---


def test_a_new_run_never_mixes_its_checkpoints_with_an_earlier_runs(
    trained_run, tmp_path, capsys, no_training
):
    # A run folder without its state.json (deleted to start over, or a
    # kill between a checkpoint and its state), its checkpoints still
    # there: a new run wrote its own beside them, `average --last N` then
    # averaged the two runs' weights, and pruning by step kept the earlier
    # run's higher steps and deleted the new run's.
    folder = shutil.copytree(trained_run, tmp_path / "runs" / "again")
    (folder / "state.json").unlink()
    paths = sorted(folder.rglob("*"))
    files = {p: p.read_bytes() for p in paths if p.is_file()}
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--name", "again")
    assert main([*argv, "--tokenizer", "char"]) == 1
    line = one_error_line(capsys, str(folder), "checkpoints", "--name")
    assert str(folder / "checkpoints") in line
    assert not no_training
    assert sorted(folder.rglob("*")) == paths
    assert {p: p.read_bytes() for p in files} == files


# --- translate with stdin closed ---


def test_translate_with_stdin_closed_is_one_error_line(
    trained_run, monkeypatch, capsys
):
    # `seq2seq translate RUN <&-` (a job with no input): Python's stdin is
    # None, and the error was "AttributeError: 'NoneType' object has no
    # attribute 'isatty'; rerun with --debug".
    monkeypatch.setattr("sys.stdin", None)
    for extra in ([], ["--input", "-"]):
        assert main(["translate", str(trained_run), *extra]) == 1
        one_error_line(capsys, "stdin is closed", "--input FILE")


# --- serve stopped as soon as it says where it serves ---


def test_serve_handles_sigterm_once_it_says_where_it_serves(monkeypatch):
    # The "serving ... on http://..." line came before the SIGTERM
    # handler: a supervisor that stops the server once it sees the line
    # killed it (status -15, no clean-up) instead of stopping it (0).
    handled = []

    def serving_line(*args, **kwargs):
        handled.append(signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL)
        raise KeyboardInterrupt  # stop here, as Ctrl-C would

    monkeypatch.setattr(serve, "print", serving_line, raising=False)
    translator = SimpleNamespace(translate=None, max_source_length=80)
    app = serve.make_app(translator)
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(serve._run_until_stopped(app, "127.0.0.1", 0, "run"))
    assert handled == [True]
