"""What a demanding user meets, sixteenth round: a bad `--beam-size`,
`--n-best` or `--length-penalty` named "beam", "n-best" or "length
penalty" (the translator's words), not the flag typed; an empty input
file translated into nothing without a word; a line of control
characters (NUL, a terminal's escape) translated from unknown pieces; a
very long line read from a pipe in time quadratic in its length; Ctrl-C
silent on the steps since the last checkpoint, which a resume redoes.

Each test pins one defect, on the tiny run of `conftest.py` or files the
test writes; none trains a model.
"""

import io
import json
import os
import threading

import pytest
from cli_support import one_error_line, stderr_lines, train_argv, tsv_corpus

from keras_seq2seq.cli import main
from keras_seq2seq.nmt.line_stream import READ_SIZE, line_chunks
from keras_seq2seq.nmt.tokenizer import Tokenizer
from keras_seq2seq.nmt.translator import Translator

# --- 1. Search options named by their flags ---


def _not_loaded(*args, **kwargs):
    raise AssertionError("loaded the run before checking the options")


@pytest.mark.parametrize(
    "command",
    [
        ["translate", "RUN", "Go."],
        ["evaluate", "RUN", "--data", "TEST"],
        ["plot", "RUN", "Go.", "--output", "OUT.png"],
    ],
    ids=["translate", "evaluate", "plot"],
)
def test_a_bad_search_option_is_named_by_its_flag_before_the_load(
    command, trained_run, corpus, tmp_path, capsys, monkeypatch
):
    # "beam must be an integer >= 1; got 0": the user typed --beam-size
    # (or --beam), and the run's model had been loaded for seconds first.
    monkeypatch.setattr(Translator, "load", _not_loaded)
    monkeypatch.setattr(Translator, "from_run", _not_loaded)
    places = {
        "RUN": str(trained_run),
        "TEST": str(corpus / "test.tsv"),
        "OUT.png": str(tmp_path / "out.png"),
    }
    argv = [places.get(word, word) for word in command]
    assert main([*argv, "--beam-size", "0"]) == 1
    one_error_line(capsys, "--beam-size must be an integer >= 1", "got 0")
    assert main([*argv, "--beam", "2", "--length-penalty", "nan"]) == 1
    one_error_line(capsys, "--length-penalty must be a number in [0, 10]")
    if command[0] != "translate":
        return
    assert main([*argv, "--n-best", "0"]) == 1
    one_error_line(capsys, "--n-best must be an integer >= 1", "got 0")
    assert main([*argv, "--beam-size", "2", "--n-best", "3"]) == 1
    one_error_line(
        capsys, "--n-best 3 is more than --beam-size 2", "give --beam-size 3"
    )


def test_a_beam_wider_than_the_vocabulary_is_named_by_its_flag(
    trained_run, capsys
):
    size = Translator.load(trained_run).target_tokenizer.vocab_size
    argv = ["translate", str(trained_run), "Go.", "--beam-size", str(size + 1)]
    assert main(argv) == 1
    one_error_line(
        capsys,
        f"--beam-size {size + 1} is wider than the target vocabulary",
        f"give --beam-size {size} or less",
    )


def test_the_translator_names_its_python_arguments(trained_run):
    # In Python the arguments are n_best= and length_penalty=.
    translator = Translator.load(trained_run)
    with pytest.raises(Exception, match="^n_best must be an integer >= 1"):
        translator.translate(["Go."], n_best=0)
    with pytest.raises(Exception, match="^n_best 2 is more than beam 1"):
        translator.translate(["Go."], n_best=2)
    with pytest.raises(Exception, match="^length_penalty must be a number"):
        translator.translate(["Go."], beam=2, length_penalty=11.0)


# --- 2. An empty input ---


def test_an_empty_input_says_so_in_one_line(
    trained_run, tmp_path, capsys, monkeypatch
):
    # `translate RUN --input empty.txt` (a `cut` that matched nothing)
    # wrote nothing and said nothing: a failure or a success?
    empty = tmp_path / "empty.txt"
    for content in (b"", b"\xef\xbb\xbf"):  # a byte-order mark is no line
        empty.write_bytes(content)
        assert main(["translate", str(trained_run), "--input", str(empty)]) == 0
        out, err = capsys.readouterr()
        assert out == ""
        assert err.splitlines() == [
            f"seq2seq: {empty} is empty: no lines to translate"
        ]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert main(["translate", str(trained_run)]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        "seq2seq: stdin is empty: no lines to translate\n",
    )
    # A blank line is a line: its blank translation, and no note.
    empty.write_text("\n")
    assert main(["translate", str(trained_run), "--input", str(empty)]) == 0
    assert capsys.readouterr() == ("\n", "")


# --- 3. Lines of control characters, and very long lines ---


def test_a_line_of_control_characters_is_blank_with_either_tokenizer(
    trained_run, tmp_path, capsys, corpus
):
    # A terminal's escape codes or a NUL are no text: sentencepiece dropped
    # most of them, but NUL became a piece the model translated, and the
    # character tokenizer made an unknown piece of each, translated too.
    text = tmp_path / "controls.txt"
    text.write_text("\x00\n\x1b\x07\x01\n\u200b\x7f\nGo.")  # no final newline
    assert main(["translate", str(trained_run), "--input", str(text)]) == 0
    out = capsys.readouterr().out.split("\n")
    assert len(out) == 5 and out[:3] == ["", "", ""] and out[4] == ""
    lines = (corpus / "train.tsv").read_text(encoding="utf-8").splitlines()
    sides = [line.split("\t")[0] for line in lines]
    chars = Tokenizer.train(sides, "char")
    for line in ("\x00", "\x1b\x07\x01", "\u200b\x7f"):
        assert chars.encode(line) == []
    assert chars.encode("G\x00o") == chars.encode("Go")
    # A control character the vocabulary holds is read as before.
    tabbed = Tokenizer.train(["a\x07b"], "char")
    assert tabbed.tokens(tabbed.encode("a\x07b")) == ["a", "\x07", "b"]


def _chunks_of_a_pipe(data: bytes, size=1024):
    """The chunks `line_chunks` reads from a pipe fed `data`."""
    read_end, write_end = os.pipe()

    def feed():
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:
        chunks = list(line_chunks(pipe, size, "stdin"))
    writer.join()
    return chunks


def test_a_long_line_is_read_whole_from_a_pipe():
    # A line is gathered from many reads (64 KiB each); its pieces are
    # joined once its end comes, or the input's, not copied at each read
    # (a line of 100 MB took minutes, 1 s now).
    long = "día " * 300_000  # 1.5 MB, over 20 reads
    data = f"{long}\r\nGo.\r{long}".encode()
    lines = [line for chunk in _chunks_of_a_pipe(data) for line in chunk]
    assert lines == [long, "Go.", long]
    # A "\r\n" split over two reads ends one line.
    at_edge = b"x" * (READ_SIZE - 1) + b"\r\nGo.\n"
    lines = [line for chunk in _chunks_of_a_pipe(at_edge) for line in chunk]
    assert lines == ["x" * (READ_SIZE - 1), "Go."]


def test_a_100_kb_line_is_translated_cut_with_one_warning(
    trained_run, tmp_path, capsys
):
    text = tmp_path / "long.txt"
    text.write_text("Tom " * 25_000 + "\nGo.")  # 100 kB; no final newline
    assert main(["translate", str(trained_run), "--input", str(text)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert [line for line in stderr_lines(err)] == [
        "seq2seq: warning: input 1 is longer than the model's 80 source "
        "tokens; translated its first 80"
    ]


# --- 4. Ctrl-C between checkpoints ---


def test_ctrl_c_says_how_many_steps_the_checkpoint_lacks(
    tmp_path, monkeypatch, capsys
):
    # "keeps its checkpoint of step 2" and nothing more: Ctrl-C at step 7
    # lost 5 steps, which the resume's "resuming ... at step 2" revealed.
    def checkpoint_then_steps(run, model, encoded, dev, state):
        state.update(step=2, checkpoint="step-0000002.keras")
        (run.path / "state.json").write_text(json.dumps(state))
        model.optimizer.iterations.assign(7)
        raise KeyboardInterrupt

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", checkpoint_then_steps)
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--name", "r")
    assert main([*argv, "--tokenizer", "char"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith(
        f"seq2seq: {tmp_path / 'runs' / 'r'} keeps its checkpoint of step 2 "
        "(training reached step 7: the 5 steps since it are not kept; a "
        "checkpoint comes with each validation, --validate-every); continue "
        "it with "
    ), err
