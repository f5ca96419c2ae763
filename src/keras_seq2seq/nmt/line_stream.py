"""The lines of stdin in chunks, as they come.

`translate` answers each chunk before it reads on: a program that writes
a sentence into a pipe and waits for its translation (a co-process),
`tail -f log | seq2seq translate RUN`, or a person typing sentences
gets each translation once its line is in, not when stdin closes.
"""

import os
import select

from keras_seq2seq.nmt.text import decode_utf8, split_lines

# Bytes asked of the pipe at a time.
READ_SIZE = 1 << 16


def line_chunks(stream, size: int, where: str):
    """Yields lists of at most `size` lines of the binary `stream`.

    A chunk ends when it is full, or when the lines read so far are all
    that is waiting in the stream (a pipe or a terminal waits for its
    writer there), or at the stream's end. Lines end as `split_lines`
    ends them; the text is checked as `decode_utf8` checks a file, with
    the line numbers of the whole stream. A stream without a file
    descriptor (a test's), or on Windows, whose `select` takes sockets
    only, is read to its end first.
    """
    fd = _descriptor(stream)
    if fd is None:
        yield from chunks_of(
            split_lines(decode_utf8(stream.read(), where)), size
        )
        return
    # The bytes of the line begun: kept as read, joined once it ends (a
    # line of megabytes copied at each read took minutes).
    pending, lines, first_line, after_cr = [], [], 1, False
    while data := os.read(fd, READ_SIZE):
        if after_cr and data.startswith(b"\n"):
            data = data[1:]  # ends the "\r\n" whose line is read
        after_cr = False
        # Only whole lines, ended by "\n" or "\r" (old Mac files): a
        # UTF-8 character never holds either byte.
        end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if not end:
            pending.append(data)
        else:
            whole = b"".join([*pending, data[:end]])
            pending = [data[end:]] if end < len(data) else []
            after_cr = whole.endswith(b"\r") and not pending
            read = split_lines(decode_utf8(whole, where, first_line))
            lines += read
            first_line += len(read)
        while len(lines) >= size:
            yield lines[:size]
            lines = lines[size:]
        if lines and not _waiting(fd):
            yield lines
            lines = []
    if pending:
        rest = b"".join(pending)
        lines += split_lines(decode_utf8(rest, where, first_line))
    if lines:
        yield lines


def chunks_of(lines: list[str], size: int):
    """Yields `lines` in lists of at most `size`, in order."""
    for start in range(0, len(lines), size):
        yield lines[start : start + size]


def _descriptor(stream) -> int | None:
    if os.name == "nt":
        return None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation
        return None


def _waiting(fd: int) -> bool:
    """Whether a read of `fd` would return at once (data, or its end)."""
    return bool(select.select([fd], [], [], 0)[0])
