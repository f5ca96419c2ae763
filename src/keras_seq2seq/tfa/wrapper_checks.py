"""Argument checks and sizes of TFA's `AttentionWrapper` (TFA's messages
where TFA has one)."""

import keras
from keras import ops

from keras_seq2seq.tfa.attention_mechanism import AttentionMechanism


def mechanism_list(attention_mechanism):
    """The mechanisms as a list; raises for anything else."""
    is_list = isinstance(attention_mechanism, (list, tuple))
    mechanisms = list(attention_mechanism) if is_list else [attention_mechanism]
    if not mechanisms or not all(
        isinstance(m, AttentionMechanism) for m in mechanisms
    ):
        raise ValueError(
            "`attention_mechanism` must be a keras_seq2seq.tfa mechanism or "
            f"a non-empty list of them. Received: {attention_mechanism!r}"
        )
    return mechanisms


def check_options(cell_input_fn, attention_fn):
    for option, value in (
        ("cell_input_fn", cell_input_fn),
        ("attention_fn", attention_fn),
    ):
        if value is not None and not callable(value):
            raise ValueError(
                f"`{option}` must be callable or None. Received: "
                f"{option}={value!r}"
            )


def one_per_mechanism(value, option, kind, mechanisms):
    """`value` (one or a list) as a list of one entry per mechanism, or
    None; raises TFA's error for another number of entries."""
    if value is None:
        return None
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) != len(mechanisms):
        raise ValueError(
            f"If provided, {option} must contain exactly one {kind} per "
            f"attention_mechanism, saw: {len(values)} vs {len(mechanisms)}. "
            f"Received: {option}={value!r}"
        )
    return values


def memory_of(mechanism):
    if not mechanism.memory_initialized:
        raise ValueError(
            "The attention mechanism has no memory: set it up with "
            "`setup_memory(memory, memory_sequence_length)` first."
        )
    return mechanism._memory


def check_query_depth(mechanism, depth):
    """Raises unless `mechanism` scores queries of the cell output's
    `depth`."""
    query_depth = mechanism.query_depth
    if query_depth is not None and query_depth != depth:
        raise ValueError(
            f"{type(mechanism).__name__}(units={query_depth}) scores queries "
            f"of depth {query_depth}, but the cell's output has depth "
            f"{depth}."
        )


def batch_size_of(structure):
    """The first axis of the first tensor of `structure`."""
    return tuple(ops.shape(keras.tree.flatten(structure)[0]))[0]


def check_batch_size(batch_size, memory_batch_size, where):
    """Raises TFA's error when a batch size differs from the memory's."""
    if not isinstance(batch_size, int) or not isinstance(
        memory_batch_size, int
    ):
        return  # Not known before the computation runs.
    if batch_size != memory_batch_size:
        raise ValueError(
            f"{where}: the batch size {batch_size} differs from the memory's "
            f"{memory_batch_size}. With a BeamSearchDecoder, tile the memory "
            "and the initial state with tile_batch(x, beam_width), and pass "
            "batch_size * beam_width to get_initial_state."
        )


def output_depth(layer, input_depth):
    """The last dimension of `layer`'s output on `(B, input_depth)`.

    TFA reads it from `compute_output_shape`; a layer without one is built
    and traced symbolically.
    """
    try:
        return layer.compute_output_shape((None, input_depth))[-1]
    except NotImplementedError:
        build_layer(layer, (None, input_depth))
        spec = layer.compute_output_spec(keras.KerasTensor((None, input_depth)))
        return spec.shape[-1]


def build_layer(layer, input_shape):
    """Builds `layer` for inputs of `input_shape` as Keras does at its
    first call.

    A layer with no `build` of its own (its sublayers made in `__init__`)
    is traced first, which builds the sublayers: Keras warns when such a
    layer's default `build` runs while a sublayer is unbuilt.
    """
    if layer.built:
        return
    if type(layer).build is keras.layers.Layer.build:
        layer.compute_output_spec(keras.KerasTensor(input_shape))
    layer.build(input_shape)


def has_several_states(cell):
    return len(keras.tree.flatten(cell.state_size)) > 1
