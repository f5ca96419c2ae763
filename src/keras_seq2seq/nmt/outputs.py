"""Where a command's results go: stdout, written whole lines at a time,
and `evaluate`'s `--output` and `--json` files (or `-`, stdout), checked
before the work that fills them. A write that fails says what it was
writing and where."""

import contextlib
import os
import stat
import sys
from pathlib import Path

from keras_seq2seq.nmt import run_folder
from keras_seq2seq.nmt.interrupts import interrupts_held
from keras_seq2seq.nmt.run_error import RunError


def write_lines(lines: list[str]) -> None:
    """Writes whole lines to stdout, and flushes them. Into a file, Ctrl-C
    (or SIGTERM) waits until they are out, so the file never ends in part
    of a line; not into a pipe, which a reader that stopped reading
    (`| less`) would block, and Ctrl-C with it."""
    into_file = _is_regular_file(sys.stdout)
    with writing_stdout("the translations"):
        with interrupts_held() if into_file else contextlib.nullcontext():
            sys.stdout.write("".join(line + "\n" for line in lines))
            sys.stdout.flush()


@contextlib.contextmanager
def writing_stdout(what: str):
    """A `RunError` naming stdout and `what` for a write to it that fails
    (`> FILE` on a full disk), not a bug to debug; a reader that stopped
    (`| head`) ends the command quietly (`cli.run`)."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as error:
        raise RunError(
            f"cannot write {what} to stdout: {error.strerror}; check where "
            "stdout goes and its free disk space"
        ) from None


def _is_regular_file(stream) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # a StringIO, pytest's
        return False


def check_outputs(args) -> None:
    """A `RunError` for an `evaluate --output` or `--json` that cannot be
    written, or that would write over the corpus or the run's files."""
    corpus = {Path(name).resolve() for name in args.data}
    given = {}
    for flag, name in (("--output", args.output), ("--json", args.json)):
        if not name:
            continue
        if name == STDOUT and STDOUT in given:
            raise RunError(
                "--output and --json are both '-' (stdout); give a file "
                "name to one of them"
            )
        if name == STDOUT:
            given[STDOUT] = flag
            continue
        path = Path(name)
        run_folder.check_can_write(flag, path)
        if path.resolve() in corpus:
            raise RunError(
                f"{flag} {path} is a --data file, which it would overwrite; "
                "give another file name"
            )
        if run_folder.is_run_file(args.run, path):
            raise RunError(
                f"{flag} {path} is among the files `seq2seq train` writes "
                f"in the run {args.run}; give another file name"
            )
        if path.resolve() in given:
            raise RunError(
                f"--output and --json name the same file {path}; give two"
            )
        given[path.resolve()] = flag


# `--output -`, `--json -`: stdout, as `translate --input -` reads stdin
# (most tools' convention); it wrote a file named "-".
STDOUT = "-"


def write_output(name: str, text: str, what: str) -> None:
    """Writes `evaluate`'s `text` (`what`: the translations, the scores)
    to the file `name`, or to stdout for `-`, before the scores."""
    if name == STDOUT:
        with writing_stdout(what):
            sys.stdout.write(text)
            sys.stdout.flush()
        return
    run_folder.write_text(Path(name), text)
