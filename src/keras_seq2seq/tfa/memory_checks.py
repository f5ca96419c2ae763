"""Checks of the memory a TFA mechanism is given, and the shapes its
`build` takes."""

import keras


def check_values(*tensors):
    """Raises a ValueError for a symbolic memory, lengths or mask: a
    mechanism keeps its memory between calls (see `attention_mechanism.py`)."""
    if any(keras.backend.is_keras_tensor(x) for x in tensors):
        raise ValueError(
            "A tfa mechanism keeps its memory, which must have values: it "
            "cannot be symbolic (a keras.Input, or a functional model's "
            "tensor). Call `mechanism.setup_memory(encoder_outputs, ...)` "
            "inside a subclassed keras.Model's call (TFA's tutorial does), "
            "or use keras_seq2seq.AttentionDecoder in a functional model."
        )


def check_lengths(lengths, memory):
    """Raises TFA's ValueError for lengths that are not one per memory row
    (when the sizes are known)."""
    if len(lengths.shape) != 1:
        raise ValueError(
            "memory_sequence_length must be a vector (B,). Received shape: "
            f"{tuple(lengths.shape)}"
        )
    rows, batch_size = lengths.shape[0], tuple(memory.shape)[0]
    if isinstance(rows, int) and isinstance(batch_size, int):
        if rows != batch_size:
            raise ValueError(
                "memory_sequence_length and memory tensor batch sizes do not "
                f"match: {rows} vs {batch_size}."
            )


def check_mask(mask, memory):
    """Raises a ValueError unless `mask` is `(B, T)` of the memory `(B, T,
    D)` (where the sizes are known)."""
    mask_shape, memory_shape = tuple(mask.shape), tuple(memory.shape)
    if len(mask_shape) != 2 or any(
        isinstance(a, int) and isinstance(b, int) and a != b
        for a, b in zip(mask_shape, memory_shape[:2], strict=False)
    ):
        raise ValueError(
            "memory_mask must be (B, T), one flag per memory step. "
            f"Received: memory_mask.shape={mask_shape}, "
            f"memory.shape={memory_shape}"
        )


def as_shape(value):
    """A TensorFlow `TensorShape` as a list; anything else as it is."""
    return value.as_list() if hasattr(value, "as_list") else value


def is_shape(value):
    """Whether `value` is one shape (a tuple or list of ints and `None`)."""
    return isinstance(value, (list, tuple)) and all(
        dim is None or isinstance(dim, int) for dim in value
    )


def resolve(layer, path):
    """The attribute at the dotted `path` of `layer`, or `None`."""
    for name in path.split("."):
        layer = getattr(layer, name, None)
        if layer is None:
            return None
    return layer
