"""What a demanding user meets, sixteenth round: a bad `--beam-size`,
`--n-best` or `--length-penalty` named "beam", "n-best" or "length
penalty" (the translator's words), not the flag typed; an empty input
file translated into nothing without a word.

Each test pins one defect, on the tiny run of `conftest.py` or files the
test writes; none trains a model.
"""

import io

import pytest
from cli_support import one_error_line

from keras_seq2seq.cli import main
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
