"""What a demanding user meets, sixth round: `evaluate` warning about
long sources by their line in the file, a vocabulary that cannot be
written leaving its temporary file behind, ...

Each test pins one defect, on the tiny run of `conftest.py`, small slices
of the shared corpora, or files the test writes; none trains a model.
"""

import errno
import pathlib

import pytest
from cli_support import WARNING

from conftest import head_pairs
from keras_seq2seq.cli import main
from keras_seq2seq.nmt.tokenizer import Tokenizer

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
    [warning] = capsys.readouterr().err.strip().splitlines()
    assert warning.startswith(f"{WARNING}2 sources ({test} lines 6, 8) are ")
    # Two aligned files, reversed: the source is the second file's line.
    english, spanish = tmp_path / "t.en", tmp_path / "t.es"
    english.write_text("Go.\n\nHi.\n")
    spanish.write_text(f"Ve.\n\n{LONG}\n")
    argv = ["evaluate", str(trained_run), "--data", str(english)]
    assert main([*argv, str(spanish), "--reverse"]) == 0
    [warning] = capsys.readouterr().err.strip().splitlines()
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
