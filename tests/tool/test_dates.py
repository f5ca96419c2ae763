"""The generated date corpus: formats, splits, determinism and TSV files.

The round trip uses a parser written here from the documented rules (month
and weekday names, day-first numbers, the 1950-2049 two-digit-year pivot),
not from the generator's code.
"""

import datetime
import hashlib
import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from keras_seq2seq.nmt import dates
from keras_seq2seq.nmt.dates import (
    FORMAT_NAMES,
    MAX_SOURCE_LENGTH,
    TARGET_LENGTH,
    TWO_DIGIT_YEAR_FORMATS,
    Style,
    expand_two_digit_year,
    format_date,
    make_splits,
    ordinal,
    write_splits,
    write_tsv,
)

# 2018-05-09 was a Wednesday. Written by hand from the format descriptions.
PLAIN_2018_05_09 = {
    "day_month_year": "9 may 2018",
    "ordinal_month_year": "9th may 2018",
    "the_ordinal_of_month_year": "the 9th of may 2018",
    "month_day_year": "may 9, 2018",
    "month_ordinal_year": "may 9th, 2018",
    "year_month_day": "2018 may 9",
    "weekday_day_month_year": "wednesday 9 may 2018",
    "weekday_month_day_year": "wednesday, may 9, 2018",
    "weekday_the_ordinal_of_month_year": "wednesday the 9th of may 2018",
    "day_mon_yy": "9-may-18",
    "slash_dmy_short": "9/5/18",
    "slash_dmy": "9/5/2018",
    "dot_dmy_short": "9.5.18",
    "dot_dmy": "9.5.2018",
    "dash_dmy": "9-5-2018",
    "slash_ymd": "2018/5/9",
    "compact_ymd": "20180509",
}

# --- An independent parser -------------------------------------------------

MONTH_NAMES = [
    "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
]  # fmt: skip
DAY_NAMES = [
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
    "sunday",
]  # fmt: skip
MONTH_NUMBER = {n: i + 1 for i, n in enumerate(MONTH_NAMES)}
MONTH_NUMBER.update({n[:3]: i + 1 for i, n in enumerate(MONTH_NAMES)})
WEEKDAY_NUMBER = {n: i for i, n in enumerate(DAY_NAMES)}
WEEKDAY_NUMBER.update({n[:3]: i for i, n in enumerate(DAY_NAMES)})


def _names(group, words):
    return f"(?P<{group}>{'|'.join(sorted(words, key=len, reverse=True))})"


_S = r" {0,2}"  # a gap: single, doubled, or closed up
_D = r"(?P<day>\d{1,2})"
_O = r"(?P<day>\d{1,2})(?:st|nd|rd|th)"
_M = _names("month", MONTH_NUMBER)
_W = _names("weekday", WEEKDAY_NUMBER)
_Y = r"(?P<year>\d{4})"
_YY = r"(?P<yy>\d\d)"
_MM = r"(?P<month>\d{1,2})"
PATTERNS = {
    "day_month_year": f"{_D}{_S}{_M}{_S}{_Y}",
    "ordinal_month_year": f"{_O}{_S}{_M}{_S}{_Y}",
    "the_ordinal_of_month_year": f"the{_S}{_O}{_S}of{_S}{_M}{_S}{_Y}",
    "month_day_year": f"{_M}{_S}{_D},{_S}{_Y}",
    "month_ordinal_year": f"{_M}{_S}{_O},{_S}{_Y}",
    "year_month_day": f"{_Y}{_S}{_M}{_S}{_D}",
    "weekday_day_month_year": f"{_W}{_S}{_D}{_S}{_M}{_S}{_Y}",
    "weekday_month_day_year": f"{_W},{_S}{_M}{_S}{_D},{_S}{_Y}",
    "weekday_the_ordinal_of_month_year": (
        f"{_W}{_S}the{_S}{_O}{_S}of{_S}{_M}{_S}{_Y}"
    ),
    "day_mon_yy": f"{_D}-{_M}-{_YY}",
    "slash_dmy_short": f"{_D}/{_MM}/{_YY}",
    "slash_dmy": f"{_D}/{_MM}/{_Y}",
    "dot_dmy_short": rf"{_D}\.{_MM}\.{_YY}",
    "dot_dmy": rf"{_D}\.{_MM}\.{_Y}",
    "dash_dmy": f"{_D}-{_MM}-{_Y}",
    "slash_ymd": f"{_Y}/{_MM}/{_D}",
    "compact_ymd": r"(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)",
}


def parse(source):
    """`(format name, date)` for a source; exactly one pattern must match."""
    text = source.lower()
    found = [
        (name, m)
        for name, pattern in PATTERNS.items()
        if (m := re.fullmatch(pattern, text))
    ]
    assert len(found) == 1, (source, [name for name, _ in found])
    name, m = found[0]
    fields = m.groupdict()
    if fields.get("yy") is not None:  # the documented pivot
        yy = int(fields["yy"])
        year = 1900 + yy if yy >= 50 else 2000 + yy
    else:
        year = int(fields["year"])
    month = fields["month"]
    month = int(month) if month.isdigit() else MONTH_NUMBER[month]
    date = datetime.date(year, month, int(fields["day"]))
    if fields.get("weekday") is not None:
        assert WEEKDAY_NUMBER[fields["weekday"]] == date.weekday(), source
    return name, date


# --- Tests -----------------------------------------------------------------


@pytest.fixture(scope="module")
def splits():
    return make_splits(seed=0)


@pytest.fixture(scope="module")
def parsed(splits):
    """`(format name, parsed date, target)` for every pair of every split."""
    return [(*parse(source), target) for source, target in _all_pairs(splits)]


def _all_pairs(splits):
    return [pair for pairs in splits.values() for pair in pairs]


def _random_dates(n, seed=0):
    rng = np.random.default_rng(seed)
    first = datetime.date(1900, 1, 1).toordinal()
    last = datetime.date(2099, 12, 31).toordinal()
    days = rng.integers(first, last + 1, size=n)
    return [datetime.date.fromordinal(int(day)) for day in days]


def test_each_format_writes_the_documented_example():
    assert len(FORMAT_NAMES) >= 12
    assert set(FORMAT_NAMES) == set(PLAIN_2018_05_09)
    date = datetime.date(2018, 5, 9)
    for name, expected in PLAIN_2018_05_09.items():
        assert format_date(date, name) == expected


@pytest.mark.parametrize(
    ("name", "style", "expected"),
    [
        (
            "weekday_month_day_year",
            Style(case="title"),
            "Saturday, May 9, 2020",
        ),
        ("weekday_day_month_year", Style(case="upper"), "SATURDAY 9 MAY 2020"),
        (
            "the_ordinal_of_month_year",
            Style(case="title"),
            "The 9th Of May 2020",
        ),
        ("ordinal_month_year", Style(case="upper"), "9TH MAY 2020"),
        ("weekday_day_month_year", Style(full_weekday=False), "sat 9 may 2020"),
        ("day_month_year", Style(pad=True), "09 may 2020"),
        ("slash_dmy", Style(pad=True), "09/05/2020"),
        ("dot_dmy_short", Style(pad=True), "09.05.20"),
        ("compact_ymd", Style(pad=False), "20200509"),
        ("ordinal_month_year", Style(pad=True), "9th may 2020"),
        ("month_day_year", Style(spacing="tight"), "may 9,2020"),
        ("day_month_year", Style(spacing="tight"), "9may 2020"),
        ("year_month_day", Style(spacing="tight"), "2020 may 9"),
        ("month_day_year", Style(spacing="double", gap=1), "may 9,  2020"),
        ("day_mon_yy", Style(case="title"), "9-May-20"),
    ],
)
def test_style_changes_case_names_padding_and_spacing(name, style, expected):
    assert format_date(datetime.date(2020, 5, 9), name, style) == expected


def test_abbreviated_month_is_three_letters():
    date = datetime.date(1999, 9, 30)
    style = Style(full_month=False, full_weekday=False)
    assert format_date(date, "weekday_day_month_year", style) == (
        "thu 30 sep 1999"
    )


@pytest.mark.parametrize(
    ("day", "expected"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"),
     (12, "12th"), (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"),
     (24, "24th"), (30, "30th"), (31, "31st")],
)  # fmt: skip
def test_ordinal_suffixes(day, expected):
    assert ordinal(day) == expected


def test_default_splits_have_the_default_sizes(splits):
    sizes = {name: len(pairs) for name, pairs in splits.items()}
    assert sizes == {"train": 20000, "dev": 1000, "test": 1000}


def test_same_seed_same_splits_and_other_seed_differs():
    first = make_splits(seed=7, n_train=500, n_dev=50, n_test=50)
    again = make_splits(seed=7, n_train=500, n_dev=50, n_test=50)
    other = make_splits(seed=8, n_train=500, n_dev=50, n_test=50)
    assert first == again
    for name in ("train", "dev", "test"):
        assert first[name] != other[name]


def test_dev_and_test_do_not_depend_on_n_train():
    small = make_splits(seed=1, n_train=10, n_dev=30, n_test=30)
    large = make_splits(seed=1, n_train=900, n_dev=30, n_test=30)
    assert small["dev"] == large["dev"]
    assert small["test"] == large["test"]


def test_output_does_not_depend_on_hash_randomisation():
    # Loads the files alone (standard library only), so no Keras start-up:
    # date_formats under its own name, where dates imports it from.
    path = Path(dates.__file__)
    code = (
        "import hashlib, importlib.util, sys\n"
        "def load(name, path):\n"
        "    spec = importlib.util.spec_from_file_location(name, path)\n"
        "    sys.modules[name] = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(sys.modules[name])\n"
        "    return sys.modules[name]\n"
        "load('keras_seq2seq.nmt.date_formats', "
        f"{str(path.with_name('date_formats.py'))!r})\n"
        f"d = load('d', {str(path)!r})\n"
        "s = d.make_splits(seed=3, n_train=3000, n_dev=100, n_test=100)\n"
        "print(hashlib.sha256(repr(s).encode()).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(run.stdout.strip())
    here = make_splits(seed=3, n_train=3000, n_dev=100, n_test=100)
    digests.add(hashlib.sha256(repr(here).encode()).hexdigest())
    assert len(digests) == 1


def test_every_source_parses_back_to_its_target(parsed):
    for _, date, target in parsed:
        assert date.isoformat() == target


def test_corpus_uses_every_format(parsed):
    used = Counter(name for name, _, _ in parsed)
    assert set(used) == set(FORMAT_NAMES)
    assert min(used.values()) > 300  # each is common enough to learn


def test_corpus_has_case_and_spacing_variants(splits):
    sources = [source for source, _ in splits["train"]]
    assert any(s.islower() for s in sources)
    assert any(s.isupper() for s in sources)
    assert any(re.search(r"[A-Z][a-z]", s) for s in sources)
    assert any("  " in s for s in sources)
    assert any(re.search(r",\S|\d[A-Za-z]{3}", s) for s in sources)


def test_weekdays_are_the_true_weekday(splits):
    checked = 0
    for source, target in _all_pairs(splits):
        words = re.findall(r"[a-z]+", source.lower())
        if words and words[0] in WEEKDAY_NUMBER:
            weekday = WEEKDAY_NUMBER[words[0]]
            assert weekday == datetime.date.fromisoformat(target).weekday()
            checked += 1
    assert checked > 3000


def test_targets_are_iso_dates_from_1900_to_2099(splits):
    low, high = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
    for _, target in _all_pairs(splits):
        assert len(target) == TARGET_LENGTH == 10
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", target)
        assert low <= datetime.date.fromisoformat(target) <= high


def test_dates_cover_the_whole_range(splits):
    years = {target[:4] for _, target in splits["train"]}
    assert {"1900", "1949", "1950", "2049", "2050", "2099"} <= years


def test_no_source_maps_to_two_targets(splits):
    target_of = {}
    for source, target in _all_pairs(splits):
        assert target_of.setdefault(source, target) == target, source


def test_no_source_maps_to_two_targets_over_all_styles():
    styles = [
        Style(case, month, weekday, pad, spacing, gap)
        for case, month, weekday, pad in itertools.product(
            ("lower", "title", "upper"), (True, False), (True, False),
            (True, False),
        )
        for spacing, gap in (("single", 0), ("tight", 0), ("double", 2))
    ]  # fmt: skip
    target_of = {}
    for date in _random_dates(60, seed=1):
        names = [
            n
            for n in FORMAT_NAMES
            if n not in TWO_DIGIT_YEAR_FORMATS or 1950 <= date.year <= 2049
        ]
        for name, style in itertools.product(names, styles):
            source = format_date(date, name, style)
            assert target_of.setdefault(source, date) == date, source


def test_splits_share_no_source_and_no_date(splits):
    for a, b in itertools.combinations(("train", "dev", "test"), 2):
        assert not {s for s, _ in splits[a]} & {s for s, _ in splits[b]}
        assert not {t for _, t in splits[a]} & {t for _, t in splits[b]}


def test_dev_and_test_hold_one_pair_per_date(splits):
    for name in ("dev", "test"):
        targets = [target for _, target in splits[name]]
        assert len(set(targets)) == len(targets)


def test_sources_are_distinct_within_each_split(splits):
    for pairs in splits.values():
        assert len({source for source, _ in pairs}) == len(pairs)


def test_two_digit_years_pivot_at_1950():
    assert [expand_two_digit_year(yy) for yy in (0, 18, 49, 50, 99)] == [
        2000, 2018, 2049, 1950, 1999,
    ]  # fmt: skip
    for name in TWO_DIGIT_YEAR_FORMATS:
        assert format_date(datetime.date(1950, 1, 2), name).endswith("50")
        assert format_date(datetime.date(2049, 1, 2), name).endswith("49")
        for year in (1949, 2050):
            with pytest.raises(ValueError, match="two-digit years"):
                format_date(datetime.date(year, 1, 2), name)


def test_two_digit_year_formats_only_name_1950_to_2049(parsed):
    years = {
        int(target[:4])
        for name, _, target in parsed
        if name in TWO_DIGIT_YEAR_FORMATS
    }
    assert min(years) >= 1950 and max(years) <= 2049
    assert min(years) < 1960 and max(years) > 2040


def test_numeric_slashes_are_day_first():
    date = datetime.date(2018, 5, 9)
    assert format_date(date, "slash_dmy", Style(pad=True)) == "09/05/2018"
    assert format_date(date, "slash_ymd", Style(pad=True)) == "2018/05/09"


def test_sources_fit_max_source_length(splits):
    lengths = [len(source) for source, _ in _all_pairs(splits)]
    assert max(lengths) <= MAX_SOURCE_LENGTH
    # The longest names: "wednesday", "september"; any style, every format.
    longest = 0
    styles = [
        Style(case, True, True, pad, spacing, gap)
        for case, pad in itertools.product(("lower", "upper"), (True, False))
        for spacing, gap in (("single", 0), ("tight", 0), ("double", 3))
    ]
    for day in range(1, 31):
        date = datetime.date(2049, 9, day)
        for name, style in itertools.product(FORMAT_NAMES, styles):
            longest = max(longest, len(format_date(date, name, style)))
    assert longest == MAX_SOURCE_LENGTH
    assert len("wednesday the 29th of september  2049") == MAX_SOURCE_LENGTH


def test_write_splits_writes_tsv_that_reads_back(splits, tmp_path):
    paths = write_splits(splits, tmp_path / "corpus")
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir()) == [
        "dev.tsv", "test.tsv", "train.tsv",
    ]  # fmt: skip
    for name, pairs in splits.items():
        assert paths[name] == tmp_path / "corpus" / f"{name}.tsv"
        lines = paths[name].read_text(encoding="utf-8").split("\n")
        assert lines[-1] == ""  # each line ends with a newline, no header
        assert [tuple(line.split("\t")) for line in lines[:-1]] == pairs


def test_write_tsv_writes_utf8_lines(tmp_path):
    pairs = [("9 März 2018", "2018-05-09"), ("gestern, 8.5.", "2018-05-08")]
    write_tsv(pairs, tmp_path / "x.tsv")
    expected = "9 März 2018\t2018-05-09\ngestern, 8.5.\t2018-05-08\n"
    assert (tmp_path / "x.tsv").read_bytes() == expected.encode("utf-8")


def test_write_tsv_rejects_a_tab_inside_a_field(tmp_path):
    with pytest.raises(ValueError, match="tab or line break"):
        write_tsv([("9\t5", "2018-05-09")], tmp_path / "x.tsv")


@pytest.fixture
def twenty_days(monkeypatch):
    """A calendar of 1900-01-01..1900-01-20, so small pools are cheap."""
    monkeypatch.setattr(dates, "LAST_DATE", datetime.date(1900, 1, 20))


@pytest.mark.usefixtures("twenty_days")
def test_train_repeats_dates_when_it_needs_more_pairs_than_dates():
    split = make_splits(seed=0, n_train=40, n_dev=5, n_test=5)
    sources = {source for source, _ in split["train"]}
    targets = {target for _, target in split["train"]}
    assert len(sources) == 40 and len(targets) == 10
    assert not targets & {target for _, target in split["dev"]}


@pytest.mark.usefixtures("twenty_days")
def test_make_splits_rejects_more_pairs_than_its_dates_can_write():
    # One date left for training, written in far fewer than 500 ways.
    with pytest.raises(ValueError, match="distinct pairs"):
        make_splits(seed=0, n_train=500, n_dev=10, n_test=9)


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        ({"n_train": -1}, "n_train"),
        ({"n_dev": 1.5}, "n_dev"),
        ({"n_dev": 73000, "n_test": 49}, "leave dates for training"),
    ],
)
def test_make_splits_rejects_bad_counts(counts, match):
    with pytest.raises(ValueError, match=match):
        make_splits(seed=0, **counts)


def test_format_date_rejects_unknown_formats_and_dates():
    with pytest.raises(ValueError, match="Unknown date format"):
        format_date(datetime.date(2018, 5, 9), "mm/dd/yyyy")
    with pytest.raises(ValueError, match="must be in"):
        format_date(datetime.date(1899, 12, 31), "slash_dmy")
    with pytest.raises(ValueError, match="case"):
        Style(case="Title")
    with pytest.raises(ValueError, match="spacing"):
        Style(spacing="none")
