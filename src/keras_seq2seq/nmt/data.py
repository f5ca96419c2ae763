"""Corpora: reading pairs, checking them, and batching them by length.

A corpus is one tab-separated file (the Tatoeba/Anki layout: `source<TAB>
target`, extra columns ignored; `columns` picks two) or two aligned
plain-text files, one sentence per line. Files must be UTF-8. Blank lines
(in both files of a pair, or at the end of a file) are skipped; a line
without a tab, with too few columns or with one empty side is an error
naming the file and line.

Two files of which one or both are tab-separated (most lines hold a tab)
are refused: two files make one corpus' source and target sides, so two
TSV files (`--data train.tsv dev.tsv`), or a TSV file beside a text file,
are a mistake, which the line counts would hide when they match. One file
with no tab on any line is a text file, not a TSV corpus.

Every line is a pair unless `header` says that the first non-blank line
of each file names the columns. The tool never guesses: a first line
that only looks like column names (`english<TAB>spanish`) is still read
as a pair, with a warning that names `--header`.
"""

import math
import os
import re
import sys
from pathlib import Path

import numpy as np

from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.text import decode_utf8, split_lines
from keras_seq2seq.nmt.tokenizer import BOS_ID, EOS_ID, PAD_ID

Pairs = list[tuple[str, str]]


def _read_lines(path: str | os.PathLike) -> list[str]:
    path = Path(path)
    if path.is_dir():
        raise RunError(f"corpus file {path} is a folder; give a file")
    if not path.exists():
        raise RunError(f"corpus file {path} not found; check the path")
    # A pipe (`--data <(zcat train.tsv.gz)`) reads as a file does.
    lines = split_lines(decode_utf8(path.read_bytes(), str(path)))
    if not any(line.strip() for line in lines):
        raise RunError(f"corpus file {path} is empty; give a file with pairs")
    return lines


def read_pairs(
    paths: list[str],
    columns=(0, 1),
    reverse: bool = False,
    header: bool = False,
    option: str | None = None,
) -> Pairs:
    """`(source, target)` pairs from a TSV file or two plain-text files.

    Args:
        paths: list of str. One TSV path, or source and target paths.
        columns: two ints. TSV columns of source and target. Defaults to
            `(0, 1)`.
        reverse: bool. Swap source and target. Defaults to `False`.
        header: bool. Skip the first non-blank line of each file (column
            names). Defaults to `False`: every line is a pair, and a first
            line that looks like column names gets a warning on stderr.
        option: str or None. The flag that gave `paths` (`"--data"`,
            `"--dev"`), named in the error for two TSV files. Defaults to
            `None`.

    Raises:
        RunError: for a missing, empty, non-UTF-8 or malformed file, or
            two files that are both tab-separated.
    """
    numbered = read_numbered_pairs(paths, columns, reverse, header, option)
    return [pair for _, pair in numbered]


def read_numbered_pairs(
    paths: list[str],
    columns=(0, 1),
    reverse: bool = False,
    header: bool = False,
    option: str | None = None,
    skipped: list | None = None,
) -> list[tuple[int, tuple[str, str]]]:
    """`read_pairs`' pairs, each after the number of the file line it was
    read from: 1-based, counting every line (blank ones and a header too),
    so a message can name a line the user can open. Two aligned files
    hold a pair on the same line. With `header`, `skipped` (a list) gets
    `(where, line number, columns)` of the line skipped as the header."""
    if len(paths) == 1:
        numbered = _read_tsv(paths[0], columns, header, skipped)
    elif len(paths) == 2:
        numbered = _read_aligned(*paths, header, option, skipped)
    else:
        raise RunError("a corpus is one TSV file or two plain-text files")
    if reverse:
        numbered = [(n, (target, source)) for n, (source, target) in numbered]
    return numbered


# Words of column names: what a header line of a parallel corpus holds.
_HEADER_WORDS = frozenset(
    "source target src tgt trg input output text sentence sentences "
    "translation lang language english spanish french german italian "
    "portuguese dutch russian chinese japanese korean arabic turkish "
    "polish czech swedish danish norwegian finnish greek hebrew hindi "
    "en es fr de it pt nl ru zh ja ko ar tr pl cs sv da fi el he hi "
    "eng spa fra fre deu ger ita por nld rus zho jpn kor ara tur".split()
)


def _looks_like_header(pair) -> bool:
    """Two different column names, e.g. `english`, `spanish` or `src`,
    `tgt`: every word of each side is a word of column names."""
    words = [re.split(r"[\W_]+", side.lower()) for side in pair]
    return pair[0].lower() != pair[1].lower() and all(
        word in _HEADER_WORDS for side in words for word in side
    )


def _warn_if_header(pair, where, number) -> None:
    """A warning when a first line read as a pair looks like a header."""
    if _looks_like_header(pair):
        print(
            f"seq2seq: warning: {where} line {number} looks like column "
            f"names ({pair[0]!r}, {pair[1]!r}) but is read as a sentence "
            "pair; give --header (config key header) to skip it",
            file=sys.stderr,
        )


def _check_not_only_a_header(pairs, where) -> None:
    if not pairs:
        raise RunError(
            f"{where} has no pairs after its header line; give a file "
            "with pairs, or drop --header if that line is a pair"
        )


class TooFewColumns(RunError):
    """A TSV line with fewer columns than `--columns` reads."""

    def __init__(self, path, number: int, count: int, columns):
        self.where = f"{path} line {number} has {count} columns"
        self.columns = columns
        need = max(columns) + 1
        super().__init__(f"{self.where} but --columns needs {need}")


def _read_tsv(path, columns, header=False, skipped=None):
    need = max(columns) + 1

    def to_pair(line, number):
        fields = line.split("\t")
        if len(fields) < 2:
            raise RunError(
                f"{path} line {number} has no tab; each line must be "
                "source<TAB>target"
            )
        if len(fields) < need:
            raise TooFewColumns(path, number, len(fields), columns)
        return (fields[columns[0]].strip(), fields[columns[1]].strip())

    # Blank lines (trailing or separating) are skipped.
    lines = [
        (number, line)
        for number, line in enumerate(_read_lines(path), start=1)
        if line.strip()
    ]
    if not any("\t" in line for _, line in lines):
        raise RunError(
            f"{path} has no tab on any line, so it is not a tab-separated "
            "(TSV) corpus; give a TSV file (source<TAB>target), or two "
            "aligned files: the source sentences and the target sentences"
        )
    return _collect(lines, path, header, to_pair, skipped)


def _read_aligned(
    source_path, target_path, header=False, option=None, skipped=None
):
    sources = _read_lines(source_path)
    targets = _read_lines(target_path)
    if len(sources) != len(targets):
        # Blank lines at the end (an editor's extra newline) align nothing.
        sources = _drop_trailing_blanks(sources)
        targets = _drop_trailing_blanks(targets)
    given = f"two files to {option}" if option else "two corpus files"
    meaning = (
        f"{given} are the source and the target sentences of one corpus, "
        "aligned line by line"
    )
    if tab_separated(sources) and tab_separated(targets):
        fix = f"give {option} one TSV file" if option else "give one TSV file"
        if option == "--data":
            fix += ", and a dev TSV file to --dev"
        raise RunError(
            f"{source_path} and {target_path} are both tab-separated (TSV) "
            f"files, but {meaning}; {fix}"
        )
    for path, lines in ((source_path, sources), (target_path, targets)):
        if tab_separated(lines):
            fix = f"give {option} " if option else "give "
            raise RunError(
                f"{path} is a tab-separated (TSV) file, but {meaning}; "
                f"{fix}the TSV file alone, or two plain-text files"
            )
    if len(sources) != len(targets):
        raise RunError(
            f"{source_path} has {len(sources)} lines but {target_path} has "
            f"{len(targets)}; the files must be aligned line by line"
        )
    stripped = (
        (number, (source.strip(), target.strip()))
        for number, (source, target) in enumerate(
            zip(sources, targets, strict=True), start=1
        )
    )
    # Lines blank in both files are skipped.
    lines = [(number, pair) for number, pair in stripped if pair != ("", "")]
    where = f"{source_path} / {target_path}"
    return _collect(lines, where, header, lambda pair, number: pair, skipped)


def _drop_trailing_blanks(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def tab_separated(lines) -> bool:
    """Most non-blank lines hold a tab: a TSV file (perhaps with a line
    that lost its tab), not sentences, which rarely hold one."""
    lines = [line for line in lines if line.strip()]
    return sum("\t" in line for line in lines) > len(lines) / 2


def _collect(lines, where, header, to_pair, skipped=None):
    """`(line number, pair)` for `lines`, `(line number, text)` of the
    non-blank lines of `where`: the first is skipped with `header` (it
    names the columns; `(where, number, its columns)` goes to the list
    `skipped`), the others become pairs by `to_pair(text, number)` and
    are checked. Without `header`, a first pair that looks like column
    names gets a warning."""
    if header:
        if skipped is not None and lines:
            number, text = lines[0]
            columns = tuple(text.split("\t")) if isinstance(text, str) else text
            skipped.append((where, number, columns))
        lines = lines[1:]
    numbered = []
    for number, text in lines:
        pair = to_pair(text, number)
        _check_sides(pair, where, number)
        if not numbered and not header:
            _warn_if_header(pair, where, number)
        numbered.append((number, pair))
    _check_not_only_a_header(numbered, where)
    return numbered


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
