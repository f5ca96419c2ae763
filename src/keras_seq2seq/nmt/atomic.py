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
    the file the user asked for.
    """
    path = Path(path)
    temporary = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        named = error.filename
        if isinstance(named, (str, os.PathLike)) and Path(named) == temporary:
            error.filename = str(path)
        raise
    finally:
        temporary.unlink(missing_ok=True)
