"""What a new user meets at the command line: odd input, odd options.

Each test pins a defect found by using the tool as a user would (blank
lines on stdin, beams wider than the vocabulary, files in missing
folders, ...) on the tiny run of `conftest.py`.
"""

import asyncio
import io
import re
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cli_support import one_error_line

from keras_seq2seq.cli import COMMANDS, main
from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt.data import read_pairs
from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.serve import make_app
from keras_seq2seq.nmt.translator import Hypothesis, Translator


def _stdin(monkeypatch, text):
    stream = io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), "utf-8")
    monkeypatch.setattr(sys, "stdin", stream)


def test_blank_input_lines_give_blank_translations(
    trained_run, trained_translator, monkeypatch, capsys
):
    _stdin(monkeypatch, "Hello.\n\n   \nI am here.\n")
    assert main(["translate", str(trained_run)]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert len(lines) == 5 and lines[-1] == ""  # four lines, one per input
    assert lines[1] == lines[2] == ""
    blank, real = trained_translator.translate(
        ["  ", "Hello."], beam=2, n_best=2
    )
    assert [(h.text, h.score, h.source_tokens) for h in blank] == [
        ("", 0.0, []),
        ("", 0.0, []),
    ]
    assert real[0].source_tokens and real[0].score < 0


def test_plot_of_an_empty_sentence_isone_error_line(
    trained_run, tmp_path, capsys
):
    output = tmp_path / "empty.png"
    argv = ["plot", str(trained_run), " ", "--output", str(output)]
    assert main(argv) == 1
    one_error_line(capsys, "empty")
    assert not output.exists()


def test_beam_wider_than_the_vocabulary_isone_error_line(trained_run, capsys):
    size = Translator.load(trained_run).target_tokenizer.vocab_size
    argv = ["translate", str(trained_run), "Hello.", "--beam", str(size + 1)]
    assert main(argv) == 1
    one_error_line(
        capsys, f"--beam-size {size + 1}", f"--beam-size {size} or less"
    )


def test_length_penalty_must_be_finite(trained_run, capsys):
    for value in ("nan", "inf"):
        argv = ["translate", str(trained_run), "Hi.", "--beam", "2"]
        assert main([*argv, "--length-penalty", value]) == 1
        one_error_line(capsys, "--length-penalty", value)


def test_serve_answers_422_for_a_beam_wider_than_the_vocabulary(trained_run):
    translator = Translator.load(trained_run)
    wide = translator.target_tokenizer.vocab_size + 1
    body = {"sentences": ["Hello."], "beam": wide}

    async def ask():
        app = make_app(translator, max_beam=wide)
        async with TestClient(TestServer(app)) as client:
            answer = await client.post("/translate", json=body)
            return answer.status, await answer.json()

    status, answer = asyncio.run(ask())
    assert (
        status == 422
        and "wider than the target vocabulary" in (answer["error"])
    )


def test_evaluate_output_in_a_missing_folder_fails_before_translating(
    trained_run, corpus, tmp_path, capsys, monkeypatch
):
    def refuse(*args, **kwargs):
        raise AssertionError("translated before checking the output paths")

    monkeypatch.setattr(Translator, "translate", refuse)
    test = str(corpus / "test.tsv")
    for flag in ("--json", "--output"):
        missing = tmp_path / "missing" / "out.txt"
        argv = ["evaluate", str(trained_run), "--data", test, flag]
        assert main([*argv, str(missing)]) == 1
        one_error_line(capsys, flag, f"folder {missing.parent} does not")


def test_input_file_byte_order_mark_is_not_part_of_the_first_sentence(
    trained_run, tmp_path, capsys, monkeypatch
):
    seen = []

    def record(self, sentences, **search):
        seen.extend(sentences)
        return [[Hypothesis(s, 0.0, [], [], [])] for s in sentences]

    monkeypatch.setattr(Translator, "translate", record)
    path = tmp_path / "windows.txt"
    path.write_bytes("\ufeffHello.\r\nI am here.\r\n".encode())
    assert main(["translate", str(trained_run), "--input", str(path)]) == 0
    assert seen == ["Hello.", "I am here."]
    _stdin(monkeypatch, "\ufeffHi.\n")
    assert main(["translate", str(trained_run)]) == 0
    assert seen[-1] == "Hi."
    assert capsys.readouterr().out == "Hello.\nI am here.\nHi.\n"


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--decay-steps", "-5", ("decay_steps", ">= 0")),
        ("--warmup-steps", "-1", ("warmup_steps", ">= 0")),
        ("--max-minutes", "-1", ("max_minutes", ">= 0")),
        ("--max-minutes", "nan", ("max_minutes", ">= 0")),
        ("--target-exact-match", "2", ("target_exact_match", "[0, 1]")),
        ("--seed", "-1", ("seed", "2**32")),
        ("--dev-size", "0", ("dev_size", ">= 1")),
    ],
)
def test_out_of_range_training_values_fail_before_the_run_folder(
    flag, value, words, tmp_path, capsys
):
    runs = tmp_path / "runs"
    argv = ["train", "--runs-dir", str(runs), "--name", "bad", flag, value]
    assert main(argv) == 1
    one_error_line(capsys, *words)
    assert not runs.exists()


def test_yaml_exponent_floats_are_numbers_and_quoted_ones_strings(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("learning_rate: 1e-3\nclip_norm: 5E+0\nname: '1e3'\n")
    values = config_lib.read_yaml(path)
    assert values == {"learning_rate": 0.001, "clip_norm": 5.0, "name": "1e3"}
    config = config_lib.resolve(values, {})
    assert (config.learning_rate, config.clip_norm) == (0.001, 5.0)


def test_blank_corpus_lines_are_skipped_and_numbers_stay_true(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_bytes(b"Go.\tVe.\r\n\r\nHi.\tHola.\r\n  \n\n")
    assert read_pairs([str(tsv)]) == [("Go.", "Ve."), ("Hi.", "Hola.")]
    source, target = tmp_path / "train.en", tmp_path / "train.es"
    source.write_text("Go.\n\nHi.\n\n")
    target.write_text("Ve.\n\nHola.\n\n")
    pairs = read_pairs([str(source), str(target)])
    assert pairs == [("Go.", "Ve."), ("Hi.", "Hola.")]
    tsv.write_text("Go.\tVe.\n\nno tab\n")
    with pytest.raises(RunError, match="line 3 has no tab"):
        read_pairs([str(tsv)])
    target.write_text("Ve.\nHola.\n\n\n")  # line 2 blank in one file only
    with pytest.raises(RunError, match="line 2 has an empty source"):
        read_pairs([str(source), str(target)])


def test_vocab_size_below_the_character_count_isone_error_line(
    corpus, tmp_path, capsys
):
    runs = tmp_path / "runs"
    argv = ["train", "--data", str(corpus / "train.tsv"), "--runs-dir"]
    assert main([*argv, str(runs), "--vocab-size", "20"]) == 1
    one_error_line(capsys, "vocab-size 20 is too small", "--vocab-size")
    assert not runs.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_says_each_default_once_and_shows_the_choices(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert not re.search(r"\(default: [^)]*\) \(default:", text), text
    if command == "train":
        for choices in ("{gru,lstm}", "{bahdanau,luong}", "{sentencepiece,"):
            assert choices in text
        assert "--best-metric {bleu,chrf,exact_match}" in text
    else:
        assert "(default: None)" not in text and "(default: False)" not in text
