"""TFA's `dynamic_decode`: the loop that drives a `Decoder`.

`dynamic_decode` calls the decoder's `initialize` once and its `step` until
every row has finished, with TFA's bookkeeping: finished rows, sequence
lengths, `impute_finished`, `maximum_iterations` (None or > 0), and an
early stop once every row has finished.

This module holds the entry point and its argument checks. The loop is
`DecodeLoop` (`decode_loop.py`): a Python loop over `keras.ops` steps,
eager or compiled; in a TensorFlow graph whose number of steps has no
Python value it is one `ops.while_loop` (`graph_decode_loop.py`). The loop
carries an alignment history as its plain stacked tensor; the final state
gets back the `AlignmentHistory` (TFA's `TensorArray` API) that the
initial state had.
"""

import keras
from keras import ops

from keras_seq2seq.tfa.alignment_history import (
    AlignmentHistory,
    restore_histories,
    stack_histories,
)
from keras_seq2seq.tfa.decode_loop import DecodeLoop
from keras_seq2seq.tfa.tensor_values import known_all, known_value

# `known_all` is imported from here too (by `TrainingSampler`).
__all__ = ["check_maximum_iterations", "dynamic_decode", "known_all"]


def dynamic_decode(
    decoder,
    output_time_major=False,
    impute_finished=False,
    maximum_iterations=None,
    parallel_iterations=32,
    swap_memory=False,
    training=None,
    scope=None,
    enable_tflite_convertible=False,
    **kwargs,
):
    """Runs `decoder` step by step until every row has finished (TFA's).

    A row's length is the number of steps until it finished, that step
    included (for a greedy decoder: the end token counts). With
    `impute_finished`, a row's outputs after it finished are zeros and its
    state is copied through (state entries that grow by one per step, such
    as `alignment_history`, keep recording, as TFA's `TensorArray`s do).

    Args:
        decoder: a `Decoder` (or `BaseDecoder`).
        output_time_major: bool. Outputs `(T, B, ...)` instead of
            `(B, T, ...)`. Defaults to `False`.
        impute_finished: bool. Defaults to `False`.
        maximum_iterations: optional int > 0 (a Python int or an int scalar
            tensor; inside `jax.jit` a Python int). The most steps.
            Defaults to `None` (until every row has finished).
        parallel_iterations: accepted for TFA compatibility; no effect.
        swap_memory: accepted for TFA compatibility; no effect.
        training: optional bool, passed to `decoder.step`.
        scope: accepted for TFA compatibility; no effect.
        enable_tflite_convertible: accepted for TFA compatibility; no
            effect.
        **kwargs: `decoder_init_input` (the first argument of
            `decoder.initialize`) and `decoder_init_kwargs` (a dict of its
            keyword arguments), for a decoder that is a Keras layer
            (`BaseDecoder`); TFA's `Decoder` interface is initialized
            with no arguments.

    Returns:
        `(final_outputs, final_state, final_sequence_lengths)`: the step
        outputs stacked over time (batch-major unless `output_time_major`),
        after `decoder.finalize` when the decoder has one; the last state;
        int32 lengths `(B,)` (or the state's `lengths` for a decoder that
        tracks its own finished flags).

    Raises:
        TypeError: when `decoder` has no `initialize` and `step`.
        ValueError: for a bad `maximum_iterations`, unknown keyword
            arguments, a `jax.jit` call with no static bound on the steps,
            or `impute_finished` with beam search's `(B, K)` flags.
    """
    del parallel_iterations, swap_memory, scope, enable_tflite_convertible
    if not all(hasattr(decoder, name) for name in ("initialize", "step")):
        raise TypeError(
            "Expected decoder to be a tfa Decoder or BaseDecoder. "
            f"Received: {type(decoder).__name__}"
        )
    limit = _limit(maximum_iterations)
    finished, inputs, initial_state = _initialize(
        decoder, impute_finished, kwargs
    )
    loop = DecodeLoop(decoder, impute_finished, training, finished, limit)
    histories = [
        isinstance(x, AlignmentHistory)
        for x in keras.tree.flatten(initial_state)
    ]
    outputs, state, lengths = loop.run(
        inputs, stack_histories(initial_state), histories
    )
    state = restore_histories(state, like=initial_state)
    try:
        outputs, state = decoder.finalize(outputs, state, lengths)
    except NotImplementedError:
        pass
    if not output_time_major:
        outputs = keras.tree.map_structure(_batch_major, outputs)
    return outputs, state, lengths


def _limit(maximum_iterations):
    """The loop's bound: a Python int, `None`, or (in a TensorFlow graph) an
    int32 scalar tensor."""
    limit = check_maximum_iterations(maximum_iterations)
    if maximum_iterations is not None and limit is None:
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                "Inside a compiled function `maximum_iterations` must be a "
                "Python int (a traced tensor has no value to bound the "
                "loop). "
                f"Received: maximum_iterations={maximum_iterations!r}"
            )
        # A tensor of a TensorFlow graph: the graph's loop stops on it.
        limit = ops.cast(maximum_iterations, "int32")
    return limit


def _initialize(decoder, impute_finished, kwargs):
    """`decoder.initialize`'s `(finished, inputs, initial_state)`, given
    `dynamic_decode`'s keyword arguments."""
    init_input = kwargs.pop("decoder_init_input", None)
    init_kwargs = kwargs.pop("decoder_init_kwargs", None) or {}
    if kwargs:
        raise ValueError(
            "dynamic_decode takes `decoder_init_input` and "
            f"`decoder_init_kwargs` only. Received: {sorted(kwargs)}"
        )
    if isinstance(decoder, keras.layers.Layer):
        finished, inputs, initial_state = decoder.initialize(
            init_input, **init_kwargs
        )
    else:
        # TFA's `Decoder` interface (not a layer) sets itself up in its
        # constructor: `initialize()` takes no inputs.
        finished, inputs, initial_state = decoder.initialize()
    if impute_finished and len(ops.shape(finished)) > 1:
        # TFA's copy of finished rows broadcasts the (B, K) flags over one
        # more axis than the (B, K) log-probs have, and raises; freezing
        # beams would also corrupt their backtracking.
        raise ValueError(
            "`impute_finished=True` cannot freeze the rows of a decoder "
            "whose finished flags are (B, K) (beam search); TFA raises "
            "too. Use impute_finished=False."
        )
    return finished, inputs, initial_state


def check_maximum_iterations(maximum_iterations):
    """`maximum_iterations` as a Python int, checked as TFA checks it.

    TFA takes `None`, a Python int or an int scalar tensor, and asserts that
    the value is > 0.

    Returns:
        The int, `None` for `None`, or `None` for a tensor that has no
        value yet (traced inside a compiled function).

    Raises:
        ValueError: for anything else: 0, a negative number, a bool, a
            float, a list, a tensor that is not an int scalar.
    """
    if maximum_iterations is None:
        return None
    value = maximum_iterations
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, (bool, int)):
        dtype = keras.backend.standardize_dtype(value.dtype)
        if tuple(shape) == () and "int" in dtype:
            value = known_value(value)
            if value is None:
                return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            "`maximum_iterations` must be None or an int > 0 (a Python int "
            "or an int scalar tensor). "
            f"Received: maximum_iterations={maximum_iterations!r}"
        )
    return value


def _batch_major(x):
    if len(x.shape) < 2:
        return x
    return ops.swapaxes(x, 0, 1)
