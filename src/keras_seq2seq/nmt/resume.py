"""`seq2seq train --resume`: reopen a run, find its corpus, check it.

A resume continues a run with its model, vocabularies and data order, so
it must train on the pairs the run started with. A new run records a
fingerprint of its training and dev pairs in `state.json`
(`corpus.fingerprint`); a resume reads the corpus again and refuses it if
the pairs differ. The fingerprint is a SHA-256 of the pairs as read (after
columns, `--reverse` and `--header`), not of the files' sizes and times:
the pairs are in memory already, and hashing them is cheap (0.05 s for
the 115,000 pairs of Tatoeba eng-spa, which take 0.3 s to read); it sees
an edit that keeps a file's size and time (`cp -p`, `rsync -t`), and it
ignores what changes no pair (a `touch`, a copy, CRLF line endings, a
byte-order mark, blank lines), which size and time would call a change,
and so block a resume.

Corpus paths: a run saves them absolute. A run saved before that (paths
relative to the folder it was started in) finds them from that folder,
which the run's own place and its relative `runs_dir` give. `--data` and
`--dev` may also say where the run's corpus is now: the fingerprint (or,
for a run without one, the file names) must agree.
"""

import dataclasses
import sys
from pathlib import Path

import keras

from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import corpus, data, run_folder
from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.validator import latest_checkpoint

# Options a resumed run may change; the others are fixed by its model,
# vocabularies and data order. `keep_checkpoints` only prunes (a disk that
# fills up).
RESUMABLE_KEYS = (
    "keep_checkpoints",
    "max_minutes",
    "max_steps",
    "patience",
    "target_exact_match",
    "validate_every",
    "validation_size",
)
# Options that say where the run is, or how many devices train it (the
# batch stays global), not what it is: a resume may give any value.
LOCATING_KEYS = ("name", "runs_dir", "devices")
# What a resume may change and saves in config.yaml with its checkpoints.
CHANGEABLE_KEYS = (*RESUMABLE_KEYS, "devices")


@dataclasses.dataclass
class Resumed:
    """A reopened run: its model and state, and the config to save if its
    corpus paths were found elsewhere than config.yaml says."""

    run: run_folder.Run
    model: keras.Model
    state: dict
    new_paths: config_lib.Config | None
    validation_size_was: int
    corpus_moved: bool = False


def reopen(path: Path, overrides: dict, config_file=None) -> Resumed:
    """The run in `path` with its newest checkpoint; a `RunError` for an
    option it cannot change (naming `config_file` for the values of
    `overrides` that it gave), or a damaged run."""
    run = run_folder.open_run(path)
    state = run_folder.read_state(path)
    run_folder.check_can_train_in(path)  # before the hour of training
    saved = dataclasses.replace(run.config)
    _locate_corpus(run.config, path, overrides, "corpus" in state)
    corpus_moved = any(
        getattr(run.config, key) != getattr(saved, key)
        for key in config_lib.PATH_KEYS
    )
    # A run moved (`mv runs/a runs/b`) is where it is now: its config.yaml
    # kept the old name and runs_dir, which a resume saved again. The next
    # checkpoint writes them; a resume refused or stopped before it leaves
    # the folder as it was.
    here = {"name": path.name, "runs_dir": str(path.parent)}
    for key, value in here.items():
        setattr(run.config, key, value)
    new_paths = None
    if corpus_moved:
        new_paths = dataclasses.replace(
            saved,
            **here,
            **{k: getattr(run.config, k) for k in config_lib.PATH_KEYS},
        )
    _check_overrides(run.config, overrides, config_file)
    for leftover in path.rglob(".tmp-*"):  # writes cut short by a kill
        leftover.unlink()
    for key, value in overrides.items():  # saved with its checkpoints
        if key in CHANGEABLE_KEYS:
            setattr(run.config, key, config_lib.coerce(key, value))
    if not isinstance(state.get("checkpoint"), str) or not isinstance(
        state.get("step"), int
    ):
        raise RunError(
            f"{path / 'state.json'} is corrupt (no checkpoint or step); "
            "cannot resume"
        )
    checkpoint = latest_checkpoint(path, state)
    if not checkpoint.is_file():
        # load_model would say "train it (or --resume it) first".
        raise RunError(
            f"the checkpoint {checkpoint} that state.json names is missing, "
            "so the run cannot go on; train a new run with another --name "
            f"(its best model so far stays in {path / 'model.keras'})"
        )
    model = run_folder.load_model(checkpoint, compile=True)
    run_folder.check_vocabularies(model, run.source, run.target)
    # convert_to_numpy: int() fails on a variable mirrored over devices.
    step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    if step != state["step"]:
        raise RunError(
            f"checkpoint step {step} does not "
            f"match state.json step {state['step']}; the run is damaged"
        )
    _warn_if_it_stops_again(run.config, state)
    return Resumed(
        run, model, state, new_paths, saved.validation_size, corpus_moved
    )


def _warn_if_it_stops_again(config, state) -> None:
    """A warning when the reason the run stopped still holds: a resume
    would train to its next validation and stop there again."""
    bad = state.get("bad_validations", 0)
    last = state["metrics"][-1] if state.get("metrics") else {}
    target = config.target_exact_match
    if isinstance(bad, int) and bad >= config.patience:
        reason = f"no better dev score in its last {bad} validations"
        fix = f"--patience above {bad}"
    elif target and last.get("exact_match", 0) >= target:
        reason = f"dev exact match reached {100 * target:g}%"
        fix = "a higher --target-exact-match, or 0 for none"
    else:
        return
    print(
        f"seq2seq: warning: the run stopped at step {state['step']} with "
        f"{reason}; it will stop again at its next validation unless you "
        f"resume with {fix}",
        file=sys.stderr,
    )


def load_corpus(resumed: Resumed):
    """The run's encoded training pairs and its dev pairs, checked against
    the fingerprint in its state (recorded now for a run without one)."""
    run, state = resumed.run, resumed.state
    # A run with no dev file holds dev out of its corpus: a dev.tsv put
    # beside the corpus since must not change that.
    train_pairs, dev = corpus.load(run.config, find_dev=False)
    now = corpus.fingerprint(run.config, train_pairs, dev)
    then = state.get("corpus")
    if now is not None and then is not None:
        if not isinstance(then, dict) or set(then) != set(now):
            raise RunError(
                f"{run.path / 'state.json'} is corrupt (its corpus "
                "fingerprint); cannot resume"
            )
        _check_fingerprint(run.config, then, now)
    state["corpus"] = now  # saved with the next checkpoint
    _warn_if_scored_on_other_pairs(resumed, len(dev))
    if resumed.new_paths is not None:
        run_folder.write_config(run.path, resumed.new_paths)
    if resumed.corpus_moved:
        print(
            f"{run.path / 'config.yaml'}: the run's corpus is now "
            f"{' '.join(run.config.data)}",
            file=sys.stderr,
        )
    encoded, _ = data.encode_pairs(
        train_pairs,
        run.source,
        run.target,
        run.config.max_source_length,
        run.config.max_target_length,
    )
    return encoded, dev


def _warn_if_scored_on_other_pairs(resumed: Resumed, dev_pairs: int) -> None:
    """A warning when another `--validation-size` scores other dev pairs
    than the run's best score so far was measured on: whether a new score
    beats it then depends on the pairs as much as on the model."""
    config, best = resumed.run.config, resumed.state.get("best")
    was = min(resumed.validation_size_was, dev_pairs)
    now = min(config.validation_size, dev_pairs)
    if was == now or not isinstance(best, (int, float)):
        return
    print(
        f"seq2seq: warning: --validation-size {config.validation_size} "
        f"scores {now} dev pairs, the run scored {was}; its best "
        f"{config.best_metric} so far ({best:g}) was measured on those, so "
        "which checkpoint becomes the best model depends on the pairs; "
        f"resume with --validation-size {resumed.validation_size_was} to "
        "compare like with like",
        file=sys.stderr,
    )


def _check_fingerprint(config, then: dict, now: dict) -> None:
    for side in ("train", "dev"):
        if then[side] == now[side]:
            continue
        if side == "dev" and config.dev:
            files = " ".join(config.dev)
        else:
            files = " ".join(config.data)
        count = (
            f"{now[side]['pairs']} {side} pairs, the run's were "
            f"{then[side]['pairs']}"
            if now[side]["pairs"] != then[side]["pairs"]
            else f"as many {side} pairs as the run's, but other pairs or "
            "another order"
        )
        raise RunError(
            f"the corpus is not the one the run started with: {files} "
            f"now give {count}; a resume trains on the run's pairs in "
            "the run's order, so restore the files (or give --data/--dev "
            "where the run's corpus is), or train a new run on them with "
            "another --name"
        )


def _locate_corpus(config, path: Path, overrides: dict, verified) -> None:
    """Sets `config`'s corpus paths to absolute paths of existing files:
    the run's own, found from the folder it was started in if they are
    relative (a run saved before paths were absolute), or the `--data` /
    `--dev` given, if the fingerprint will check them (`verified`) or they
    name the run's files (relative paths' tails). Other values are left
    for `_check_overrides` to refuse."""
    start = _start_folder(config, path)
    for key in config_lib.PATH_KEYS:
        saved = getattr(config, key)
        if saved is None:
            continue
        given = overrides.get(key)
        if given is not None:
            given = config_lib.coerce(key, given)
            if len(given) == len(saved) and (
                verified
                or all(
                    _names_the_file(g, s)
                    for g, s in zip(given, saved, strict=True)
                )
            ):
                setattr(config, key, [str(Path(g).resolve()) for g in given])
            continue
        setattr(config, key, [_find(p, start, key) for p in saved])


def _start_folder(config, path: Path) -> Path | None:
    """The folder a run was started in, if its saved `runs_dir` is a
    relative path under it: the run folder is `start/runs_dir/NAME`."""
    runs_dir = Path(config.runs_dir)
    if runs_dir.is_absolute() or ".." in runs_dir.parts:
        return None
    folder = path.resolve()
    for _ in (*runs_dir.parts, path.name):
        folder = folder.parent
    if (folder / runs_dir / path.name).resolve() != path.resolve():
        return None
    return folder


def _find(saved: str, start: Path | None, key: str) -> str:
    """The absolute path of a corpus file the run saved as `saved`."""
    if Path(saved).is_absolute():
        if Path(saved).is_file():
            return saved
        raise RunError(
            f"the run's corpus file {saved} is not found; put it back, or "
            f"give --{key} with where it is now"
        )
    for folder in (start, Path.cwd()):
        if folder is not None and (folder / saved).is_file():
            return str((folder / saved).resolve())
    raise RunError(
        f"the run's corpus file {saved} is not found: the run saved it "
        "relative to the folder it was started in; resume from that "
        f"folder, or give --{key} with the file's path"
    )


def _names_the_file(given: str, saved: str) -> bool:
    """Whether `given` ends with the relative path `saved` (its `..`
    parts aside): where an old run's corpus file is now."""
    if Path(saved).is_absolute():
        return False
    tail = [part for part in Path(saved).parts if part not in ("..", ".")]
    return list(Path(given).resolve().parts[-len(tail) :]) == tail


def _check_overrides(config, overrides, config_file=None) -> None:
    """A `RunError` for an option a resume would otherwise drop silently:
    one that is neither resumable nor the run's own value. `config_file`:
    `(path, keys)`, the `--config` file and the keys that it gave."""
    fixed = [
        key
        for key, value in overrides.items()
        if key not in RESUMABLE_KEYS + LOCATING_KEYS
        and not config_lib.same_value(key, value, getattr(config, key))
    ]
    if fixed:
        path, keys = config_file or (None, ())
        given = ", ".join(
            f"{key} {overrides[key]!r} ("
            + (f"config file {path}; " if key in keys else "")
            + f"the run's: {getattr(config, key)!r})"
            for key in fixed
        )
        raise RunError(
            f"--resume cannot change {given}: the run's model, "
            "vocabularies and data order fix them; drop them, or train a "
            "new run with another --name (a resume may change "
            f"{', '.join(sorted(CHANGEABLE_KEYS))})"
        )
