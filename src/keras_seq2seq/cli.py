"""`seq2seq`: the command line. It runs parsed arguments by calling `nmt`.

    seq2seq train                      # the built-in dates corpus
    seq2seq translate runs/dates "saturday 9 may 2018"
    seq2seq evaluate runs/dates --data runs/dates/data/test.tsv
    seq2seq plot runs/dates "9/5/18" --output attention.png
    seq2seq average runs/dates --last 3

The parser is `keras_seq2seq_cli.parser`, outside this package, so that
the `seq2seq` launcher answers `--help` and usage errors before it imports
Keras; `main(argv)` here parses and runs in one call.

The backend is Keras' (`KERAS_BACKEND`; TensorFlow when unset). An expected
failure prints one line, `seq2seq: error: <what>; <fix>`, and exits 1;
usage errors exit 2; `--debug` shows tracebacks instead.
"""

import argparse
import logging
import os
import signal
import sys

from keras_seq2seq_cli.parser import COMMANDS, build_parser, parse_args

__all__ = ["COMMANDS", "build_parser", "main", "run"]


def _run(args) -> int:
    from keras_seq2seq.nmt import commands

    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("2", "3"):
        # TensorFlow's log shows no warnings (3: the launcher's default):
        # nor its Python ones, such as a search retraced for each new beam
        # size `serve` is asked for, between the request log lines.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return getattr(commands, args.command)(args)


def run(args: argparse.Namespace) -> int:
    """Runs one parsed command; returns the exit status: 0, 1, 130
    (interrupted: Ctrl-C), 143 (stopped by SIGTERM) or 141 (stdout's
    reader stopped: a broken pipe)."""
    try:
        code = _run(args)
        try:
            sys.stdout.flush()  # a closed pipe shows here, not at exit
        except BrokenPipeError:
            raise
        except OSError as error:  # `> FILE` on a full disk: no bug
            print(
                f"seq2seq: error: cannot write to stdout: {error.strerror}; "
                "check where stdout goes and its free disk space",
                file=sys.stderr,
            )
            return 1
        return code
    except KeyboardInterrupt as interrupt:
        print("seq2seq: interrupted", file=sys.stderr)
        return getattr(interrupt, "exit_status", 128 + signal.SIGINT)
    except BrokenPipeError:
        # What reads stdout stopped (`seq2seq translate ... | head`): as
        # for any filter, that is no error to report. Python's exit would
        # flush stdout into the closed pipe again, so it goes to /dev/null.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        return 128 + signal.SIGPIPE
    except Exception as error:
        if args.debug:
            raise
        from keras_seq2seq.nmt.run_error import RunError

        if isinstance(error, RunError):
            print(f"seq2seq: error: {error}", file=sys.stderr)
        elif isinstance(error, OSError) and error.filename is not None:
            # An unreadable corpus, a folder that cannot be written, a full
            # disk: the system's reason, not a bug to debug.
            print(
                f"seq2seq: error: {error.filename}: "
                f"{error.strerror or type(error).__name__}; check the path, "
                "its permissions and the free disk space",
                file=sys.stderr,
            )
        else:
            first = (str(error).splitlines() or [""])[0]
            print(
                f"seq2seq: error: {type(error).__name__}: {first}; "
                "rerun with --debug for the traceback",
                file=sys.stderr,
            )
        return 1


def main(argv=None) -> int:
    """Runs one command; returns the exit status (0, 1 or 2)."""
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
