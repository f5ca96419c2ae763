"""The training and dev pairs of a run: the built-in corpus or files."""

import hashlib
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


def load(config: Config, find_dev: bool = True) -> tuple[Pairs, Pairs]:
    """`(train, dev)` pairs for `config`; fills `config.dev` if found.

    Dev is, in order: `config.dev`; `dev.tsv` beside a TSV corpus (unless
    `find_dev` is `False`: a resume keeps the run's choice); or `dev_size`
    pairs held out of training (at most a tenth of it), drawn with
    `config.seed`.
    """
    if not config.data:
        splits = dates_splits(config)
        return splits["train"], splits["dev"]
    for name in [*config.data, *(config.dev or [])]:
        path = Path(name)
        if path.exists() and not path.is_dir() and not path.is_file():
            raise RunError(
                f"corpus file {path} is not a regular file (a pipe, such "
                "as <(zcat ...), or a device); a run reads its corpus "
                "again on --resume, so save it to a file and give that"
            )
    read = dict(
        columns=config.columns, reverse=config.reverse, header=config.header
    )
    train = read_pairs(config.data, **read, option="--data")
    if find_dev and config.dev is None and len(config.data) == 1:
        beside = Path(config.data[0]).with_name("dev.tsv")
        if (
            beside.is_file()
            and beside.resolve() != Path(config.data[0]).resolve()
        ):
            config.dev = [str(beside)]
    if config.dev is not None:
        dev = read_pairs(config.dev, **read, option="--dev")
        return train, dev
    held = min(config.dev_size, len(train) // 10)
    if held < 1:
        raise RunError(
            f"{config.data[0]} has {len(train)} "
            f"pair{'s' if len(train) != 1 else ''}, too few to hold out a "
            "dev set (a tenth of them); give --dev or a bigger corpus"
        )
    order = list(range(len(train)))
    random.Random(config.seed).shuffle(order)
    dev = [train[i] for i in order[:held]]
    train = [train[i] for i in sorted(order[held:])]
    return train, dev


def fingerprint(config: Config, train: Pairs, dev: Pairs) -> dict | None:
    """`{"train": {"pairs", "sha256"}, "dev": {...}}`: the pairs a run read
    from its corpus files, which a resume compares (see `nmt.resume`);
    `None` for the built-in corpus, which no file can change."""
    if not config.data:
        return None

    def digest(pairs):
        # "\n" separates: no line read from a file holds one.
        text = "".join(f"{source}\n{target}\n" for source, target in pairs)
        sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return {"pairs": len(pairs), "sha256": sha256}

    return {"train": digest(train), "dev": digest(dev)}


# A dev corpus with more of its pairs in training than this is reported.
DEV_OVERLAP_WARNING = 0.1


def warn_if_dev_is_short(config: Config, train: Pairs, dev: Pairs) -> None:
    """A warning when `load` held out fewer dev pairs than `--dev-size`
    asks: it holds out at most a tenth of the corpus. A new run calls it
    once; a resume does not repeat it. With a dev corpus (`--dev`, or
    dev.tsv beside the corpus) nothing is held out: it says that the
    option changes nothing."""
    if config.data and config.dev is not None:
        print(
            f"seq2seq: warning: --dev-size {config.dev_size} holds pairs "
            f"out of training when there is no dev corpus, but dev is "
            f"{' '.join(config.dev)} ({len(dev)} pairs), so it changes "
            "nothing; --validation-size sets how many dev pairs each "
            "validation scores",
            file=sys.stderr,
        )
        return
    if not config.data or len(dev) >= config.dev_size:
        return
    total = len(train) + len(dev)
    print(
        f"seq2seq: warning: held out {len(dev)} dev pairs, not --dev-size "
        f"{config.dev_size}: at most a tenth of the {total} pairs of "
        f"{' '.join(config.data)}; give --dev a dev corpus for more",
        file=sys.stderr,
    )


def warn_if_dev_overlaps(config: Config, train: Pairs, dev: Pairs) -> None:
    """A warning when a dev corpus that `load` read from files is (partly)
    the training corpus: the same files, or more than a tenth of its pairs
    also training pairs. Its dev scores would measure memorisation. A new
    run calls it once; a resume does not repeat it."""
    if not config.data or config.dev is None:
        return  # the built-in corpus' or held-out dev shares no pair
    data = {Path(p).resolve() for p in config.data}
    files = " ".join(config.dev)
    shared_files = [p for p in config.dev if Path(p).resolve() in data]
    pairs = set(train)
    repeated = sum(pair in pairs for pair in dev)
    if {Path(p).resolve() for p in config.dev} == data:
        what = f"the dev corpus {files} is the training corpus"
    elif repeated > DEV_OVERLAP_WARNING * len(dev):
        what = (
            f"{repeated} of the {len(dev)} dev pairs of {files} "
            f"({100 * repeated / len(dev):.0f} %) are training pairs"
        )
    elif shared_files:
        what = f"the dev file {shared_files[0]} is a training file"
    else:
        return
    print(
        f"seq2seq: warning: {what}; its dev scores would measure "
        "memorisation, not translation; give --dev held-out pairs, or "
        "leave it unset to hold out --dev-size pairs of the training corpus",
        file=sys.stderr,
    )


def warn_if_test_is_seen(config: Config, run_path: Path, data: list) -> None:
    """A warning for each file of `evaluate`'s `data` that is a training
    or dev file of the run of `config` (the dates corpus' splits in its
    data/ folder): its scores measure memorisation, or flatter the best
    model its dev pairs chose, not translation of unseen text."""
    training = config.data or [run_path / "data" / "train.tsv"]
    dev = config.dev or ([] if config.data else [run_path / "data" / "dev.tsv"])
    seen = {Path(name).resolve(): "memorisation" for name in training}
    for name in dev:
        seen.setdefault(Path(name).resolve(), "dev")
    for name in data:
        what = seen.get(Path(name).resolve())
        if what == "memorisation":
            said = (
                f"{name} is a training file of the run {run_path}: its "
                "scores measure memorisation, not translation"
            )
        elif what == "dev":
            said = (
                f"{name} is the dev corpus of the run {run_path}, whose "
                "scores chose its best model: they flatter it"
            )
        else:
            continue
        print(
            f"seq2seq: warning: {said}; give held-out test pairs",
            file=sys.stderr,
        )
