"""SIGTERM handled as Ctrl-C, and signals held while output is written."""

import contextlib
import os
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
    checkpoint, and checkpoints the step reached of one with a checkpoint
    and says how to resume it, `translate`
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
    the handler each had runs (Python's raises `KeyboardInterrupt`,
    `sigterm_as_ctrl_c`'s `Terminated`; the default ends the process).

    The handlers are swapped for ones that only note the signal. Blocking
    the signals with the main thread's mask held nothing back: the kernel
    gives a process's signal to any thread that does not block it
    (TensorFlow's and JAX's pools), and Python then interrupts the main
    thread all the same. Only the main thread may set a handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived = []

    def note(signum, frame):
        arrived.append((signum, frame))

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not None:  # None: set outside Python
            previous[signum] = signal.signal(signum, note)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if arrived:
            signum, frame = arrived[0]
            handler = previous[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)
