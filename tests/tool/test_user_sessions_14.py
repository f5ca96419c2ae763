"""What a demanding user meets, fourteenth round: a corpus downloaded
compressed (`train.tsv.gz`) told to convert itself to UTF-8; a config
file with old Mac line ends, or in UTF-16, not UTF-8 on the wrong line;
the line `evaluate` skips as the run's header, unsaid; a serve request
whose body its Content-Encoding does not decode; `translate` holding every
hypothesis it wrote; `evaluate --json` silent on the model and search;
a run without its model.keras said to have no checkpoint; a TSV corpus
given to `translate`, every column translated without a word; `evaluate`
of the run's own training or dev pairs as if they were a test set.

Each test pins one defect, on the tiny run of `conftest.py`, a copy of
it, or files the test writes; none trains a model (the training loop is
replaced where it would start).
"""

import asyncio
import gc
import gzip
import json
import lzma
import shutil
import weakref
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from cli_support import head_pairs, one_error_line, train_argv
from serve_support import EchoTranslator

from keras_seq2seq.cli import main
from keras_seq2seq.nmt.serve import make_app
from keras_seq2seq.nmt.translator import Hypothesis, Translator

# --- 1. A compressed corpus ---


def test_a_compressed_corpus_says_to_decompress_it(
    corpus, trained_run, tmp_path, capsys
):
    # Tatoeba and OPUS corpora come as .gz: "train.tsv.gz line 1 is not
    # UTF-8; convert it to UTF-8" sent the user to an encoding converter.
    text = (corpus / "train.tsv").read_bytes()
    packed = tmp_path / "train.tsv.gz"
    packed.write_bytes(gzip.compress(text))
    assert main(train_argv(tmp_path, "--data", str(packed))) == 1
    line = one_error_line(capsys, f"{packed} is gzip-compressed", "gunzip")
    assert "UTF-8" not in line
    assert not (tmp_path / "runs").exists()
    xz = tmp_path / "test.xz"
    xz.write_bytes(lzma.compress(text))
    assert main(["translate", str(trained_run), "--input", str(xz)]) == 1
    one_error_line(capsys, f"{xz} is xz-compressed", "unxz")
    # A file that is text but not UTF-8 is named as before.
    latin = tmp_path / "latin.tsv"
    latin.write_bytes(b"Go.\tVe.\ncaf\xe9.\tcaf\xe9.\n")
    assert main(train_argv(tmp_path, "--data", str(latin))) == 1
    one_error_line(capsys, f"{latin} line 2 is not UTF-8")


# --- 2. A config file that is not UTF-8 ---


def test_a_config_file_not_in_utf8_is_named_by_its_line_or_encoding(
    corpus, tmp_path, capsys
):
    # A file saved with old Mac line ends ("\r" alone) was "line 1 is not
    # UTF-8" whatever its line; a UTF-16 file (Windows' "Unicode") too.
    argv = train_argv(tmp_path, "--data", str(corpus / "train.tsv"))
    config = tmp_path / "run.yaml"
    for end in (b"\r", b"\r\n"):
        config.write_bytes(end.join([b"batch_size: 8", b"name: caf\xe9", b""]))
        assert main([*argv, "--config", str(config)]) == 1
        one_error_line(capsys, f"config file {config} line 2 is not UTF-8")
    config.write_text("batch_size: 8\n", encoding="utf-16")
    assert main([*argv, "--config", str(config)]) == 1
    one_error_line(capsys, f"config file {config} is UTF-16")
    assert not (tmp_path / "runs").exists()


# --- 3. The header line evaluate skips as the run did ---


def test_evaluate_says_which_line_it_skips_as_the_runs_header(
    trained_run, tmp_path, capsys
):
    # A run trained --header skips the first line of a test file of its
    # layout (round 13); a test file without a header lost its first pair
    # from the scores without a word.
    run = shutil.copytree(trained_run, tmp_path / "run")
    config = run / "config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("header: false", "header: true"))
    test = tmp_path / "test.tsv"
    test.write_text("\nGo.\tVe.\nHi.\tHola.\n", encoding="utf-8")
    assert main(["evaluate", str(run), "--data", str(test)]) == 0
    out, err = capsys.readouterr()
    assert "1 sentence," in out
    [warning] = [line for line in err.splitlines() if "skipped" in line]
    assert warning.startswith("seq2seq: warning: skipped")
    assert f"{test} line 2 ('Go.', 'Ve.')" in warning
    assert "--no-header" in warning
    # Asked for, it is the user's choice: nothing to say.
    assert main(["evaluate", str(run), "--data", str(test), "--header"]) == 0
    assert "skipped" not in capsys.readouterr().err


# --- 4. serve: a body its Content-Encoding does not decode ---


def _posts(app, requests):
    """`(status, JSON answer)` of each `(body, headers)` of `requests`,
    sent one after another by one client (its connections kept alive)."""

    async def send():
        answers = []
        async with TestClient(TestServer(app)) as client:
            for body, headers in requests:
                response = await client.post(
                    "/translate", data=body, headers=headers
                )
                answers.append((response.status, await response.json()))
        return answers

    return asyncio.run(send())


def test_serve_answers_400_for_a_body_its_encoding_does_not_decode(caplog):
    # `Content-Encoding: gzip` on a body that is not gzip (a client that
    # says it compresses and does not) answered 500 "internal error" and
    # logged aiohttp's traceback twice, as a bug of the server.
    body = json.dumps({"sentences": ["hola"]}).encode()
    gzipped = {"Content-Encoding": "gzip"}
    requests = [(body * 2000, gzipped), (gzip.compress(body), gzipped)]
    (status, answer), (then, translated) = _posts(
        make_app(EchoTranslator()), requests
    )
    assert status == 400, answer
    assert answer["error"].startswith("the body is not gzip as its Content-")
    assert "internal error" not in caplog.text
    assert "Unhandled" not in caplog.text
    # The next request is answered (on a new connection), and a body
    # compressed as it says is read.
    assert (then, translated["translations"][0][0]["text"]) == (200, "hola")


# --- 5. translate keeps no translation it has written ---


def test_translate_keeps_no_translation_it_has_written(
    trained_run, tmp_path, monkeypatch, capsys
):
    # Every hypothesis, with its attention rows, stayed in memory until
    # the last input, only to count the cut ones at the end: a file of
    # millions of lines (back-translation) grew by kilobytes per line.
    # The translator is a stand-in that upper-cases each sentence, cuts
    # inputs 7 and its translations 2 and 10.
    monkeypatch.setattr("keras_seq2seq.nmt.commands.CHUNK", 4)
    text = tmp_path / "in.txt"
    text.write_text("".join(f"line {i}\n" for i in range(1, 13)))
    made, alive = [], []

    def translate(self, sentences, **search):
        gc.collect()
        alive.append(sum(ref() is not None for ref in made))
        found = []
        for sentence in sentences:
            number = int(sentence.split()[1])
            best = Hypothesis(
                sentence.upper(),
                0.0,
                [],
                [],
                [[0.5] * 40] * 40,
                truncated=number == 7,
                at_length_limit=number in (2, 10),
            )
            made.append(weakref.ref(best))
            found.append([best])
        return found

    monkeypatch.setattr(Translator, "translate", translate)
    assert main(["translate", str(trained_run), "--input", str(text)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"LINE {i}" for i in range(1, 13)]
    assert alive == [0, 0, 0]  # what chunks 1 and 2 found is gone
    assert "input 7 is longer than the model's" in err
    assert "2 translations (2, 10) are cut at the search's length" in err


# --- 6. evaluate --json says what was scored ---


def test_evaluate_json_says_which_model_search_and_data_it_scored(
    trained_run, tmp_path, capsys
):
    # The JSON held the beam but not the length penalty, the model file
    # or the test data: `--model averaged.keras` and the best model, or
    # two length penalties, gave files that could not be told apart.
    scores = tmp_path / "scores.json"
    test = str(tmp_path / "test.tsv")
    Path(test).write_text("".join(head_pairs("test.tsv", 2)), encoding="utf-8")
    model = "checkpoints/step-0000002.keras"
    argv = ["evaluate", str(trained_run), "--data", test, "--json", str(scores)]
    options = ["--model", model, "--beam", "2", "--length-penalty", "0.6"]
    assert main([*argv, *options]) == 0
    written = json.loads(scores.read_text(encoding="utf-8"))
    assert written["model"] == model and written["data"] == [test]
    assert (written["beam"], written["length_penalty"]) == (2, 0.6)


# --- 7. A run without its model.keras ---


def test_a_run_without_its_best_model_names_its_checkpoints(
    trained_run, tmp_path, capsys
):
    # A run copied without its model.keras (or the file deleted) said
    # "the run has no checkpoint yet, train it": it had two.
    run = shutil.copytree(trained_run, tmp_path / "run")
    (run / "model.keras").unlink()
    assert main(["translate", str(run), "Hello."]) == 1
    line = one_error_line(
        capsys, "model.keras", "--model checkpoints/step-0000004.keras"
    )
    assert "no checkpoint" not in line


# --- 8. A TSV corpus given to translate ---


def test_translating_a_tsv_file_warns_that_every_column_is_translated(
    trained_run, tmp_path, capsys
):
    # `translate RUN --input test.tsv` translated each whole line, its
    # reference translation included, without a word: the output looked
    # like a bad model, not a wrong input.
    test = tmp_path / "test.tsv"
    test.write_text("".join(head_pairs("test.tsv", 3)), encoding="utf-8")
    assert main(["translate", str(trained_run), "--input", str(test)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3
    [warning] = [line for line in err.splitlines() if "hold a tab" in line]
    assert warning.startswith(f"seq2seq: warning: the lines of {test}")
    assert "cut -f1" in warning
    # Its first column alone, or a sentence with a tab inside, is text.
    sources = tmp_path / "sources.txt"
    lines = [line.split("\t")[0] for line in test.read_text().splitlines()]
    sources.write_text("\n".join(["a\tb", *lines]) + "\n", encoding="utf-8")
    assert main(["translate", str(trained_run), "--input", str(sources)]) == 0
    assert "hold a tab" not in capsys.readouterr().err


# --- 9. evaluate on the run's own training or dev pairs ---


def test_evaluate_on_the_runs_training_file_says_what_it_measures(
    trained_run, corpus, tmp_path, capsys
):
    # `evaluate --data train.tsv` scored the pairs the model learnt from,
    # as if they were a test set, without a word (train warns of a dev
    # corpus that is the training one; evaluate said nothing).
    run = shutil.copytree(trained_run, tmp_path / "run")
    seen = tmp_path / "seen.tsv"
    seen.write_text("Go.\tVe.\nHi.\tHola.\n", encoding="utf-8")
    config = run / "config.yaml"
    text = config.read_text(encoding="utf-8")
    start = text.index("data:\n- ") + len("data:\n- ")
    end = text.index("\n", start)
    config.write_text(text[:start] + str(seen) + text[end:], encoding="utf-8")
    assert main(["evaluate", str(run), "--data", str(seen)]) == 0
    err = capsys.readouterr().err
    [warning] = [line for line in err.splitlines() if "memorisation" in line]
    assert warning.startswith(f"seq2seq: warning: {seen} is a training")
    # The dev corpus (dev.tsv beside the run's corpus) chose the best
    # model: its scores flatter it.
    dev = str(corpus / "dev.tsv")
    assert main(["evaluate", str(run), "--data", dev]) == 0
    err = capsys.readouterr().err
    assert f"seq2seq: warning: {dev} is the dev corpus of the run" in err
    # A held-out file is scored without it.
    held = tmp_path / "held.tsv"
    held.write_text("Go.\tVe.\n", encoding="utf-8")
    assert main(["evaluate", str(run), "--data", str(held)]) == 0
    assert "memorisation" not in capsys.readouterr().err
