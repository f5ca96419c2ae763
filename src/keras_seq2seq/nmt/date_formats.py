"""The built-in corpus' source side: a date as a person writes it.

`format_date` writes a date in one of the formats below, in a `Style`;
`nmt.dates` draws the corpus' pairs from it, each with the same date as ISO
`YYYY-MM-DD` (always `TARGET_LENGTH` = 10 characters) for its target. Dates
run from 1900-01-01 to 2099-12-31. The formats, shown for 2018-05-09 (a
Wednesday) in the plain style (lower case, full names, no zero padding,
single spaces):

    day_month_year                      9 may 2018
    ordinal_month_year                  9th may 2018
    the_ordinal_of_month_year           the 9th of may 2018
    month_day_year                      may 9, 2018
    month_ordinal_year                  may 9th, 2018
    year_month_day                      2018 may 9
    weekday_day_month_year              wednesday 9 may 2018
    weekday_month_day_year              wednesday, may 9, 2018
    weekday_the_ordinal_of_month_year   wednesday the 9th of may 2018
    day_mon_yy                          9-may-18
    slash_dmy_short                     9/5/18
    slash_dmy                           9/5/2018
    dot_dmy_short                       9.5.18
    dot_dmy                             9.5.2018
    dash_dmy                            9-5-2018
    slash_ymd                           2018/5/9
    compact_ymd                         20180509

A `Style` varies each one: case ("9 MAY 2018", "Wednesday, May 9, 2018"),
abbreviated names ("wed 9 may 2018", "9 sep 2018"), zero padding ("09/05/2018",
"09 may 2018"; `compact_ymd` is always padded), one doubled space
("may 9,  2018") or tight spacing ("9may 2018", "may 9,2018"). Ordinals are
never padded ("9th", not "09th"); `day_mon_yy` always abbreviates the month.
A weekday is always the true weekday of the date.

No source string can mean two dates:

- Two-digit years: the `*_short` formats and `day_mon_yy` are used only for
  years 1950-2049, and a two-digit year `yy` reads as 19yy when yy >= 50 and
  as 20yy otherwise (`expand_two_digit_year`).
- Numbers: with slashes, dots or dashes the order is day, month, year
  (European), unless the first number has four digits (`slash_ymd`: year,
  month, day). `compact_ymd` is always eight digits, year, month, day. Every
  other format names the month in words.
- Spacing: a space is only removed after a comma or between a day number and
  a month name, never between two numbers or two words.
"""

import dataclasses
import datetime
import itertools
import re

FIRST_DATE = datetime.date(1900, 1, 1)
LAST_DATE = datetime.date(2099, 12, 31)
TWO_DIGIT_YEARS = (1950, 2049)  # the only years a two-digit year can name
TARGET_LENGTH = 10  # len("YYYY-MM-DD")

# Written out here, not taken from the locale, so output is the same anywhere.
MONTHS = tuple(
    "january february march april may june july august september october "
    "november december".split()
)
WEEKDAYS = tuple(  # in `datetime.date.weekday()` order, Monday first
    "monday tuesday wednesday thursday friday saturday sunday".split()
)


@dataclasses.dataclass(frozen=True)
class Style:
    """How one source string is written, apart from its format.

    Args:
        case: str. `"lower"`, `"title"` (each word capitalised) or `"upper"`.
            Defaults to `"lower"`.
        full_month: bool. `"september"`, not `"sep"`. Defaults to `True`.
        full_weekday: bool. `"wednesday"`, not `"wed"`. Defaults to `True`.
        pad: bool. Zero-pad numeric days and months. Defaults to `False`.
        spacing: str. `"single"`, `"double"` (one gap gets two spaces) or
            `"tight"` (no space after a comma or between a day number and a
            month name). Defaults to `"single"`.
        gap: int. Which gap `"double"` widens, modulo the gap count.
            Defaults to `0`.
    """

    case: str = "lower"
    full_month: bool = True
    full_weekday: bool = True
    pad: bool = False
    spacing: str = "single"
    gap: int = 0

    def __post_init__(self) -> None:
        if self.case not in ("lower", "title", "upper"):
            raise ValueError(
                "`case` must be 'lower', 'title' or 'upper'. "
                f"Received: case={self.case!r}"
            )
        if self.spacing not in ("single", "double", "tight"):
            raise ValueError(
                "`spacing` must be 'single', 'double' or 'tight'. "
                f"Received: spacing={self.spacing!r}"
            )


PLAIN = Style()


def ordinal(day: int) -> str:
    """The English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 21st, 22nd."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    if day % 100 in (11, 12, 13):
        suffix = "th"
    return f"{day}{suffix}"


def expand_two_digit_year(yy: int) -> int:
    """The year `yy` names: 50..99 -> 1950..1999, 00..49 -> 2000..2049."""
    if not 0 <= yy <= 99:
        raise ValueError(f"`yy` must be in 0..99. Received: yy={yy}")
    low = TWO_DIGIT_YEARS[0]
    year = low - low % 100 + yy
    return year if year >= low else year + 100


# Each format is a template over the fields of `_fields`; a space in a
# template separates two tokens (words), which `Style` may space differently.
_FORMATS = {
    "day_month_year": "{day} {month} {year}",
    "ordinal_month_year": "{ordinal} {month} {year}",
    "the_ordinal_of_month_year": "the {ordinal} of {month} {year}",
    "month_day_year": "{month} {day}, {year}",
    "month_ordinal_year": "{month} {ordinal}, {year}",
    "year_month_day": "{year} {month} {day}",
    "weekday_day_month_year": "{weekday} {day} {month} {year}",
    "weekday_month_day_year": "{weekday}, {month} {day}, {year}",
    "weekday_the_ordinal_of_month_year": (
        "{weekday} the {ordinal} of {month} {year}"
    ),
    "day_mon_yy": "{day}-{mon}-{yy}",
    "slash_dmy_short": "{day}/{mm}/{yy}",
    "slash_dmy": "{day}/{mm}/{year}",
    "dot_dmy_short": "{day}.{mm}.{yy}",
    "dot_dmy": "{day}.{mm}.{year}",
    "dash_dmy": "{day}-{mm}-{year}",
    "slash_ymd": "{year}/{mm}/{day}",
    "compact_ymd": "{year}{mm02}{day02}",
}


def _fields(date: datetime.date, style: Style) -> dict[str, str]:
    """The lower-case pieces a template can name."""
    month = MONTHS[date.month - 1]
    weekday = WEEKDAYS[date.weekday()]
    pad = "02" if style.pad else ""
    return {
        "day": f"{date.day:{pad}}",
        "ordinal": ordinal(date.day),  # never padded: "9th", not "09th"
        "mm": f"{date.month:{pad}}",
        "day02": f"{date.day:02}",
        "mm02": f"{date.month:02}",
        "month": month if style.full_month else month[:3],
        "mon": month[:3],
        "weekday": weekday if style.full_weekday else weekday[:3],
        "year": str(date.year),
        "yy": f"{date.year % 100:02}",
    }


FORMAT_NAMES = tuple(_FORMATS)
TWO_DIGIT_YEAR_FORMATS = frozenset(
    {"day_mon_yy", "slash_dmy_short", "dot_dmy_short"}
)


_WORD_START = re.compile(r"(?<![a-z0-9])[a-z]")


def _cased(token: str, case: str) -> str:
    if case == "upper":
        return token.upper()
    if case == "title":  # capitalise each word, but not the "th" of "9th"
        return _WORD_START.sub(lambda m: m[0].upper(), token)
    return token


def _can_close(left: str, right: str) -> bool:
    """Whether a gap may lose its space: "may 9,2018", "9may 2018"."""
    after_comma = left.endswith(",")
    day_then_word = left.isdigit() and len(left) <= 2 and right[0].isalpha()
    return after_comma or day_then_word


def _joined(tokens: list[str], style: Style) -> str:
    gaps = [" "] * (len(tokens) - 1)
    if style.spacing == "double" and gaps:
        gaps[style.gap % len(gaps)] = "  "
    elif style.spacing == "tight":
        pairs = itertools.pairwise(tokens)
        gaps = ["" if _can_close(a, b) else " " for a, b in pairs]
    spaced = zip(gaps, tokens[1:], strict=True)
    return tokens[0] + "".join(gap + token for gap, token in spaced)


def format_date(date: datetime.date, name: str, style: Style = PLAIN) -> str:
    """Writes `date` in the format `name` (see the module docstring).

    Args:
        date: datetime.date. In `FIRST_DATE..LAST_DATE`, and in
            `TWO_DIGIT_YEARS` for a format in `TWO_DIGIT_YEAR_FORMATS`.
        name: str. One of `FORMAT_NAMES`.
        style: Style. Case, names, padding and spacing. Defaults to `PLAIN`.

    Returns:
        The source string, e.g. `"wednesday 9 may 2018"`.

    Raises:
        ValueError: for an unknown format or a date the format cannot write.
    """
    if name not in _FORMATS:
        raise ValueError(
            f"Unknown date format {name!r}; use one of {FORMAT_NAMES}."
        )
    if not FIRST_DATE <= date <= LAST_DATE:
        raise ValueError(
            f"`date` must be in {FIRST_DATE}..{LAST_DATE}. Received: {date}"
        )
    low, high = TWO_DIGIT_YEARS
    if name in TWO_DIGIT_YEAR_FORMATS and not low <= date.year <= high:
        raise ValueError(
            f"Format {name!r} writes two-digit years, so only years "
            f"{low}-{high}. Received: {date}"
        )
    return _render(date, name, style)


def _render(date: datetime.date, name: str, style: Style) -> str:
    tokens = _FORMATS[name].format(**_fields(date, style)).split(" ")
    if style.case != "lower":
        tokens = [_cased(token, style.case) for token in tokens]
    return _joined(tokens, style)


def _longest_source() -> int:
    """The longest source any format and style can give.

    Length grows with full names, padding and a doubled space, and case
    never changes it. "september" and "wednesday" are the longest names,
    and the days 10..30 of a September include every weekday with a
    two-digit day; the year is one every format can write.
    """
    style = Style(pad=True, spacing="double")
    year = TWO_DIGIT_YEARS[1]
    return max(
        len(format_date(datetime.date(year, 9, day), name, style))
        for day in range(10, 31)
        for name in FORMAT_NAMES
    )


MAX_SOURCE_LENGTH = _longest_source()  # characters; a model can size to it
