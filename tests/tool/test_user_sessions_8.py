"""What a demanding user meets, eighth round: dev sets smaller than asked,
and dev scores compared across different dev pairs.

The runs train nothing: the training loop is replaced where it would
start (`no_training` in conftest.py, `resumed` below).
"""

import shutil

import pytest
from cli_support import train_argv, tsv_corpus, warning_lines

from keras_seq2seq.cli import main
from keras_seq2seq.nmt.tokenizer import Tokenizer


@pytest.fixture
def resumed(monkeypatch):
    """Replaces the training loop of a resume: stops as Ctrl-C would."""

    def stop(run, model, encoded, dev, state):
        raise KeyboardInterrupt

    monkeypatch.setattr("keras_seq2seq.nmt.train._fit", stop)


def test_a_held_out_dev_set_smaller_than_dev_size_is_said(
    tmp_path, capsys, no_training
):
    train = tsv_corpus(tmp_path / "train.tsv", 30)
    argv = train_argv(tmp_path, "--data", str(train), "--dev-size", "10")
    main([*argv, "--name", "asked-10"])
    assert len(no_training[0]) == 3  # a tenth of 30
    [warning] = warning_lines(capsys)
    assert "held out 3 dev pairs, not --dev-size 10" in warning
    assert f"30 pairs of {train}" in warning and "--dev" in warning
    # Exactly what fits is held out silently.
    main([*argv[:-1], "3", "--name", "asked-3"])
    assert len(no_training[1]) == 3
    assert warning_lines(capsys) == []
    # The default asks for nothing; the start line gives the count.
    main([*argv[:-2], "--name", "default"])
    assert len(no_training[2]) == 3
    assert warning_lines(capsys) == []


def test_a_resume_scoring_other_dev_pairs_says_the_best_is_not_comparable(
    trained_run, tmp_path, capsys, resumed
):
    # The session's run scored 12 dev pairs (--validation-size 12).
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    argv = ["train", "--resume", "--runs-dir", str(run.parent), "--name"]
    assert main([*argv, run.name, "--validation-size", "6"]) == 130
    [warning] = warning_lines(capsys)
    assert (
        "--validation-size 6 scores 6 dev pairs, the run scored 12" in warning
    )
    assert "resume with --validation-size 12" in warning
    # More than the dev set holds: the same 12 pairs, nothing to say.
    assert main([*argv, run.name, "--validation-size", "50"]) == 130
    assert warning_lines(capsys) == []


def test_a_model_of_another_run_with_other_vocabularies_is_refused(
    trained_run, corpus, tmp_path, capsys
):
    # Another run of the same sizes on other sentences: the same number of
    # pieces, other pieces. Its model would translate, into nonsense.
    other = shutil.copytree(trained_run, tmp_path / "runs" / "other")
    lines = (corpus / "train.tsv").read_text(encoding="utf-8").splitlines()
    spanish = [line.split("\t")[1] for line in lines]
    Tokenizer.train(spanish, "sentencepiece", 120).save(other, "source")
    for model in (other / "model.keras", other / "checkpoints"):
        if model.is_dir():
            model = sorted(model.glob("*.keras"))[-1]
        argv = ["translate", str(trained_run), "--model", str(model), "Go."]
        code = main(argv)
        assert code == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "source vocabulary" in err[0], err
        assert str(other) in err[0] and str(trained_run) in err[0]
    # A copy of the run (the same vocabularies) is the same run's model.
    twin = shutil.copytree(trained_run, tmp_path / "runs" / "twin")
    argv = ["translate", str(trained_run), "--model", str(twin / "model.keras")]
    assert main([*argv, "Go."]) == 0


def test_evaluate_on_one_pair_says_one_sentence(trained_run, tmp_path, capsys):
    pair = tmp_path / "one.tsv"
    pair.write_text("Go.\tVe.\n", encoding="utf-8")
    assert main(["evaluate", str(trained_run), "--data", str(pair)]) == 0
    assert capsys.readouterr().out.startswith("1 sentence, beam 1: BLEU")


def test_average_of_more_checkpoints_than_kept_says_how_many(
    trained_run, tmp_path, capsys
):
    run = shutil.copytree(trained_run, tmp_path / "runs" / "copy")
    kept = len(list((run / "checkpoints").glob("*.keras")))
    assert main(["average", str(run), "--last", str(kept + 5)]) == 0
    [warning] = warning_lines(capsys)
    assert f"--last {kept + 5} asks for more checkpoints" in warning
    assert f"averaging those {kept}" in warning
    # Asking for what the run keeps says nothing more.
    assert main(["average", str(run), "--last", str(kept)]) == 0
    assert warning_lines(capsys) == []
