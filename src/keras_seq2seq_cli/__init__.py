"""The `seq2seq` executable: parses the command line first, then runs it
with `keras_seq2seq.cli`, without TensorFlow's start-up log.

Importing `keras_seq2seq` imports Keras and its backend (TensorFlow takes
seconds): the package registers its layers with Keras so that
`load_model` finds them. So this package, which lives outside it, parses
the arguments first (`keras_seq2seq_cli.parser`, plain Python): `--help`,
usage errors and a RUN folder that does not exist answer before Keras is
imported, even when `KERAS_BACKEND` names a backend that cannot start.

On the TensorFlow backend that import writes four to eight C++ log lines
to stderr (TensorFlow 2.21 prints them whatever `TF_CPP_MIN_LOG_LEVEL`
says), and an error-level line about oneDNN follows at the first
operation. So before the package is imported `main` sets
`TF_CPP_MIN_LOG_LEVEL=3` when it is unset, and at that level points stderr
at /dev/null for the import alone. Set `TF_CPP_MIN_LOG_LEVEL=0` to see
TensorFlow's whole log.

    python -m keras_seq2seq_cli translate runs/dates "9/5/18"
"""

import contextlib
import os
import signal
import sys

from keras_seq2seq_cli.parser import parse_args, run_not_found


@contextlib.contextmanager
def _stderr_to_devnull():
    """Points file descriptor 2, which C++ code writes to, at /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _stderr_if_closed():
    """Gives a closed stderr (`2>&-`: a daemon, a cron job) /dev/null, so
    that the command still runs: Python has no `sys.stderr` then (the
    launcher's flush of it failed before Keras was imported), and the
    next file opened would take descriptor 2 and get TensorFlow's log."""
    if sys.stderr is not None:
        return
    try:
        os.fstat(2)
    except OSError:  # closed: take it, so no file of ours gets it
        null = os.open(os.devnull, os.O_WRONLY)
        if null != 2:
            os.dup2(null, 2)
            os.close(null)
    sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)


def main(argv=None) -> int:
    """Runs one `seq2seq` command; returns the exit status."""
    _stderr_if_closed()
    args = parse_args(argv)  # --help and usage errors exit here
    missing = run_not_found(args)
    if missing:
        print(f"seq2seq: error: {missing}", file=sys.stderr)
        return 1
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    quiet = _stderr_to_devnull() if level == "3" else contextlib.nullcontext()
    try:
        with quiet:
            from keras_seq2seq import cli
    except KeyboardInterrupt:
        # Ctrl-C in the seconds the import takes: as later, one line.
        print("seq2seq: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except (ImportError, ValueError) as error:
        # Keras raises ValueError for an unknown KERAS_BACKEND.
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        print(
            f"seq2seq: error: Keras could not start its {backend!r} backend "
            f"(KERAS_BACKEND): {error}; install it or choose tensorflow, "
            "jax or torch",
            file=sys.stderr,
        )
        return 1
    return cli.run(args)
