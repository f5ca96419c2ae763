"""Corpora: reading pairs, checking them, and batching them by length.

A corpus is one tab-separated file (the Tatoeba/Anki layout: `source<TAB>
target`, extra columns ignored; `columns` picks two) or two aligned
plain-text files, one sentence per line. Files must be UTF-8. Blank lines
(in both files of a pair) are skipped; a line without a tab, with too few
columns or with one empty side is an error naming the file and line.
"""

import math
import os
from pathlib import Path

import numpy as np

from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID

Pairs = list[tuple[str, str]]


def _read_lines(path: str | os.PathLike) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise RunError(f"corpus file {path} not found; check the path")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise RunError(
            f"{path} line {line} is not UTF-8; convert the file to UTF-8"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not part of the first line
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise RunError(f"corpus file {path} is empty; give a file with pairs")
    return lines


def read_pairs(
    paths: list[str], columns=(0, 1), reverse: bool = False
) -> Pairs:
    """`(source, target)` pairs from a TSV file or two plain-text files.

    Args:
        paths: list of str. One TSV path, or source and target paths.
        columns: two ints. TSV columns of source and target. Defaults to
            `(0, 1)`.
        reverse: bool. Swap source and target. Defaults to `False`.

    Raises:
        RunError: for a missing, empty, non-UTF-8 or malformed file.
    """
    if len(paths) == 1:
        pairs = _read_tsv(paths[0], columns)
    elif len(paths) == 2:
        pairs = _read_aligned(*paths)
    else:
        raise RunError("a corpus is one TSV file or two plain-text files")
    if reverse:
        pairs = [(target, source) for source, target in pairs]
    return pairs


def _read_tsv(path, columns) -> Pairs:
    need = max(columns) + 1
    pairs = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():  # a trailing or separating blank line
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise RunError(
                f"{path} line {number} has no tab; each line must be "
                "source<TAB>target"
            )
        if len(fields) < need:
            raise RunError(
                f"{path} line {number} has {len(fields)} columns but "
                f"--columns needs {need}"
            )
        pair = (fields[columns[0]].strip(), fields[columns[1]].strip())
        _check_sides(pair, path, number)
        pairs.append(pair)
    return pairs


def _read_aligned(source_path, target_path) -> Pairs:
    sources = _read_lines(source_path)
    targets = _read_lines(target_path)
    if len(sources) != len(targets):
        raise RunError(
            f"{source_path} has {len(sources)} lines but {target_path} has "
            f"{len(targets)}; the files must be aligned line by line"
        )
    pairs = []
    for number, pair in enumerate(zip(sources, targets, strict=True), start=1):
        pair = (pair[0].strip(), pair[1].strip())
        if pair == ("", ""):  # blank in both files
            continue
        _check_sides(pair, f"{source_path} / {target_path}", number)
        pairs.append(pair)
    return pairs


def _check_sides(pair, where, number) -> None:
    for side, text in zip(("source", "target"), pair, strict=True):
        if not text:
            raise RunError(
                f"{where} line {number} has an empty {side}; remove or "
                "fix the line"
            )


def encode_pairs(pairs: Pairs, source, target, max_source, max_target):
    """Id lists for pairs within the length limits, and how many were cut.

    Returns:
        `(encoded, dropped)`: a list of `(source_ids, target_ids)` and the
        count of pairs dropped for being too long.
    """
    encoded, dropped = [], 0
    for source_text, target_text in pairs:
        source_ids = source.encode(source_text)
        target_ids = target.encode(target_text)
        if len(source_ids) > max_source or len(target_ids) > max_target:
            dropped += 1
            continue
        encoded.append((source_ids, target_ids))
    return encoded, dropped


def _width(length: int, step: int) -> int:
    return max(step, math.ceil(length / step) * step)


def make_batch(chunk, widths=None, step: int = 8):
    """Padded arrays for a list of id pairs: `((source, target_in), out)`.

    Widths are `widths` (source, target) when given, else the longest
    sequence rounded up to a multiple of `step`, so a compiled training
    step meets few shapes. `target_in` starts with bos, `target_out` ends
    with eos.
    """
    if widths is None:
        widths = (
            _width(max(len(s) for s, _ in chunk), step),
            _width(max(len(t) for _, t in chunk) + 1, step),
        )
    source_width, target_width = widths
    source = np.full((len(chunk), source_width), PAD_ID, "int32")
    target_in = np.full((len(chunk), target_width), PAD_ID, "int32")
    target_out = np.full((len(chunk), target_width), PAD_ID, "int32")
    for row, (s, t) in enumerate(chunk):
        source[row, : len(s)] = s
        target_in[row, : len(t) + 1] = [BOS_ID, *t]
        target_out[row, : len(t) + 1] = [*t, EOS_ID]
    return (source, target_in), target_out


def epoch_batches(encoded, batch_size, bucketing, seed, epoch):
    """The batches of one epoch, as lists of indices into `encoded`.

    The order depends only on `(seed, epoch)`, so a resumed run sees the
    same batches. With bucketing, pairs are sorted by length inside
    windows of 100 batches, so a batch holds pairs of similar length; the
    batches are then shuffled.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(encoded))
    if bucketing:
        window = batch_size * 100
        keyed = []
        for start in range(0, len(order), window):
            part = order[start : start + window]
            lengths = [(len(encoded[i][0]), len(encoded[i][1])) for i in part]
            keyed.extend(part[np.lexsort(np.array(lengths).T[::-1])])
        order = np.array(keyed)
    batches = [
        order[start : start + batch_size]
        for start in range(0, len(order), batch_size)
    ]
    if len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()  # one more shape to compile, for a few pairs
    rng.shuffle(batches)
    return batches
