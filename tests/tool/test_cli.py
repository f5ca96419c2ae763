"""The commands end to end: train -> translate -> evaluate -> plot -> average.

In-process `main([...])` calls on the tiny run of `conftest.py` (the
`seq2seq` executable's run on stdin is in test_errors.py). Expected numbers
are recomputed independently (sacreBLEU on the written translations, NumPy
means of checkpoint weights).
"""

import csv
import gc
import io
import json
import shutil
import sys
import weakref

import keras
import numpy as np
import pytest
import sacrebleu
import yaml
from cli_support import TINY, warning_lines
from PIL import Image

from keras_seq2seq import Seq2Seq
from keras_seq2seq.cli import main
from keras_seq2seq.nmt import plot, run_folder
from keras_seq2seq.nmt.translator import Translator


def _stdin(monkeypatch, text):
    stream = io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), "utf-8")
    monkeypatch.setattr(sys, "stdin", stream)


def test_train_writes_a_complete_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    for name in (
        "model.keras",
        "config.yaml",
        "source.spm",
        "target.spm",
        "metrics.csv",
        "state.json",
        "checkpoints",
        "tensorboard",
    ):
        assert name in names
    assert not [n for n in names if n.startswith(".tmp")]
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["max_steps"] == 4 and config["tokenizer"] == "sentencepiece"
    assert config["dev"][0].endswith("dev.tsv")  # found beside train.tsv
    rows = list(
        csv.DictReader(io.StringIO((trained_run / "metrics.csv").read_text()))
    )
    assert [int(r["step"]) for r in rows] == [2, 4]
    steps = [p.stem for p in run_folder.checkpoints(trained_run)]
    assert steps == ["step-0000002", "step-0000004"]
    assert any((trained_run / "tensorboard").rglob("events.out.tfevents*"))


def test_model_file_loads_without_the_tool(trained_run):
    model = keras.saving.load_model(trained_run / "model.keras")
    assert isinstance(model, Seq2Seq)
    out = model.generate(np.array([[5, 6, 7]], "int32"), max_length=4)
    assert tuple(out["ids"].shape) == (1, 4)


def test_translate_arguments_stdin_and_api_agree(
    trained_run, trained_translator, monkeypatch, capsys
):
    sentences = ["I am happy.", "Tom is here.", "Where is the cat?"]
    assert main(["translate", str(trained_run), *sentences]) == 0
    from_args = capsys.readouterr().out.splitlines()
    _stdin(monkeypatch, "".join(s + "\n" for s in sentences))
    assert main(["translate", str(trained_run)]) == 0
    from_stdin = capsys.readouterr().out.splitlines()
    api = trained_translator.translate(sentences)
    assert from_args == from_stdin == [h[0].text for h in api]


def test_translate_n_best_lines_are_sorted_by_score(trained_run, capsys):
    code = main(
        [
            "translate",
            str(trained_run),
            "--beam-size",
            "3",
            "--n-best",
            "2",
            "I am happy.",
            "Go.",
        ]
    )
    assert code == 0
    lines = [
        line.split(" ||| ")
        for line in capsys.readouterr().out.split("\n")
        if line
    ]
    assert [int(index) for index, _, _ in lines] == [0, 0, 1, 1]
    for first, second in (lines[:2], lines[2:]):
        assert float(first[2]) >= float(second[2])


def test_hypothesis_attention_covers_real_positions(trained_translator):
    [[best]] = trained_translator.translate(["Tom is here."])
    assert len(best.attention) == len(best.target_tokens)
    for row in best.attention:
        assert len(row) == len(best.source_tokens)
        assert sum(row) == pytest.approx(1.0, abs=1e-4)


def test_translators_of_one_unchanged_model_file_share_its_model(
    trained_run, tmp_path
):
    run = shutil.copytree(trained_run, tmp_path / "run")
    first, second = Translator.load(run), Translator.load(run)
    # One model, so its searches compile once; one lock, as one model.
    assert second.model is first.model and second._lock is first._lock
    [[a]], [[b]] = first.translate(["Go."]), second.translate(["Go."])
    assert (a.text, a.score) == (b.text, b.score)
    # Written again (a new training, a copy): its new weights are read.
    model = run_folder.load_model(run / "model.keras")
    model.output_layer.set_weights(
        [w + 1.0 for w in model.output_layer.get_weights()]
    )
    model.save(run / "model.keras")
    third = Translator.load(run)
    assert third.model is not first.model
    np.testing.assert_array_equal(
        third.model.output_layer.get_weights()[1],
        model.output_layer.get_weights()[1],
    )
    # Held by its translators only: released with the last one.
    held = weakref.ref(first.model)
    del first, second, a, b
    gc.collect()
    assert held() is None


def test_evaluate_json_matches_sacrebleu_on_its_output(
    trained_run, corpus, tmp_path, capsys
):
    out, hyps = tmp_path / "scores.json", tmp_path / "hyps.txt"
    code = main(
        [
            "evaluate",
            str(trained_run),
            "--data",
            str(corpus / "test.tsv"),
            "--json",
            str(out),
            "--output",
            str(hyps),
        ]
    )
    assert code == 0
    scores = json.loads(out.read_text())
    refs = [
        line.split("\t")[1]
        for line in (corpus / "test.tsv").read_text().splitlines()
    ]
    texts = hyps.read_text().splitlines()
    assert scores["n"] == len(refs) == len(texts)
    bleu = sacrebleu.corpus_bleu(texts, [refs]).score
    chrf = sacrebleu.corpus_chrf(texts, [refs]).score
    assert scores["bleu"] == pytest.approx(bleu)
    assert scores["chrf"] == pytest.approx(chrf)
    exact = np.mean([t == r for t, r in zip(texts, refs, strict=True)])
    assert scores["exact_match"] == pytest.approx(exact)
    assert scores["sentences_per_second"] > 0
    assert "exact match" in capsys.readouterr().out


def test_plot_writes_a_png_of_the_expected_size_and_labels(
    trained_run, trained_translator, tmp_path, capsys
):
    path = tmp_path / "map.png"
    sentence = "Where is the cat?"
    assert (
        main(["plot", str(trained_run), sentence, "--output", str(path)]) == 0
    )
    [[best]] = trained_translator.translate([sentence])
    width, height = plot.figure_inches(
        len(best.source_tokens), len(best.target_tokens)
    )
    with Image.open(path) as image:
        assert image.size == (round(width * plot.DPI), round(height * plot.DPI))
        gray = np.asarray(image.convert("L"))
    assert len(np.unique(gray)) > 20  # not blank: a map, labels, a bar
    axes = plot.attention_figure(best).axes[0]
    xlabels = [t.get_text() for t in axes.get_xticklabels()]
    ylabels = [t.get_text() for t in axes.get_yticklabels()]
    assert xlabels == [p.replace(" ", "\u2581") for p in best.source_tokens]
    assert ylabels == [p.replace(" ", "\u2581") for p in best.target_tokens]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("source", "output")


def test_average_is_the_mean_of_the_last_checkpoints(trained_run, capsys):
    assert main(["average", str(trained_run), "--last", "2"]) == 0
    assert capsys.readouterr().out.strip().endswith("averaged.keras")
    averaged = keras.saving.load_model(trained_run / "averaged.keras")
    weights = [
        keras.saving.load_model(p).get_weights()
        for p in run_folder.checkpoints(trained_run)[-2:]
    ]
    for got, a, b in zip(averaged.get_weights(), *weights, strict=True):
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-6, atol=1e-7)
    assert (
        main(
            ["translate", str(trained_run), "--model", "averaged.keras", "Go."]
        )
        == 0
    )
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_file_pair_corpus_char_level_and_reversed(corpus, tmp_path, capsys):
    lines = (corpus / "train.tsv").read_text().splitlines()
    (tmp_path / "train.en").write_text(
        "".join(line.split("\t")[0] + "\n" for line in lines)
    )
    (tmp_path / "train.es").write_text(
        "".join(line.split("\t")[1] + "\n" for line in lines)
    )
    code = main(
        [
            "train",
            "--data",
            str(tmp_path / "train.en"),
            str(tmp_path / "train.es"),
            "--reverse",
            "--tokenizer",
            "char",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "pair",
            "--max-steps",
            "2",
            "--validate-every",
            "2",
            "--dev-size",
            "12",
            *TINY,
        ]
    )
    assert code == 0
    run = tmp_path / "pair"
    source = run_folder.open_run(run).source
    spanish_only = set("ñ¿¡")  # reversed: the source side is Spanish
    assert spanish_only & set(source.pieces)
    capsys.readouterr()
    for suffix, column in (("es", 1), ("en", 0)):
        (tmp_path / f"test.{suffix}").write_text(
            "".join(line.split("\t")[column] + "\n" for line in lines[:12])
        )
    data = [str(tmp_path / "test.es"), str(tmp_path / "test.en")]
    assert main(["evaluate", str(run), "--data", *data]) == 0
    assert "12 sentences" in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--beam-size", "--beam"])
def test_beam_size_has_the_short_spelling_beam(flag):
    from keras_seq2seq_cli.parser import parse_args

    args = parse_args(["translate", "runs/x", flag, "4", "Go."])
    assert args.beam == 4


def test_a_length_penalty_without_a_beam_warns_that_it_does_nothing(
    trained_run, capsys
):
    argv = ["translate", str(trained_run), "--length-penalty", "0.6"]
    assert main([*argv, "Go."]) == 0
    [warning] = warning_lines(capsys)
    assert "--length-penalty 0.6" in warning and "greedy" in warning
    assert main([*argv, "--beam-size", "2", "Go."]) == 0
    assert warning_lines(capsys) == []
