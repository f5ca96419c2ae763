"""The one exception the tool shows to people: a failure they can fix."""


class RunError(Exception):
    """An expected failure of the tool, said in one line with its fix.

    Raised for a missing, corrupt or incompatible run folder, a bad corpus
    file, a vocabulary that does not match its model, or a bad option value.
    `seq2seq` prints `seq2seq: error: <message>` and exits with status 1;
    the message is one line, so it never holds a traceback.

    Args:
        message: str. What went wrong and, after a semicolon, what to do.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def is_out_of_memory(error: Exception) -> bool:
    """A failed allocation, on any backend: TensorFlow's
    `ResourceExhaustedError`, JAX's `RESOURCE_EXHAUSTED`, torch's
    `OutOfMemoryError` or CPU allocator, Python's `MemoryError`."""
    names = ("MemoryError", "ResourceExhaustedError", "OutOfMemoryError")
    text = str(error)
    return (
        type(error).__name__ in names
        or "RESOURCE_EXHAUSTED" in text
        or "not enough memory" in text
    )
