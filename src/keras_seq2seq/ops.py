"""Numeric helpers shared by the attention, decoder and decoding layers.

Everything here is `keras.ops`, so it runs on every Keras backend. Scores are
masked and normalised in `float32` whatever the layer's compute dtype: the
fill value for padded steps must be representable, and `float16` softmax
loses the small weights.
"""

import keras
import numpy as np
from keras import ops

# The fill value for padded scores: the float32 minimum, as TFA uses. After
# the subtraction of the row maximum inside softmax its exponent underflows
# to exactly 0, and `sigmoid` of it is exactly 0.
SCORE_FILL = float(np.finfo(np.float32).min)


def keras_mask(x):
    """The Keras mask `x` carries (an `Embedding(mask_zero=True)` output), or
    `None`. JAX arrays keep it outside the array, where Keras looks it up."""
    if not hasattr(x, "shape"):
        return None
    try:
        from keras.src.backend import get_keras_mask
    except ImportError:  # a Keras that moved it: the attribute alone
        return getattr(x, "_keras_mask", None)
    return get_keras_mask(x)


def tracing_shapes():
    """Whether Keras runs the code on stand-in values for the output shapes
    (`compute_output_spec` on every backend; PyTorch's runs it on tensors
    of ones, also before `fit`'s first step), whatever those values say."""
    try:
        from keras.src.backend.common.symbolic_scope import in_symbolic_scope
    except ImportError:  # a Keras that moved it
        return False
    return in_symbolic_scope()


def sequence_mask(lengths, maxlen=None):
    """Boolean mask `(B, maxlen)`, True where `t < lengths[b]`.

    Args:
        lengths: int tensor `(B,)`; any shape `S` gives `S + (maxlen,)`,
            as `tf.sequence_mask`.
        maxlen: int or scalar tensor. Number of steps. `None` takes the
            largest of `lengths` (as `tf.sequence_mask`), 0 for no lengths
            at all, a width that depends on values: not under `jax.jit`.
            Defaults to `None`.

    Returns:
        bool tensor `(B, maxlen)` (`S + (maxlen,)`).
    """
    lengths = ops.cast(lengths, "int32")
    if maxlen is None:
        # `initial`: the max of an empty batch raised on every backend.
        maxlen = ops.max(lengths, initial=0)
    steps = ops.arange(maxlen, dtype="int32")
    # `...`: lengths of any rank, as `tf.sequence_mask` takes them
    # (`(B, C)` ones made `(B, maxlen, C)` where the axes matched).
    return ops.less(steps, lengths[..., None])


def mask_scores(scores, mask=None):
    """Casts `scores` to float32 and fills padded steps with `SCORE_FILL`.

    Args:
        scores: float tensor `(..., Tv)`.
        mask: optional bool tensor broadcastable to `scores`, True where a
            step is real.

    Returns:
        float32 tensor of the shape of `scores`.
    """
    scores = ops.cast(scores, "float32")
    if mask is None:
        return scores
    # A Python scalar, not `full_like`: torch's shape inference (the meta
    # device) cannot run `full_like`, and falls back to a real computation.
    return ops.where(mask, scores, SCORE_FILL)


def zero_padding(weights, mask=None):
    """Sets weights of padded steps to exactly 0 (all-padding rows too)."""
    if mask is None:
        return weights
    return weights * ops.cast(mask, weights.dtype)


def masked_softmax(scores, mask=None):
    """Softmax over the last axis that gives padded steps weight 0.

    A row whose every step is padding gives all zeros, never NaN, and its
    gradient is zero.

    Args:
        scores: float tensor `(..., Tv)`.
        mask: optional bool tensor broadcastable to `scores`.

    Returns:
        float32 tensor of the shape of `scores`.
    """
    # Written out rather than `ops.softmax`, which warns on a length-1 axis:
    # a one-token source is legitimate here.
    scores = mask_scores(scores, mask)
    exp = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
    weights = exp / ops.sum(exp, axis=-1, keepdims=True)
    return zero_padding(weights, mask)


def hardmax(logits):
    """One-hot of the arg-maximum over the last axis (ties: first maximum).

    Args:
        logits: float tensor `(..., N)`.

    Returns:
        tensor of the dtype and shape of `logits`.

    Example:

    >>> ops.convert_to_numpy(hardmax(np.array([[1.0, 3.0, 3.0]]))).tolist()
    [[0.0, 1.0, 0.0]]
    """
    logits = ops.convert_to_tensor(logits)
    depth = ops.shape(logits)[-1]
    index = ops.argmax(logits, axis=-1)
    return ops.one_hot(index, depth, dtype=logits.dtype)


def masked_hardmax(scores, mask=None):
    """`hardmax` that never picks a padded step; all-padding rows give 0."""
    return zero_padding(hardmax(mask_scores(scores, mask)), mask)


def cumsum(x, axis=1):
    """`ops.cumsum` along `axis`, in the dtype of `x`.

    Keras' PyTorch `cumsum` returns float32 for float64 (its type
    promotion turns 64-bit types into 32-bit ones off TensorFlow), which
    loses float64's precision; there the sums are taken by doubling
    shifts (Hillis and Steele's scan: `log2(T)` shifted additions).
    """
    x = ops.convert_to_tensor(x)
    sums = ops.cumsum(x, axis=axis)
    if sums.dtype == x.dtype:
        return sums
    sums = ops.moveaxis(x, axis, -1)
    steps, shift = ops.shape(sums)[-1], 1
    while shift < steps:
        shifted = ops.zeros_like(sums[..., :shift])
        sums = sums + ops.concatenate([shifted, sums[..., :-shift]], -1)
        shift *= 2
    return ops.moveaxis(sums, -1, axis)


def exclusive_cumsum(x, axis=1):
    """`cumsum` along `axis` that starts from 0 (the step itself excluded)."""
    return cumsum(x, axis=axis) - x


def exclusive_cumprod(x, axis=1):
    """`cumprod` along `axis` of rank-2 `x` that starts from 1."""
    if axis != 1 or len(x.shape) != 2:
        raise ValueError(
            "`exclusive_cumprod` takes a rank-2 tensor and axis=1. "
            f"Received: shape={x.shape}, axis={axis}"
        )
    ones = ops.ones_like(x[:, :1])
    return ops.cumprod(ops.concatenate([ones, x[:, :-1]], axis=1), axis=1)


def safe_cumprod(x, axis=1, exclusive=False):
    """Cumulative product computed as `exp(cumsum(log(x)))`, clipped.

    `x` is clipped to `[tiny, 1]` before the logarithm, so the product of many
    probabilities neither underflows to an exact 0 nor yields NaN gradients
    (Raffel et al. 2017, arXiv:1704.00784, section 2.3).

    Args:
        x: float tensor with values in `[0, 1]`.
        axis: int. Axis of the product. Defaults to `1`.
        exclusive: bool. Start the product from 1. Defaults to `False`.

    Returns:
        tensor of the shape and dtype of `x`.
    """
    x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    # NumPy knows no bfloat16; it has float32's exponent, so its tiny.
    tiny = float(np.finfo("float32" if dtype == "bfloat16" else dtype).tiny)
    logs = ops.log(ops.clip(x, tiny, 1.0))
    sums = exclusive_cumsum(logs, axis) if exclusive else cumsum(logs, axis)
    return ops.exp(sums)


def scan(f, init, xs, empty_ys):
    """`ops.scan(f, init, xs)`, with the loop each backend runs fastest.

    Args:
        f: `f(carry, x) -> (carry, ys)`, `x` one step of `xs`.
        init: the first carry.
        xs: a tensor or a structure of tensors, time-major `(T, ...)`.
        empty_ys: zeros shaped like the `ys` of one step (TensorFlow's loop
            buffers).

    Returns:
        `(carry, stacked ys)`, the `ys` stacked on a new leading `T` axis.

    JAX runs `ops.scan` (`lax.scan`: one compiled loop body). Torch runs
    eagerly, so a Python loop is what `ops.scan` does anyway, here over
    `xs` split once. TensorFlow runs `_while_scan`: Keras'
    TensorFlow `scan` is a `tf.while_loop` without `maximum_iterations`,
    whose gradient XLA cannot compile ("XLA compilation requires a fixed
    tensor list size"), so a `jit_compile=True` fit step would fail: the
    decoder's steps and the monotonic recursions below use this loop.
    (Unrolling the steps into the graph was measured too: 7 % less CPU a
    step at the S2S-M shapes, but 400 MB more memory and twice the trace
    time; see bench/RESULTS.md.)
    """
    backend = keras.backend.backend()
    if backend == "jax":
        return ops.scan(f, init, xs)
    if backend == "tensorflow":
        return _while_scan(f, init, xs, empty_ys)
    # Split once: slicing step t out of `xs` would make autograd add a
    # zero-filled `xs`-sized gradient per step.
    flat = [ops.unstack(x, axis=0) for x in keras.tree.flatten(xs)]
    carry, ys = init, []
    for x in zip(*flat, strict=True):
        carry, y = f(carry, keras.tree.pack_sequence_as(xs, x))
        ys.append(y)
    if not ys:  # No step: `(0, *y.shape)` for each y.
        return carry, keras.tree.map_structure(lambda y: y[None][:0], empty_ys)
    return carry, keras.tree.map_structure(lambda *y: ops.stack(y), *ys)


def _while_scan(f, init, xs, empty_ys):
    """`scan` as an `ops.while_loop` with `maximum_iterations`.

    Each step's `ys` is written into its buffers with `scatter_update`, which
    TensorFlow can differentiate, unlike `slice_update`.
    """
    steps = ops.shape(keras.tree.flatten(xs)[0])[0]
    buffers = keras.tree.map_structure(
        lambda y: ops.zeros((steps, *ops.shape(y)), dtype=y.dtype), empty_ys
    )
    if isinstance(steps, int) and steps == 0:
        # Known to be none: in a graph, the body's writes into empty
        # buffers would fail to trace.
        return init, buffers

    def body(t, carry, buffers):
        carry, ys = f(carry, _at(xs, t))
        at_t = ops.reshape(t, (1, 1))
        buffers = keras.tree.map_structure(
            lambda buffer, y: ops.scatter_update(buffer, at_t, y[None]),
            buffers,
            ys,
        )
        return t + 1, carry, buffers

    _, carry, buffers = ops.while_loop(
        lambda t, carry, buffers: t < steps,
        body,
        (0, init, buffers),
        maximum_iterations=steps,
    )
    return carry, buffers


def _at(xs, t):
    """Step `t` of every time-major tensor in `xs`."""
    return keras.tree.map_structure(lambda x: x[t], xs)


MONOTONIC_MODES = ("parallel", "recursive", "hard")


def monotonic_attention(p_choose_i, previous_attention, mode):
    """Expected monotonic alignments (Raffel et al. 2017, eq. 13-16).

    Given the probabilities `p` of stopping at each memory step and the
    previous step's alignments, computes the new alignments

    - `"recursive"`: the exact recurrence `q_i = (1 - p_{i-1}) q_{i-1} +
      prev_i`, `a = p q` (a scan over memory steps);
    - `"parallel"`: its closed form with a clipped, log-space cumulative
      product (fast, can differ by ~1e-6 relative);
    - `"hard"`: for 0/1 `p` and a one-hot `previous_attention`, the first step
      at or after the previous one whose `p` is 1.

    Args:
        p_choose_i: float tensor `(B, Tv)` in `[0, 1]`.
        previous_attention: float tensor `(B, Tv)`.
        mode: str. One of `"parallel"`, `"recursive"`, `"hard"`.

    Returns:
        float tensor `(B, Tv)`.

    Raises:
        ValueError: for an unknown `mode`, or inputs that are not two
            matrices of one shape.
    """
    if mode not in MONOTONIC_MODES:
        raise ValueError(
            f"`mode` must be one of {MONOTONIC_MODES}. Received: mode={mode!r}"
        )
    p = ops.convert_to_tensor(p_choose_i)
    previous = ops.cast(previous_attention, p.dtype)
    p_shape, previous_shape = tuple(p.shape), tuple(previous.shape)
    if (
        len(p_shape) != 2
        or len(previous_shape) != 2
        or any(
            isinstance(a, int) and isinstance(b, int) and a != b
            for a, b in zip(p_shape, previous_shape, strict=True)
        )
    ):
        raise ValueError(
            "`p_choose_i` and `previous_attention` must both be (B, Tv), "
            f"of one shape. Received: p_choose_i.shape={p_shape}, "
            f"previous_attention.shape={previous_shape}"
        )
    if mode == "hard":
        p = p * cumsum(previous, axis=1)
        return p * exclusive_cumprod(1.0 - p, axis=1)
    if mode == "parallel":
        cumprod = safe_cumprod(1.0 - p, axis=1, exclusive=True)
        ratio = previous / ops.clip(cumprod, 1e-10, 1.0)
        return p * cumprod * cumsum(ratio, axis=1)
    # "recursive": scan over the memory steps, time-major. One scanned
    # tensor `(Tv, B, 2)`: Keras 3.15's TensorFlow `scan` fails on several
    # `xs` whose number of steps is unknown (a symbolic `Tv`).
    ones = ops.ones_like(p[:, :1])
    shifted = ops.concatenate([ones, 1.0 - p[:, :-1]], axis=1)
    xs = ops.transpose(ops.stack([shifted, previous], axis=-1), (1, 0, 2))

    def step(q, inputs):
        q = inputs[:, 0] * q + inputs[:, 1]
        return q, q

    zeros = ops.zeros_like(p[:, 0])
    _, q = scan(step, zeros, xs, zeros)
    return p * ops.transpose(q)


def tile_beams(x, beam_size):
    """Repeats each batch entry `beam_size` times: `(B, ...)` -> `(B*K, ...)`.

    Entries stay consecutive (`np.repeat`, not `np.tile`), the layout of
    TFA's `tile_batch`: rows `b*K ... b*K + K-1` are the beams of entry `b`.
    """
    return ops.repeat(x, beam_size, axis=0)
