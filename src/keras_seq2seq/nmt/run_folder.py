"""The run folder: what `train` writes and every other command reads.

    runs/NAME/
      model.keras            best model so far (by dev BLEU, then chrF)
      config.yaml            the resolved config
      source.chars.json      or source.spm: the source vocabulary
      target.chars.json      or target.spm
      metrics.csv            one row per validation
      state.json             training state for --resume
      checkpoints/           step-NNNNNNN.keras: the last few steps
      tensorboard/           TensorBoard logs
      data/                  the built-in corpus' splits (dates runs only)

Every file is written to a temporary name in its folder and moved into
place with `os.replace`, so a killed process never leaves a broken file.
`model.keras` is a whole-model save: `keras.saving.load_model` reads it
with only `keras_seq2seq` imported.
"""

import contextlib
import json
import os
import shutil
import sys
import tempfile
import typing
from pathlib import Path

import keras

from keras_seq2seq.models import Seq2Seq
from keras_seq2seq.nmt import atomic
from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt.atomic import write_atomically
from keras_seq2seq.nmt.run_error import RunError
from keras_seq2seq.nmt.tokenizer import Tokenizer, is_saved, saved_bytes
from keras_seq2seq.nmt.yaml_files import load_mapping
from keras_seq2seq_cli.parser import missing_run_message

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


class Run(typing.NamedTuple):
    path: Path
    config: config_lib.Config
    source: Tokenizer
    target: Tokenizer


def is_run_folder(path: Path) -> bool:
    """Whether `path` is a folder `seq2seq train` made: it holds the
    source and target vocabularies, which a new run writes first, and
    `config.yaml`, which it writes next. A `config.yaml` alone (a config
    file someone wrote) does not make a run folder."""
    return (
        is_saved(path, "source")
        and is_saved(path, "target")
        and (path / "config.yaml").is_file()
    )


# What `train` writes in a run folder, beside the vocabularies (`*.spm`,
# `*.chars.json`) and models (`*.keras`): no command may write over them.
_RUN_FILES = ("config.yaml", "state.json", "metrics.csv")
_RUN_FOLDERS = ("checkpoints", "tensorboard")
_SPLITS = ("train.tsv", "dev.tsv", "test.tsv")  # data/, for dates runs


def is_run_file(run_dir: str | os.PathLike, path: str | os.PathLike) -> bool:
    """Whether `path` is, or would be, one of the files `train` writes in
    the run folder `run_dir`: a model, a vocabulary, its config, state or
    metrics, the built-in corpus' splits in data/, or anything in its
    checkpoints or tensorboard folders."""
    try:
        parts = Path(path).resolve().relative_to(Path(run_dir).resolve()).parts
    except ValueError:
        return False  # outside the run
    if not parts:
        return True  # the run folder itself
    name = parts[-1]
    return (
        parts[0] in _RUN_FOLDERS
        or (len(parts) == 1 and name in _RUN_FILES)
        or (parts[:-1] == ("data",) and name in _SPLITS)
        or name.endswith((".keras", ".spm", ".chars.json"))
    )


def outermost_missing(path: Path) -> Path | None:
    """The outermost of `path` and its parents that does not exist (the
    first folder a new run creates), or `None` if `path` exists."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def remove_written(path: Path, made: Path | None, before: set) -> None:
    """Removes what a failed run wrote, and only that: the folders it made
    (the parents only if nothing else is in them), or else the entries of
    `path` that were not in it `before` (an empty folder the user made for
    the run stays, empty)."""
    if made is not None:
        shutil.rmtree(path, ignore_errors=True)
        for folder in path.parents:
            if folder == made.parent:
                break
            try:
                folder.rmdir()  # only if empty: another run may be there
            except OSError:
                break
        return
    for entry in path.iterdir():
        if entry in before:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@contextlib.contextmanager
def lock(path: Path, create: bool):
    """Holds the run folder `path` for one `train` process: a second one
    (a `--resume` typed while the run still trains, in another terminal)
    gets a `RunError` instead of writing the same checkpoints and state.
    The lock is the system's (`flock` on the folder), so a killed process
    holds none. With `create`, a missing folder is made first (a failed
    run removes it); without, a missing folder is not locked."""
    if create:
        path.mkdir(parents=True, exist_ok=True)
    if fcntl is None or not path.is_dir():  # Windows: no flock
        yield
        return
    handle = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(
                f"run {path} is being trained by another seq2seq process; "
                "let it finish or stop it (Ctrl-C), then --resume it"
            ) from None
        yield
    finally:
        os.close(handle)  # releases the lock


def check_folders(runs_dir: Path, path: Path) -> None:
    """A `RunError` before the corpus is read if a file stands where the
    runs folder or the run folder (or a folder above them) must be."""
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                inside = folder in (runs_dir, *runs_dir.parents)
                what = f"runs-dir {runs_dir}" if inside else f"run {path}"
                raise RunError(
                    f"{what} is not a folder ({folder} is a file); give "
                    "another --runs-dir or --name"
                )
            return


def check_not_foreign(path: Path, resume: bool) -> None:
    """A `RunError` if `path` is a folder with files but not a run folder
    (`is_run_folder`): a new run goes into a new or empty
    folder, or a run folder of its own, and a resume into a run folder.
    A `config.yaml` that someone wrote there is never overwritten."""
    if not path.is_dir() or not any(path.iterdir()) or is_run_folder(path):
        return
    fix = "give another --name or --runs-dir"
    if (path / "config.yaml").is_file():
        why = "its config.yaml has no vocabularies beside it: not a run's"
        fix += (
            " (a run writes its own config.yaml: keep yours elsewhere and "
            "give it to --config)"
        )
    else:
        why = "no config.yaml"
    if resume:
        raise RunError(
            f"{path} is not a run folder ({why}), so there is nothing to "
            "resume; give the --name of a run that `seq2seq train` made"
        )
    raise RunError(
        f"{path} exists and is not a run folder ({why}), so `seq2seq "
        f"train` will not write into it; {fix}"
    )


def open_run(run_dir: str | os.PathLike) -> Run:
    """The config and vocabularies of a run; a `RunError` if unusable."""
    path = Path(run_dir)
    if path.is_file():
        raise RunError(_file_as_run(path))
    if not path.is_dir():
        raise RunError(missing_run_message(path))
    config_path = path / "config.yaml"
    if not config_path.is_file():
        # `translate runs "..."`: the runs folder, not a run in it.
        runs = sorted(p for p in path.iterdir() if is_run_folder(p))
        if runs:
            names = ", ".join(p.name for p in runs[:5])
            more = f" and {len(runs) - 5} more" if len(runs) > 5 else ""
            raise RunError(
                f"{path} is not a run folder but holds runs ({names}{more}); "
                f"give one of them, e.g. {runs[0]}"
            )
        raise RunError(
            f"{path} is not a run folder (no config.yaml); "
            "give the folder `seq2seq train` wrote"
        )
    # Read as `--config` files are: a hand edit's `1e-4` is a float, and a
    # slip names its line instead of calling the run corrupt.
    values = load_mapping(config_path)
    config = config_lib.from_run(values, str(config_path))
    source = Tokenizer.load(path, "source", config.tokenizer)
    target = Tokenizer.load(path, "target", config.tokenizer)
    return Run(path, config, source, target)


def _file_as_run(path: Path) -> str:
    """What to say of a file given as the run folder: a model of the run
    (the path `average` printed) goes to `--model`."""
    for folder in path.parents[:2]:
        if is_run_folder(folder):
            model = path.relative_to(folder)
            return (
                f"{path} is a file, not a run folder; give the run and the "
                f"model file apart: {folder} --model {model}"
            )
    return f"{path} is a file, not a run folder; give the folder `train` wrote"


def load_model(path: str | os.PathLike, compile: bool = False) -> Seq2Seq:
    """A saved `Seq2Seq`; a `RunError` if missing, corrupt or foreign."""
    path = Path(path)
    if not path.is_file():
        raise RunError(
            f"no model file {path}; the run has no checkpoint yet, "
            "train it (or --resume it) first"
        )
    try:
        model = keras.saving.load_model(path, compile=compile)
    except Exception as error:
        reason = type(error).__name__
        raise RunError(
            f"cannot load {path} ({reason}); the file is corrupt or was "
            "written by an incompatible version, train the run again"
        ) from error
    if not isinstance(model, Seq2Seq):
        raise RunError(
            f"{path} holds a {type(model).__name__}, not a "
            "keras_seq2seq Seq2Seq model; give a run folder's model"
        )
    return model


def check_model_of_run(run_path: Path, model_path: Path) -> None:
    """A `RunError` when `model_path` lies in another run folder (as its
    model or a checkpoint) whose vocabularies are not `run_path`'s: the
    sizes can agree while the pieces differ, and the model would turn the
    run's ids into nonsense. A copy of the run, or a model kept outside
    any run, passes (the vocabulary sizes are checked on loading)."""
    for folder in (model_path.parent, model_path.parent.parent):
        if is_run_folder(folder):
            break
    else:
        return
    if folder.resolve() == run_path.resolve():
        return
    for side in ("source", "target"):
        if saved_bytes(folder, side) != saved_bytes(run_path, side):
            raise RunError(
                f"--model {model_path} is a model of the run {folder}, whose "
                f"{side} vocabulary is not the one of {run_path}; translate "
                f"with its own run ({folder}), or give a model of {run_path}"
            )


def check_vocabularies(model, source: Tokenizer, target: Tokenizer) -> None:
    """A `RunError` unless the vocabulary sizes are the model's."""
    for side, tokenizer, size in (
        ("source", source, model.source_vocab_size),
        ("target", target, model.target_vocab_size),
    ):
        if tokenizer.vocab_size != size:
            raise RunError(
                f"the {side} vocabulary has {tokenizer.vocab_size} pieces "
                f"but the model expects {size}; the vocabulary files do "
                "not belong to this model, use the run's own files"
            )


def check_can_write(flag: str, path: Path) -> None:
    """A `RunError`, before any work, unless `path` (given as `flag`) can
    be written: its folder exists and takes a new file (the temporary one
    a write starts with), and `path` is not a folder or a read-only
    file."""
    if not path.parent.is_dir():
        raise RunError(f"{flag} {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise RunError(f"{flag} {path} is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise RunError(
            f"{flag} {path} is a read-only file; give another file name"
        )
    if atomic.is_special(path):  # /dev/stdout: written in place
        return
    folder = atomic.target_of(path).parent  # where a link's file is
    try:
        handle, probe = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    except OSError as error:
        raise RunError(
            f"{flag} {path}: cannot write in folder {folder} "
            f"({error.strerror}); give a file in a folder you can write"
        ) from None
    os.close(handle)
    os.unlink(probe)


def check_can_train_in(path: Path) -> None:
    """A `RunError` unless `train` can write new files in the run folder
    `path` and its checkpoints folder: a run copied read-only (another
    user's, a read-only mount) trained a whole validation period before
    its first checkpoint failed."""
    for folder in (path, path / "checkpoints"):
        if not folder.is_dir():
            continue
        try:
            handle, probe = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        except OSError as error:
            raise RunError(
                f"cannot write in the run folder {folder} ({error.strerror}),"
                " where training writes its checkpoints; make it writable, "
                "or copy the run to a folder you can write and resume that"
            ) from None
        os.close(handle)
        os.unlink(probe)


def write_config(path: Path, config) -> None:
    """Writes the run's `config.yaml` atomically, its corpus paths
    absolute (a resume may run from another folder)."""
    text = config_lib.to_yaml(config_lib.absolute_paths(config))
    write_text(path / "config.yaml", text)


def write_text(path: Path, text: str) -> None:
    """Writes `text` atomically (temporary file, then `os.replace`); into
    stdout itself where `path` is stdout's file (`/dev/stdout`): opened
    again, a file would be written from its start, under what stdout
    writes later."""
    if _is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_atomically(path, lambda t: t.write_text(text, encoding="utf-8"))


def _is_stdout(path: Path) -> bool:
    try:
        ours = os.fstat(sys.stdout.fileno())
        named = os.stat(path)
    except (OSError, ValueError, AttributeError):  # no file: pytest's
        return False
    return atomic.is_special(Path(path)) and (
        (named.st_dev, named.st_ino) == (ours.st_dev, ours.st_ino)
    )


def save_model(model, path: Path) -> None:
    """Saves `model` atomically; the temporary name also ends in .keras."""
    write_atomically(path, model.save)


def read_state(path: Path) -> dict:
    """The training state `train` saves with each checkpoint."""
    state_path = path / "state.json"
    if not state_path.is_file():
        raise RunError(
            f"{path} has no training state to resume from; start it "
            "without --resume"
        )
    try:
        return json.loads(state_path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise RunError(f"{state_path} is corrupt; cannot resume") from None


def checkpoints(path: Path) -> list[Path]:
    """The step checkpoints of a run, oldest first."""
    return sorted((path / "checkpoints").glob("step-*.keras"))
