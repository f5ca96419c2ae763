"""The training and dev pairs of a run: the built-in corpus or files."""

import random
import sys
from pathlib import Path

from keras_seq2seq.nmt import dates
from keras_seq2seq.nmt.config import Config
from keras_seq2seq.nmt.data import Pairs, read_pairs
from keras_seq2seq.nmt.run_error import RunError

DATES_SEED = 0  # the built-in corpus' splits are fixed: dev and test known
DATES_EVAL_SIZE = 1000


def dates_splits(config: Config) -> dict[str, Pairs]:
    """Train, dev and test pairs of the built-in dates corpus."""
    return dates.make_splits(
        DATES_SEED,
        n_train=config.dates_train_size,
        n_dev=DATES_EVAL_SIZE,
        n_test=DATES_EVAL_SIZE,
    )


def load(config: Config) -> tuple[Pairs, Pairs]:
    """`(train, dev)` pairs for `config`; fills `config.dev` if found.

    Dev is, in order: `config.dev`; `dev.tsv` beside a TSV corpus; or
    `dev_size` pairs held out of training (at most a tenth of it), drawn
    with `config.seed`. A dev corpus that is the training corpus (the
    same files) gets a warning: its scores would measure memorisation.
    """
    if not config.data:
        splits = dates_splits(config)
        return splits["train"], splits["dev"]
    read = dict(
        columns=config.columns, reverse=config.reverse, header=config.header
    )
    train = read_pairs(config.data, **read, option="--data")
    if config.dev is None and len(config.data) == 1:
        beside = Path(config.data[0]).with_name("dev.tsv")
        if (
            beside.is_file()
            and beside.resolve() != Path(config.data[0]).resolve()
        ):
            config.dev = [str(beside)]
    if config.dev is not None:
        dev = read_pairs(config.dev, **read, option="--dev")
        _warn_if_training_data(config.dev, config.data)
        return train, dev
    held = min(config.dev_size, len(train) // 10)
    if held < 1:
        raise RunError(
            f"{config.data[0]} has {len(train)} pairs, too few to hold "
            "out a dev set; give --dev or a bigger corpus"
        )
    order = list(range(len(train)))
    random.Random(config.seed).shuffle(order)
    dev = [train[i] for i in order[:held]]
    train = [train[i] for i in sorted(order[held:])]
    return train, dev


def _warn_if_training_data(dev: list[str], data: list[str]) -> None:
    """A warning when the dev files are the training files."""
    if [Path(p).resolve() for p in dev] == [Path(p).resolve() for p in data]:
        print(
            f"seq2seq: warning: the dev corpus {' '.join(dev)} is the "
            "training corpus; its dev scores would measure memorisation, "
            "not translation; give --dev held-out pairs, or leave it unset "
            "to hold out --dev-size pairs of the training corpus",
            file=sys.stderr,
        )
