"""The training and dev pairs of a run: the built-in corpus or files."""

import random
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
    with `config.seed`.
    """
    if not config.data:
        splits = dates_splits(config)
        return splits["train"], splits["dev"]
    read = dict(
        columns=config.columns, reverse=config.reverse, header=config.header
    )
    train = read_pairs(config.data, **read)
    if config.dev is None and len(config.data) == 1:
        beside = Path(config.data[0]).with_name("dev.tsv")
        if (
            beside.is_file()
            and beside.resolve() != Path(config.data[0]).resolve()
        ):
            config.dev = [str(beside)]
    if config.dev is not None:
        dev = read_pairs(config.dev, **read)
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
