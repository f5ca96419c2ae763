"""`seq2seq train --dtype-policy`: a run trained in mixed precision keeps
its policy in the saved model, translates with it, and a resume cannot
change it."""

import csv
import io
import math

import keras
import numpy as np
import pytest
import yaml
from cli_support import TINY, one_error_line, train_argv

from keras_seq2seq.cli import main
from keras_seq2seq.nmt import run_folder


def test_a_run_trained_in_mixed_bfloat16_keeps_and_uses_its_policy(
    corpus, tmp_path, capsys
):
    argv = train_argv(
        tmp_path, "--data", str(corpus / "train.tsv"), "--name", "bf16",
        "--vocab-size", "120", "--max-steps", "4", "--validate-every", "2",
        "--dtype-policy", "mixed_bfloat16", *TINY,
    )  # fmt: skip
    assert main(argv) == 0
    run = tmp_path / "runs" / "bf16"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["dtype_policy"] == "mixed_bfloat16"
    rows = list(csv.DictReader(io.StringIO((run / "metrics.csv").read_text())))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert all(math.isfinite(float(r["loss"])) for r in rows)
    model = run_folder.load_model(run / "model.keras")
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert {w.dtype for w in model.trainable_weights} == {"float32"}
    source = np.array([[5, 6, 7, 2]], "int32")
    logits = model((source, np.array([[1, 5, 6]], "int32")))
    # Computed in 16 bits.
    assert keras.backend.standardize_dtype(logits.dtype) == "bfloat16"

    capsys.readouterr()
    text = tmp_path / "in.txt"
    text.write_text("Go.\nI am here.\n", encoding="utf-8")
    for beam in ("1", "2"):  # greedy and beam search in bfloat16
        argv = [
            "translate",
            str(run),
            "--input",
            str(text),
            "--beam-size",
            beam,
        ]
        assert main(argv) == 0
        assert len(capsys.readouterr().out.splitlines()) == 2

    resume = train_argv(tmp_path, "--name", "bf16", "--resume")
    assert main([*resume, "--dtype-policy", "float32"]) == 1
    one_error_line(capsys, "--resume cannot change dtype_policy")


def test_an_unknown_dtype_policy_is_a_usage_error(tmp_path, capsys):
    argv = train_argv(tmp_path, "--dtype-policy", "bfloat16")
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "mixed_bfloat16" in err and "Traceback" not in err
