"""The built-in corpus: human-written dates to ISO dates, made from a seed.

Each pair is `(source, target)`: a date as a person might write it, and the
same date as ISO `YYYY-MM-DD`, from 1900-01-01 to 2099-12-31. The formats
and styles of the sources, and why no source can mean two dates, are in
`nmt.date_formats` (its names are importable from here too).

`make_splits` draws train, dev and test pairs from a seed. The splits share
no date, so dev and test exact match measure generalisation to unseen dates;
since a source names one date, they share no source either.
"""

import datetime
import os
import random
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from keras_seq2seq.nmt.date_formats import (
    FIRST_DATE,
    FORMAT_NAMES,
    LAST_DATE,
    MAX_SOURCE_LENGTH,
    MONTHS,
    PLAIN,
    TARGET_LENGTH,
    TWO_DIGIT_YEAR_FORMATS,
    TWO_DIGIT_YEARS,
    WEEKDAYS,
    Style,
    expand_two_digit_year,
    format_date,
    ordinal,
)

__all__ = [
    "FIRST_DATE",
    "FORMAT_NAMES",
    "LAST_DATE",
    "MAX_SOURCE_LENGTH",
    "MONTHS",
    "PLAIN",
    "SPLIT_NAMES",
    "TARGET_LENGTH",
    "TWO_DIGIT_YEARS",
    "TWO_DIGIT_YEAR_FORMATS",
    "WEEKDAYS",
    "Style",
    "expand_two_digit_year",
    "format_date",
    "make_splits",
    "ordinal",
    "write_splits",
    "write_tsv",
]

T = TypeVar("T")

SPLIT_NAMES = ("train", "dev", "test")
_FOUR_DIGIT_YEAR_FORMATS = tuple(
    name for name in FORMAT_NAMES if name not in TWO_DIGIT_YEAR_FORMATS
)

# Random draws use only `Random.random()`, whose sequence for a seed Python
# promises to keep across versions (unlike `shuffle` or `choice`).

_CASES = ("lower", "lower", "title", "title", "upper")
_SPACINGS = ("single",) * 8 + ("double", "tight")


def _pick(rnd: random.Random, options: Sequence[T]) -> T:
    return options[int(rnd.random() * len(options))]


def _draw_style(rnd: random.Random) -> Style:
    return Style(
        case=_pick(rnd, _CASES),
        full_month=rnd.random() < 0.5,
        full_weekday=rnd.random() < 0.5,
        pad=rnd.random() < 0.3,
        spacing=_pick(rnd, _SPACINGS),
        gap=int(rnd.random() * 8),
    )


def _draw_pair(rnd: random.Random, date: datetime.date) -> tuple[str, str]:
    low, high = TWO_DIGIT_YEARS
    names = FORMAT_NAMES
    if not low <= date.year <= high:
        names = _FOUR_DIGIT_YEAR_FORMATS
    source = format_date(date, _pick(rnd, names), _draw_style(rnd))
    return source, date.isoformat()


def _shuffled(rnd: random.Random, n: int) -> list[int]:
    """`range(n)` in a random order (Fisher-Yates)."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(rnd.random() * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def _sample_pairs(
    rnd: random.Random, days: list[int], n: int
) -> list[tuple[str, str]]:
    """`n` pairs with distinct sources, going round `days` (day offsets)."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    attempts = 0
    while len(pairs) < n:
        if attempts >= 20 * n + 100:  # `days` has too few dates for `n`
            raise ValueError(
                f"Could not draw {n} distinct pairs from {len(days)} dates; "
                "ask for fewer pairs."
            )
        day = days[attempts % len(days)]
        attempts += 1
        date = FIRST_DATE + datetime.timedelta(days=day)
        source, target = _draw_pair(rnd, date)
        if source not in seen:
            seen.add(source)
            pairs.append((source, target))
    return pairs


def make_splits(
    seed: int = 0, n_train: int = 20000, n_dev: int = 1000, n_test: int = 1000
) -> dict[str, list[tuple[str, str]]]:
    """Train, dev and test `(source, target)` pairs for the date corpus.

    The dates are shuffled once: dev gets the first `n_dev` (one pair each),
    test the next `n_test`, and train draws from all the rest, with several
    formats of one date when `n_train` exceeds the dates left. So the splits
    share no date and no source. The same seed gives the same pairs, and
    dev and test do not depend on `n_train`.

    Args:
        seed: int. Seed for `random.Random`. Defaults to `0`.
        n_train: int. Training pairs. Defaults to `20000`.
        n_dev: int. Dev pairs, one per date. Defaults to `1000`.
        n_test: int. Test pairs, one per date. Defaults to `1000`.

    Returns:
        `{"train": [...], "dev": [...], "test": [...]}`.

    Raises:
        ValueError: for a negative count, or counts the dates cannot fill.
    """
    counts = {"n_train": n_train, "n_dev": n_dev, "n_test": n_test}
    for key, value in counts.items():
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"`{key}` must be >= 0. Received: {key}={value!r}")
    n_days = (LAST_DATE - FIRST_DATE).days + 1
    if n_dev + n_test + (n_train > 0) > n_days:
        raise ValueError(
            f"n_dev + n_test must leave dates for training; there are "
            f"{n_days}. Received: n_dev={n_dev}, n_test={n_test}"
        )
    rnd = random.Random(seed)
    days = _shuffled(rnd, n_days)
    held_out = n_dev + n_test
    dev = _sample_pairs(rnd, days[:n_dev], n_dev)
    test = _sample_pairs(rnd, days[n_dev:held_out], n_test)
    train = _sample_pairs(rnd, days[held_out:], n_train)
    return {"train": train, "dev": dev, "test": test}


def write_tsv(
    pairs: Iterable[tuple[str, str]], path: str | os.PathLike
) -> None:
    """Writes pairs as `source<TAB>target` lines, UTF-8, no header.

    Raises:
        ValueError: if a field holds a tab or a line break.
    """
    lines = []
    for source, target in pairs:
        if re.search(r"[\t\r\n]", source + target):
            raise ValueError(
                "A pair field holds a tab or line break. "
                f"Received: {(source, target)!r}"
            )
        lines.append(f"{source}\t{target}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def write_splits(
    splits: dict[str, list[tuple[str, str]]], folder: str | os.PathLike
) -> dict[str, Path]:
    """Writes each split to `folder/<name>.tsv` (train.tsv, dev.tsv, test.tsv).

    Creates `folder` if needed, and returns the path of each split's file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, pairs in splits.items():
        paths[name] = folder / f"{name}.tsv"
        write_tsv(pairs, paths[name])
    return paths
