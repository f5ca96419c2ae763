"""Writing a file atomically: to a temporary name beside it, then moved into
place with `os.replace`, so that a killed process or a failed write never
leaves a broken file where the file goes, nor the temporary file."""

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(
    path: str | os.PathLike, write: Callable[[Path], object]
) -> None:
    """Calls `write(temporary)`, then moves the temporary file to `path`.

    The temporary file is `.tmp-PID-NAME` in `path`'s folder (its name
    ends as `path`'s does: a `.keras` save needs that). It is removed on
    every failure: a full disk, a write that raised, a `path` that is a
    folder, Ctrl-C. An `OSError` about the temporary file names `path`,
    the file the user asked for, as does one that named no file (a full
    disk). A `path` that is a pipe, a terminal or a
    device (`/dev/stdout`, `/dev/null`) is written in place, and a link
    keeps linking: the file it names is the one replaced.
    """
    path = Path(path)
    if is_special(path):
        try:
            write(path)  # in place: a new file must not replace the device
        except OSError as error:
            _name(error, path, path)
            raise
        return
    path = target_of(path)
    temporary = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        _name(error, path, temporary)
        raise
    finally:
        temporary.unlink(missing_ok=True)


def _name(error: OSError, path: Path, temporary: Path) -> None:
    """Names `path` in an `OSError` that named the temporary file, or no
    file (a write that found the disk full)."""
    named = error.filename
    if named is None or (
        isinstance(named, (str, os.PathLike)) and Path(named) == temporary
    ):
        error.filename = str(path)


def is_special(path: Path) -> bool:
    """Whether `path` is written into, never replaced: a pipe, a
    terminal, a device (what its links lead to is neither a regular file
    nor a folder), or any file named through /dev or /proc
    (`/dev/stdout` into a file: the file the shell opened, whose
    descriptor a new file would not replace)."""
    if not path.exists() or path.is_dir():
        return False
    top = Path(os.path.abspath(path)).parts[1:2]
    return not path.is_file() or top in (("dev",), ("proc",))


def target_of(path: Path) -> Path:
    """The file a link `path` leads to (replacing it keeps the link);
    else `path`."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path
