"""SIGTERM handled as Ctrl-C, and signals held while output is written."""

import contextlib
import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: the same clean-up, and the
    exit status a shell gives a process that SIGTERM ends (128 + 15)."""

    exit_status = 128 + signal.SIGTERM


@contextlib.contextmanager
def sigterm_as_ctrl_c():
    """SIGTERM (`timeout`, `kill`, a job scheduler's preemption) stops
    the command as Ctrl-C does: `train` removes a run without a
    checkpoint and says how to resume one with a checkpoint, `translate`
    says how many inputs its output holds. Without it, the process died
    at once and said nothing. Only the main thread may set a handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def interrupts_held():
    """Holds SIGINT (Ctrl-C) and SIGTERM back until the block ends, where
    Python raises its `KeyboardInterrupt` (or `Terminated`); only the
    main thread gets signals, and Windows has no signal mask."""
    if not hasattr(signal, "pthread_sigmask") or (
        threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    held = signal.pthread_sigmask(
        signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}
    )
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
