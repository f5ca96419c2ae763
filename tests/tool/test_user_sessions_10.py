"""What a demanding user meets, tenth round: a `~/` path where the shell
does not expand it (`--runs-dir=~/runs`, a config file's `data:
~/train.tsv`); a beam too wide for memory; a letter typed as a base
letter and a combining accent; a resume of a run folder it cannot write;
an attention map of pieces its font cannot draw (Chinese, emoji); the
URL `serve --host ::1` prints; an empty path (`--json "$OUT"` with OUT
unset); exact match against references with no-break spaces; a model file
given where the run folder goes; a serve request that runs out of
memory; `average --last 3` of a run with 2 checkpoints so far;
`--columns 1 1`; stdout or stderr closed (`>&-`, `2>&-`);
`--vocab-size` with `--tokenizer char`; Ctrl-C while Keras imports; SIGTERM
in a long translate; the progress line on an 80-column terminal;
`--columns` with two aligned files; the resume command of a run
named `-old`.

Each test pins one defect, on the tiny run of `conftest.py` or files the
test writes; none trains a model (the training loop is replaced where it
would start).
"""

import asyncio
import errno
import io
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import unicodedata
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cli_support import (
    WARNING,
    one_error_line,
    train_argv,
    translate_interrupted,
    tsv_corpus,
    warning_lines,
)

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import progress as progress_lib
from keras_seq2seq.nmt import scoring, serve
from keras_seq2seq.nmt.progress import Progress
from keras_seq2seq.nmt.tokenizer import Tokenizer
from keras_seq2seq.nmt.translator import Hypothesis, Translator
from keras_seq2seq_cli.parser import parse_args
from shared_data import DATA


@pytest.fixture
def trains_nothing(monkeypatch):
    """Replaces the training loop: records the run folder it was given,
    and the run ends at once (no checkpoint)."""
    seen = []

    def record(run, model, encoded, dev, state):
        seen.append(run.path)

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", record)
    return seen


def test_a_tilde_path_is_the_home_folder_as_a_shell_reads_it(
    trained_run, corpus, tmp_path, monkeypatch, capsys, trains_nothing
):
    # The shell leaves `~` alone after `=` and in a YAML file: the run
    # went into a folder named "~" in the current folder (printed as
    # "~/runs/x", which reads as the home folder), and a config file's
    # `data: ~/train.tsv` was "not found".
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    home.mkdir()
    tsv_corpus(home / "train.tsv", 40)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    small = ["--tokenizer", "char", "--batch-size", "8", "--dev-size", "4"]
    argv = ["train", "--data=~/train.tsv", "--runs-dir=~/runs", *small]
    assert main([*argv, "--name", "flags"]) == 0
    config = work / "run.yaml"
    config.write_text("data: ~/train.tsv\nruns_dir: ~/runs\n", "utf-8")
    argv = ["train", "--config", str(config), *small]
    assert main([*argv, "--name", "file"]) == 0
    assert trains_nothing == [home / "runs" / "flags", home / "runs" / "file"]
    assert sorted(os.listdir(work)) == ["run.yaml"]  # no folder "~"
    # The other commands' files too: `--json=~/scores.json`.
    test = str(corpus / "test.tsv")
    argv = ["evaluate", str(trained_run), "--data", test]
    assert main([*argv, "--json=~/scores.json"]) == 0
    assert (home / "scores.json").is_file()
    assert sorted(os.listdir(work)) == ["run.yaml"]
    capsys.readouterr()


class ResourceExhaustedError(Exception):
    """As TensorFlow names a failed allocation."""


def test_a_beam_too_wide_for_memory_names_the_beam(
    trained_run, corpus, tmp_path, monkeypatch, capsys
):
    # `--beam 1000` on a vocabulary of 4000 pieces asked TensorFlow for
    # 3.17 GiB at once; the error line said "ResourceExhaustedError: ...;
    # rerun with --debug for the traceback", not what to lower.
    def exhausted(self, batch, rows, beam, n_best, length_penalty):
        raise ResourceExhaustedError(
            "Out of memory while trying to allocate 3.17GiB. [Op:counted]"
        )

    monkeypatch.setattr(Translator, "_translate_batch", exhausted)
    for argv in (
        ["translate", str(trained_run), "--beam", "20", "Go."],
        ["evaluate", str(trained_run), "--data", str(corpus / "test.tsv"),
         "--beam", "20"],
        ["plot", str(trained_run), "Go.", "--beam", "20", "--output",
         str(tmp_path / "go.png")],
    ):  # fmt: skip
        assert main(argv) == 1
        one_error_line(capsys, "out of memory", "--beam-size 20", "lower")


def test_a_letter_with_a_combining_accent_reads_as_the_same_letter():
    # "canción" typed as "n" + U+0301 (macOS input, a copy from a PDF):
    # the character vocabulary, learnt from "ó", read the two as unknown
    # pieces; sentencepiece (NFKC) read both forms alike.
    word = "canci\u00f3n"
    decomposed = unicodedata.normalize("NFD", word)
    assert decomposed != word
    composed_vocabulary = Tokenizer.train([word], "char")
    assert composed_vocabulary.encode(decomposed) == (
        composed_vocabulary.encode(word)
    )
    # A corpus written decomposed reads a composed input alike.
    decomposed_vocabulary = Tokenizer.train([decomposed], "char")
    assert decomposed_vocabulary.encode(word) == (
        decomposed_vocabulary.encode(decomposed)
    )
    # What the vocabulary holds as given is read as given.
    both = Tokenizer.train([word, decomposed], "char")
    assert both.encode(word) != both.encode(decomposed)


def test_a_resume_of_a_run_it_cannot_write_fails_before_training(
    trained_run, tmp_path, monkeypatch, capsys, trains_nothing
):
    # A run folder copied read-only (another user's, a read-only mount):
    # the resume trained a whole validation period (500 steps by
    # default), then its first checkpoint failed to write.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    real_open = os.open

    def denied(path, flags, *args, **kwargs):
        # As chmod 555 does (root ignores it): no new file in the run.
        if os.path.dirname(os.fspath(path)) in (
            str(run),
            str(run / "checkpoints"),
        ) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    argv = train_argv(tmp_path, "--resume", "--name", "copy")
    assert main([*argv, "--max-steps", "8"]) == 1
    one_error_line(capsys, str(run), "Permission denied")
    assert trains_nothing == []


def test_pieces_the_font_cannot_draw_are_one_warning_line(
    trained_run, tmp_path, monkeypatch, capsys
):
    # Chinese pieces or an emoji in the heat map: matplotlib wrote two
    # lines per character to stderr ("plot.py:74: UserWarning: Glyph
    # 26085 (\N{CJK UNIFIED IDEOGRAPH-65E5}) missing from font(s) DejaVu
    # Sans." and the source line), ten for this sentence.
    found = Hypothesis(
        "\u4f60\u597d\U0001f44d",
        -1.0,
        ["\u2581\u65e5\u672c", "\u2581ok"],
        ["\u2581\u4f60\u597d", "\U0001f44d"],
        [[0.7, 0.3], [0.2, 0.8]],
    )
    monkeypatch.setattr(
        Translator, "translate", lambda self, sentences, **search: [[found]]
    )
    output = tmp_path / "cjk.png"
    argv = [
        "plot",
        str(trained_run),
        "\u65e5\u672c ok",
        "--output",
        str(output),
    ]
    assert main(argv) == 0
    assert output.is_file()
    captured = capsys.readouterr()
    assert captured.out == found.text + "\n"
    [warning] = [
        line
        for line in captured.err.splitlines()
        if "attention heat map:" not in line
    ]
    assert warning.startswith(WARNING), warning
    for character in "\u65e5\u672c\u4f60\u597d\U0001f44d":
        assert character in warning
    assert "boxes" in warning and "serve" in warning


def test_serve_on_an_ipv6_address_prints_a_url_that_opens(monkeypatch):
    # `serve --host ::1` said "serving run on http://::1:41919/": not a
    # URL (a browser or curl reads "::1:41919" as a host), where RFC 3986
    # writes an IPv6 address in brackets: http://[::1]:41919/.
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6 support to bind ::1 with")
    lines = []

    def serving_line(text, **kwargs):
        lines.append(text)
        raise KeyboardInterrupt  # stop here, as Ctrl-C would

    monkeypatch.setattr(serve, "print", serving_line, raising=False)
    translator = SimpleNamespace(translate=None, max_source_length=80)
    for host in ("::1", "127.0.0.1"):
        app = serve.make_app(translator)
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(serve._run_until_stopped(app, host, 0, "run"))
        url = lines[-1].split(" on ")[1].split()[0]
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname == host, url
        assert 0 < parts.port < 65536, url


def test_an_empty_file_or_folder_option_is_refused(
    trained_run, corpus, tmp_path, monkeypatch, capsys, trains_nothing
):
    # `--json "$OUT"` with OUT unset: evaluate wrote no JSON file and said
    # nothing; `--runs-dir ""` trained into the current folder;
    # `--input ""` read stdin instead of a file.
    monkeypatch.chdir(tmp_path)
    run, test = str(trained_run), str(corpus / "test.tsv")
    for argv in (
        ["evaluate", run, "--data", test, "--json", ""],
        ["evaluate", run, "--data", test, "--output", ""],
        ["translate", run, "--input", "", "Go."],
        ["translate", run, "--model", "", "Go."],
        ["plot", run, "Go.", "--output", ""],
        ["translate", "", "Go."],
        ["train", "--data", test, "--runs-dir", "", "--name", "x"],
        ["train", "--data", "", "--name", "x"],
        ["train", "--config", "", "--name", "x"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2, argv
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "is empty" in err, (argv, err)
    config = tmp_path / "run.yaml"
    config.write_text(f"data: {test}\nruns_dir: ''\n", "utf-8")
    assert main(["train", "--config", str(config), "--name", "x"]) == 1
    one_error_line(capsys, str(config), "runs_dir", "is empty")
    assert trains_nothing == []
    assert sorted(os.listdir(tmp_path)) == ["run.yaml"]


def test_a_reference_with_no_break_spaces_is_matched_exactly():
    # French Tatoeba writes "là !" with a narrow no-break space (U+202F)
    # or a no-break space (U+00A0) before "!", "?", ":" (171 of the 2000
    # test pairs). Sentencepiece reads and writes them as plain spaces, so
    # no model could match them: its own pieces of the reference scored
    # BLEU 100, chrF 100 and exact match 0.
    with open(DATA / "tatoeba-eng-fra" / "test.tsv", encoding="utf-8") as f:
        references = [
            line.rstrip("\n").split("\t")[1]
            for line in f
            if "\u202f" in line or "\u00a0" in line
        ][:60]
    assert len(references) == 60
    vocabulary = Tokenizer.train(references, "sentencepiece", 200)
    own = [vocabulary.decode(vocabulary.encode(r)) for r in references]
    assert own != references  # the spaces the pieces cannot write
    scores = scoring.score(own, references)
    assert scores["bleu"] == pytest.approx(100)
    assert scores["exact_match"] == 1.0
    # Other words are still other words, and a missing space is missing.
    assert (
        scoring.score(["Je suis ici !"], ["Je suis l\u00e0\u202f!"])[
            "exact_match"
        ]
        == 0.0
    )
    assert (
        scoring.score(["Je suis l\u00e0!"], ["Je suis l\u00e0\u202f!"])[
            "exact_match"
        ]
        == 0.0
    )


def test_a_model_file_given_as_the_run_names_its_folder(trained_run, capsys):
    # `translate runs/x/averaged.keras "Go."` (the path `average` printed)
    # said "run folder runs/x/averaged.keras not found; train one", of a
    # file that is there.
    for name in ("model.keras", "checkpoints"):
        given = trained_run / name
        if name == "checkpoints":
            given = sorted(given.iterdir())[-1]
        assert main(["translate", str(given), "Go."]) == 1
        line = one_error_line(capsys, str(given), "is a file", "--model")
        assert "not found" not in line
        relative = given.relative_to(trained_run)
        assert f"{trained_run} --model {relative}" in line


def test_serve_says_a_request_ran_out_of_memory():
    # A beam of 16 over 32 long sentences that does not fit: the answer
    # was 500 "internal error; see the server log", as for a bug.
    class Exhausted:
        max_source_length = 80
        source_tokenizer = SimpleNamespace(encode=list)
        target_tokenizer = SimpleNamespace(vocab_size=32)

        def translate(self, sentences, beam=1, n_best=1, length_penalty=0):
            raise ResourceExhaustedError("OOM when allocating tensor")

    async def post(body):
        app = serve.make_app(Exhausted())
        async with TestClient(TestServer(app)) as client:
            answer = await client.post("/translate", json=body)
            return answer.status, await answer.json()

    status, answer = asyncio.run(post({"sentences": ["Go."], "beam": 16}))
    assert status == 503
    assert "out of memory" in answer["error"]
    assert "smaller beam" in answer["error"]


def test_average_of_a_young_run_does_not_blame_keep_checkpoints(
    trained_run, tmp_path, capsys
):
    # A run of 2 checkpoints that keeps 5: `average --last 3` said the run
    # "keeps (2; see --keep-checkpoints)", as if the setting were 2.
    run = shutil.copytree(trained_run, tmp_path / "runs" / "young")
    assert main(["average", str(run), "--last", "3"]) == 0
    [warning] = warning_lines(capsys)
    assert "has 2 so far" in warning and "keeps 5" in warning, warning
    assert "averaging those 2" in warning
    # A run that keeps 2 (--keep-checkpoints 2) is told so.
    config = run / "config.yaml"
    text = config.read_text("utf-8")
    assert "keep_checkpoints: 5\n" in text
    config.write_text(
        text.replace("keep_checkpoints: 5", "keep_checkpoints: 2")
    )
    assert main(["average", str(run), "--last", "3"]) == 0
    [warning] = warning_lines(capsys)
    assert "keeps 2 (--keep-checkpoints)" in warning, warning


def test_the_same_column_for_source_and_target_is_refused(
    trained_run, corpus, tmp_path, capsys, trains_nothing
):
    # `--columns 1 1` (a slip for `1 0`): evaluate translated the
    # references and scored them against themselves, train learnt to
    # copy its sources; neither said a word.
    test = str(corpus / "test.tsv")
    for argv in (
        ["evaluate", str(trained_run), "--data", test, "--columns", "1", "1"],
        train_argv(tmp_path, "--data", test, "--columns", "0", "0"),
    ):
        assert main(argv) == 1
        one_error_line(capsys, "--columns", "same column")
    assert trains_nothing == []


def test_translate_with_stdout_closed_is_one_error_line(
    trained_run, monkeypatch, capsys
):
    # `seq2seq translate RUN "Go." >&-`: "AttributeError: 'NoneType'
    # object has no attribute 'write'; rerun with --debug", after the
    # model had loaded and translated.
    def refuse(*args, **kwargs):
        raise AssertionError("loaded the model with nowhere to write")

    monkeypatch.setattr(Translator, "load", refuse)
    monkeypatch.setattr("sys.stdout", None)
    assert main(["translate", str(trained_run), "Go."]) == 1
    one_error_line(capsys, "stdout is closed", "> FILE")


def test_translate_with_stderr_closed_still_translates(trained_run, tmp_path):
    # `seq2seq translate RUN "Go." 2>&-` (a daemon, a cron job): the
    # launcher flushed the missing stderr before it imported Keras, and
    # the command died with status 1 and no translation.
    out = tmp_path / "out.txt"
    seq2seq = Path(sys.executable).with_name("seq2seq")
    command = (
        f"exec {shlex.quote(str(seq2seq))} translate "
        f"{shlex.quote(str(trained_run))} Go. Hi. >{shlex.quote(str(out))} "
        "2>&-"
    )
    # As a user's shell runs it: TensorFlow's log level unset.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(["bash", "-c", command], env=env, timeout=120)
    assert done.returncode == 0
    assert len(out.read_text("utf-8").splitlines()) == 2


def test_a_vocabulary_size_for_characters_is_said_to_change_nothing(
    tmp_path, capsys, no_training
):
    # `--tokenizer char --vocab-size 50`: the vocabulary held every
    # character of the corpus (whatever their number), silently.
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--tokenizer", "char")
    main([*argv, "--vocab-size", "50", "--name", "sized"])
    [warning] = warning_lines(capsys)
    assert "--vocab-size 50" in warning and "--tokenizer char" in warning
    assert "changes nothing" in warning
    main([*argv, "--name", "unsized"])
    assert warning_lines(capsys) == []


class _CtrlCOnImport:
    """A finder that raises Ctrl-C's `KeyboardInterrupt` when `name` is
    imported, as a Ctrl-C in the seconds TensorFlow takes to import."""

    def __init__(self, name):
        self.name = name

    def find_spec(self, name, path=None, target=None):
        if name == self.name:
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_keras_imports_is_one_line(
    trained_run, monkeypatch, capsys
):
    # Ctrl-C in the first seconds of any command (a typo seen after
    # Enter): a 40-line traceback through TensorFlow's import, and no
    # "interrupted" line.
    import keras_seq2seq
    import keras_seq2seq_cli

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # no stderr redirect
    monkeypatch.delattr(keras_seq2seq, "cli")
    monkeypatch.delitem(sys.modules, "keras_seq2seq.cli")
    finder = _CtrlCOnImport("keras_seq2seq.cli")
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    assert keras_seq2seq_cli.main(["translate", str(trained_run), "Go."]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["seq2seq: interrupted"], err


def test_sigterm_in_a_long_translate_keeps_the_lines_done(
    trained_run, tmp_path, monkeypatch, capsys
):
    # `timeout 1h seq2seq translate --input big.txt > out.txt` (or a job
    # scheduler's stop): SIGTERM killed the process at once, without the
    # line that says how many inputs the output holds, which Ctrl-C
    # gives; `train` already stops alike for both.
    status, _ = translate_interrupted(
        trained_run,
        tmp_path,
        monkeypatch,
        lambda: os.kill(os.getpid(), signal.SIGTERM),
    )
    assert status == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines == [f"SENTENCE {i}." for i in range(2048)]
    assert captured.err.splitlines() == [
        "seq2seq: translated 2048 of 3000 inputs before the interrupt; the "
        "output holds their lines",
        "seq2seq: interrupted",
    ]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_line_fits_an_80_column_terminal(monkeypatch):
    # Step 12,345 of the default 100,000 with hours left: the line took
    # 82 columns, so an 80-column terminal wrapped it and `\r` redrew only
    # its last row: a new line scrolled up twice a second.
    monkeypatch.setenv("COLUMNS", "80")
    clock = iter([0.0, 0.0, 3600.0])
    monkeypatch.setattr(progress_lib.time, "monotonic", lambda: next(clock))
    stream = _Terminal()
    progress = Progress(100_000, token_counts=[4000] * 12345, stream=stream)
    optimizer = SimpleNamespace(iterations=np.int64(10))
    progress.set_model(SimpleNamespace(optimizer=optimizer))
    progress.on_train_begin()
    progress.on_epoch_begin(10)
    optimizer.iterations = np.int64(12345)
    progress.on_train_batch_end(0, {"loss": 3.1234})
    [line] = [part for part in stream.getvalue().split("\r") if part]
    shown = line.replace("\x1b[K", "")
    assert "step 12345/100000" in shown and "left" in shown, shown
    assert len(shown) < 80, (len(shown), shown)


def test_columns_with_two_aligned_files_are_refused(
    trained_run, corpus, tmp_path, capsys, trains_nothing
):
    # `--columns 1 0` picks TSV columns: with two aligned files it was
    # ignored, and the corpus read in the direction it was not meant to.
    pairs = [
        line.split("\t")[:2]
        for line in (corpus / "test.tsv").read_text("utf-8").splitlines()
    ]
    english, spanish = tmp_path / "test.en", tmp_path / "test.es"
    english.write_text("".join(e + "\n" for e, _ in pairs), "utf-8")
    spanish.write_text("".join(s + "\n" for _, s in pairs), "utf-8")
    files = [str(spanish), str(english)]
    for argv in (
        ["evaluate", str(trained_run), "--data", *files, "--columns", "1", "0"],
        train_argv(tmp_path, "--data", *files, "--columns", "1", "0"),
    ):
        assert main(argv) == 1
        one_error_line(capsys, "--columns", "--reverse")
    assert trains_nothing == []
    # The default columns, or --reverse, read them.
    argv = ["evaluate", str(trained_run), "--data", *files, "--reverse"]
    assert main(argv) == 0


def test_the_resume_command_of_a_run_named_with_a_dash_parses(
    trained_run, tmp_path, monkeypatch, capsys
):
    # A run made with `--name=-old`: after Ctrl-C, the command said
    # `seq2seq train --resume --name -old`, which argparse refuses
    # ("expected one argument"): the printed command did not resume.
    runs = tmp_path / "-runs"
    shutil.copytree(trained_run, runs / "-old")

    def stop(run, model, encoded, dev, state):
        raise KeyboardInterrupt

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", stop)
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--resume", "--runs-dir=-runs", "--name=-old"]
    assert main([*argv, "--max-steps", "8"]) == 130
    [said] = [
        line
        for line in capsys.readouterr().err.splitlines()
        if "continue it with" in line
    ]
    command = shlex.split(said.split("`")[1])
    assert command[0] == "seq2seq"
    args = parse_args(command[1:])
    assert (args.resume, args.runs_dir, args.name) == (True, "-runs", "-old")
    assert args.max_steps == 8
