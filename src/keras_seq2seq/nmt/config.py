"""The tool's options: YAML files, flags and the resolved `Config`.

`Config`, its fields (each a config key and a `seq2seq train` flag, with
its help text) and `DATES_DEFAULTS` are defined in
`keras_seq2seq_cli.options`, outside this package, so that `seq2seq` parses
its arguments before Keras is imported; they are importable from here too.
Values resolve in this order: the field default, the built-in corpus'
defaults when no `data` is given (`DATES_DEFAULTS`), the YAML file
(`--config`), then flags. An unknown key is an error naming the nearest
valid key.
"""

import dataclasses
import difflib
import math
import os
import types
import typing
from pathlib import Path

import yaml

from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.yaml_files import load_mapping
from keras_seq2seq_cli import options
from keras_seq2seq_cli.options import DATES_DEFAULTS, Config
from keras_seq2seq_cli.options import default_of as default_of  # re-exported

MODEL_KEYS = (
    "embedding_dim", "cell", "encoder_units", "encoder_layers",
    "bidirectional", "decoder_units", "attention", "attention_units",
    "attention_layer_size", "dropout",
)  # fmt: skip
FIELDS = {field.name: field for field in dataclasses.fields(Config)}


def check_keys(values: dict, where: str) -> None:
    """A `RunError` naming the nearest key for any unknown key."""
    for key in values:
        if key not in FIELDS:
            near = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f"did you mean {near[0]!r}?" if near else "see --help"
            raise RunError(f"unknown config key {key!r} in {where}; {hint}")


def coerce(key: str, value):
    """`value` checked against the field's type (YAML gives plain types)."""
    hint = typing.get_type_hints(Config)[key]
    base, optional = hint, False
    if isinstance(hint, types.UnionType):  # `X | None`
        optional = type(None) in typing.get_args(hint)
        (base,) = [a for a in typing.get_args(hint) if a is not type(None)]
    if value is None:
        if optional:
            return None
        raise RunError(f"config key {key!r} cannot be empty")
    if typing.get_origin(base) is list:
        (item,) = typing.get_args(base)
        if not isinstance(value, list):
            value = [value]
        return [_scalar(key, item, v) for v in value]
    return _scalar(key, base, value)


def _scalar(key, kind, value):
    ok = isinstance(value, kind) and not (
        kind is not bool and isinstance(value, bool)
    )
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok and kind is str and isinstance(value, (int, float)):
        # YAML reads `name: 2024` as a number, `name: yes` as a boolean.
        raise RunError(
            f"config key {key!r} must be text, but YAML read {value!r} as "
            f"{'a boolean' if isinstance(value, bool) else 'a number'}; "
            f'put the value in quotes ({key}: "...")'
        )
    if not ok:
        raise RunError(
            f"config key {key!r} must be {kind.__name__}; got {value!r}"
        )
    choices = FIELDS[key].metadata.get("choices")
    if choices and value not in choices:
        raise RunError(
            f"config key {key!r} must be one of {choices}; got {value!r}"
        )
    return value


def read_yaml(path: str | os.PathLike) -> dict:
    """The mapping in a YAML config file, keys checked."""
    path = Path(path)
    values = load_mapping(path)
    check_keys(values, str(path))
    for key, value in values.items():
        try:
            coerce(key, value)
        except RunError as error:  # else the file went unnamed
            message = f"config file {path}: {error}; fix it there"
            raise RunError(message) from None
    # `runs_dir: ~/runs` is the home folder's, as the flag's is.
    for key in set(options.FILE_KEYS) & set(values):
        value = values[key]
        try:
            if isinstance(value, list):
                values[key] = [options.path(v) for v in value]
            elif isinstance(value, str):
                values[key] = options.path(value)
        except ValueError as error:
            raise RunError(f"config file {path}: {key} {error}") from None
    return values


def resolve(
    file_values: dict, flag_values: dict, config_file: str | None = None
) -> Config:
    """Defaults, then dates defaults (no data), then the file, then flags.
    A value out of range that the file `config_file` gave is a `RunError`
    naming the file (else it read as a flag's)."""
    values = {**file_values, **flag_values}
    merged = {}
    if not values.get("data"):
        merged.update(DATES_DEFAULTS)
    merged.update(values)
    check_keys(merged, "options")
    config = Config(**{k: coerce(k, v) for k, v in merged.items()})
    try:
        _check_ranges(config)
    except _OutOfRange as error:
        if error.key in flag_values or error.key not in file_values:
            raise RunError(str(error)) from None
        raise RunError(
            f"config file {config_file}: {error}; fix it there"
        ) from None
    if config.name is None:
        config.name = _default_name(config)
    return config


class _OutOfRange(RunError):
    """A value out of its range, and the key that gave it."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


# What each number must be. learning_rate, clip_norm: inf made Keras'
# clipping divide inf by inf, NaN at the first step ("lower
# --learning-rate"); seed: what every backend's seeding takes.
POSITIVE = (
    "vocab_size", "max_source_length", "max_target_length",
    "embedding_dim", "encoder_units", "encoder_layers", "decoder_units",
    "attention_units", "attention_layer_size", "batch_size", "max_steps",
    "validate_every", "validation_size", "patience", "keep_checkpoints",
    "dates_train_size", "dev_size",
)  # fmt: skip
RANGES = {
    **dict.fromkeys(POSITIVE, ("must be >= 1", lambda v: v >= 1)),
    **dict.fromkeys(
        ("warmup_steps", "decay_steps", "max_minutes"),
        ("must be >= 0 (0: none)", lambda v: 0 <= v < math.inf),
    ),
    "target_exact_match": (
        "is a fraction in [0, 1] (0: never)",
        lambda v: 0 <= v <= 1,
    ),
    "seed": ("must be in [0, 2**32)", lambda v: 0 <= v < 2**32),
    "dropout": ("must be in [0, 1)", lambda v: 0 <= v < 1),
    **dict.fromkeys(
        ("learning_rate", "clip_norm"),
        ("must be > 0 and finite", lambda v: 0 < v < math.inf),
    ),
}


def _check_ranges(config: Config) -> None:
    """An `_OutOfRange` for the first value of `config` out of its range."""
    for key, (rule, holds) in RANGES.items():
        if not holds(getattr(config, key)):
            raise _OutOfRange(key, f"{key} {rule}; got {getattr(config, key)}")
    for key in PATH_KEYS:  # data, dev
        files = getattr(config, key)
        if files is not None and len(files) not in (1, 2):
            raise _OutOfRange(
                key, f"{key} takes one TSV file or two plain-text files"
            )
        if files is not None and "-" in files:  # as `translate --input -`
            raise _OutOfRange(
                key,
                f"--{key} - (stdin) cannot be read again, as --resume reads "
                "the corpus; give its files",
            )
    for key, check in (
        ("columns", _check_columns),
        ("name", lambda c: c.name is None or check_name(c.name)),
    ):
        try:
            check(config)
        except RunError as error:
            raise _OutOfRange(key, str(error)) from None


def _check_columns(config: Config) -> None:
    if len(config.columns) != 2 or min(config.columns) < 0:
        raise RunError(
            f"columns must be two indices >= 0; got {config.columns}"
        )
    check_columns_differ(config.columns)
    if config.data is not None:
        check_columns_of_files(config.columns, config.data)
    if config.dev is not None:
        check_columns_of_files(config.columns, config.dev, "--dev")


def check_columns_differ(columns) -> None:
    """A `RunError` for one column as both source and target (`--columns
    1 1`, a slip for `1 0`): a model that learns to copy, or references
    scored against themselves, said nothing."""
    if columns[0] == columns[1]:
        raise RunError(
            f"--columns {columns[0]} {columns[1]} names the same column for "
            "source and target; give two columns (0 1, or 1 0 for the "
            "other direction)"
        )


def check_columns_of_files(columns, files, option=None) -> None:
    """A `RunError` for `--columns` other than `0 1` given with two
    aligned files: the columns pick TSV columns, and were ignored, so the
    corpus was read in the direction it was not meant to. `option`
    `"--dev"`: a dev corpus of two files beside a TSV training corpus,
    whose columns it was not read by (dev scored the other direction)."""
    if len(files) != 2 or list(columns) == [0, 1]:
        return
    shown = f"--columns {columns[0]} {columns[1]}"
    if option == "--dev":
        swap = ""
        if list(columns) == [1, 0]:
            swap = ", or --reverse in place of --columns 1 0 (it swaps both)"
        raise RunError(
            f"{shown} picks columns of a TSV file, but --dev is two aligned "
            "files, read as they are (source, then target), so dev would "
            f"be scored in another direction; give a TSV dev file{swap}"
        )
    raise RunError(
        f"{shown} picks columns of one TSV "
        "file, but the corpus is two aligned files (source, then "
        "target); give --reverse, or the files in the other order"
    )


def check_name(name: str) -> None:
    """A `RunError` unless `name` is one folder name, so that the run
    folder `runs_dir/name` is inside `runs_dir` (not `..`, not absolute)."""
    separators = {"/", os.sep, os.altsep} - {None}
    if (
        name in ("", ".", "..")
        or any(s in name for s in separators)
        or "\0" in name
    ):
        raise RunError(
            f"name {name!r} is not a folder name; the run folder is "
            "runs-dir/NAME, give a name without '/' (not '.' or '..') "
            "and choose the folder with --runs-dir"
        )


def _default_name(config: Config) -> str:
    if not config.data:
        return "dates"
    return Path(config.data[0]).resolve().parent.name or "run"


# Corpus paths: a run saves them absolute, so that `--resume` finds the
# corpus from any folder, and compares them as files, not as strings.
PATH_KEYS = ("data", "dev")


def absolute_paths(config: Config) -> Config:
    """`config` with its corpus paths made absolute."""
    paths = {
        key: [str(Path(p).resolve()) for p in getattr(config, key)]
        for key in PATH_KEYS
        if getattr(config, key) is not None
    }
    return dataclasses.replace(config, **paths)


def same_value(key: str, value, run_value) -> bool:
    """Whether an option's `value` is the run's: corpus paths name the same
    files (relative to the current folder), other values are equal."""
    value = coerce(key, value)
    if key in PATH_KEYS and value is not None and run_value is not None:
        return [Path(p).resolve() for p in value] == [
            Path(p).resolve() for p in run_value
        ]
    return value == run_value


def to_yaml(config: Config) -> str:
    """The resolved config as YAML, in field order."""
    return yaml.safe_dump(
        dataclasses.asdict(config), sort_keys=False, allow_unicode=True
    )


# What every command that reads a run needs in range (a hand edit of its
# config.yaml): `max_source_length: -3` cut the last 3 tokens of each input.
RUN_LENGTH_KEYS = ("max_source_length", "max_target_length")


def from_run(values: dict, where: str = "the run's config.yaml") -> Config:
    """A run's saved config. An unknown key (a newer tool), or a value of
    the wrong type or a length limit below 1 (a hand edit) is a
    `RunError` naming `where`."""
    check_keys(values, where)
    try:
        config = Config(**{k: coerce(k, v) for k, v in values.items()})
    except RunError as error:
        raise RunError(f"{where}: {error}; fix it there") from None
    for key in RUN_LENGTH_KEYS:
        if getattr(config, key) < 1:
            raise RunError(
                f"{where}: {key} must be >= 1; got {getattr(config, key)}; "
                "fix it there"
            )
    return config
