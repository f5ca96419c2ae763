"""Compiling a decoding function: the one module that names a backend.

The searches are written with `keras.ops` and `ops.while_loop`, so each
backend's compiler can take a whole search, step function included, as one
program. `compiled` picks that compiler for a decoding function,
`compiled_model_function` for a function that reads a model's weights
(`Seq2Seq.generate`), `no_gradients` stops eager autograd from recording
a search, `top_k_is_stable` says whether the backend's `top_k` breaks
ties by index, `in_xla_function` whether XLA compiles what is traced, and
`replica_share` a TensorFlow replica's share of the batch's tokens;
everything else in the library stays backend-neutral.
"""

import contextlib
import functools
import inspect

import keras
import numpy as np


def compiled(fn):
    """`fn` compiled by the backend's compiler, for repeated calls.

    - TensorFlow: `tf.function(fn, jit_compile=True, autograph=False)`
      (XLA). Tensors are traced; Python arguments (the step function, ids,
      sizes, options) are part of the trace, and a new value traces again.
      The searches are graph code already (`ops.while_loop`, no Python `if`
      on tensors); AutoGraph would only re-read their source files while
      tracing, and warn when a file changed since the process started.
    - JAX: `jax.jit(fn)` with every argument that holds no array (the step
      function, ids, sizes, options, an int seed) static; arrays and nested
      structures of arrays are traced.
    - PyTorch: `fn` itself, run eagerly.

    Compiled and eager calls return the same ids, lengths and parents, and
    the same scores and weights to float32 rounding (~1e-6: XLA fuses and
    reorders sums). One exception: on TensorFlow, `sample` draws other
    random numbers under XLA (TensorFlow's stateless random ops pick
    another algorithm there), as reproducible as the eager ones. Layers the
    step function calls must be built before the first compiled call, and a
    compiled `sample` on JAX needs an int `seed` (a `SeedGenerator` cannot
    advance inside `jit`).

    Args:
        fn: a decoding function (`greedy_search`, `sample`, `beam_search`)
            or any function of tensors written with `keras.ops`.

    Returns:
        a callable with the signature of `fn`.

    Example:

    >>> table = ops.log([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.7, 0.1, 0.2]])
    >>> def step_fn(token_ids, state):
    ...     log_probs = ops.take(table, token_ids, axis=0)
    ...     return log_probs, state, ops.ones((2, 1))
    >>> search = compiled(greedy_search)
    >>> result = search(step_fn, ops.zeros((2, 1)), 1, 0, max_length=4)
    >>> ops.convert_to_numpy(result["ids"]).tolist()
    [[2, 0, 0, 0], [2, 0, 0, 0]]
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # XLA compiles the while loop, the gathers and `top_k` into one
        # program; Python-valued arguments become constants of the trace.
        return tf.function(fn, jit_compile=True, autograph=False)
    if backend == "jax":
        import jax

        # `jax.jit` only traces arrays: an argument without one (a callable,
        # an int, a float, None) must be static, and the set of such names
        # differs from call to call (`bos_id` may be an int or an array).
        signature = inspect.signature(fn)
        jitted = {}

        @functools.wraps(fn)
        def call(*args, **kwargs):
            arguments = signature.bind(*args, **kwargs).arguments
            static = tuple(
                sorted(n for n, v in arguments.items() if not holds_array(v))
            )
            if static not in jitted:
                jitted[static] = jax.jit(fn, static_argnames=static)
            return jitted[static](**arguments)

        return call
    # PyTorch: Keras' `while_loop` on torch is a Python loop whose exit
    # depends on tensor values, which `torch.compile` can only split into
    # graph breaks; the search runs eagerly.
    return fn


def compiled_model_function(fn, model, xla=True):
    """`fn(*tensors)` compiled once per input shapes; reads `model`'s weights.

    For a function that calls `model`'s layers (`Seq2Seq.generate`'s whole
    search: encoder, memory, search loop). Each call sees the current
    weights, also after training:

    - TensorFlow: `tf.function(fn, jit_compile=xla, autograph=False)`;
      the variables are captured by reference, so the compiled program
      reads their values. With `xla=False` the traced graph runs on
      TensorFlow's own kernels instead of one XLA program.
    - JAX: `jax.jit` of `fn` in a `keras.StatelessScope` that maps every
      variable of `model` to an argument: the values are passed at each
      call, never baked into the program.
    - PyTorch: `fn` itself, run eagerly.

    Args:
        fn: a function of tensors only (options are closed over).
        model: the `keras.Layer` whose variables `fn` reads, built.
        xla: bool. TensorFlow only: compile with XLA. XLA fuses elementwise
            work into few passes; without it, the matrix products run on
            oneDNN, faster than XLA's at a few dozen rows (S2S-M's output
            projection, 64 x 512 by 512 x 8000: 2.6 vs 3.1-3.3 ms). JAX
            always compiles with XLA; PyTorch runs eagerly. Defaults to
            `True`.

    Returns:
        a callable `(*tensors) -> fn(*tensors)` with an attribute `traces`:
        how many times the Python body of `fn` ran (once per compilation
        when compiled, once per call when eager).
    """

    def counted(*args):
        call.traces += 1
        return fn(*args)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # The encoder, the prepared memory and the search loop become one
        # graph (one XLA program with `xla`); a new input shape traces again.
        run = tf.function(counted, jit_compile=xla, autograph=False)
    elif backend == "jax":
        import jax

        def pure(values, *args):
            mapping = list(zip(model.variables, values, strict=True))
            with keras.StatelessScope(state_mapping=mapping):
                return counted(*args)

        jitted = jax.jit(pure)

        def run(*args):
            return jitted([v.value for v in model.variables], *args)

    else:
        # PyTorch: eager, as `compiled` (a while loop with a data-dependent
        # exit is no single torch.compile graph).
        run = counted

    def call(*args):
        return run(*args)

    call.traces = 0
    return call


def no_gradients():
    """A context in which eager ops record nothing for gradients.

    On PyTorch, `torch.no_grad()`: a search run eagerly would otherwise
    keep every step's activations alive for a backward pass that never
    comes (beam search over S2S-M: about 1.2 GB). Elsewhere nothing: a
    traced program keeps no tape.
    """
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()


def is_traced(tensor):
    """Whether `tensor` is being traced, so that its values cannot be read.

    - TensorFlow: a symbolic tensor of a graph (`tf.function`, an
      `ExportArchive` endpoint).
    - JAX: a tracer (`jax.jit`, `jax.grad`).
    - PyTorch: any tensor while `torch.compile` traces.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.is_symbolic_tensor(tensor)
    if backend == "jax":
        import jax

        return isinstance(tensor, jax.core.Tracer)
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling()
    return False


def holds_array(value):
    """Whether a (nested) argument contains a tensor or a NumPy array."""
    return any(
        keras.ops.is_tensor(leaf) or isinstance(leaf, np.ndarray)
        for leaf in keras.tree.flatten(value)
    )


def top_k_is_stable():
    """Whether the backend's `top_k` puts equal values lower index first.

    TensorFlow's `tf.math.top_k` and JAX's `jax.lax.top_k` document it;
    PyTorch's `topk` leaves the order of equal values unspecified.
    """
    return keras.backend.backend() in ("tensorflow", "jax")


def replica_share(mask):
    """This replica's share of the batch's `mask` entries, or `None`.

    TensorFlow under a `tf.distribute` strategy of N > 1 replicas: the
    count of this replica's true `mask` entries over their mean across the
    replicas. Each replica's masked mean over its own tokens, averaged over
    the replicas, weighs a replica with fewer tokens more; weights
    multiplied by this share make the average the mean over all replicas'
    tokens. `None` on one replica and on the other backends (JAX's data
    parallel step is one program over the global batch), where nothing is
    counted.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    count = tf.reduce_sum(tf.cast(mask, "float32"))
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    replicas = context.num_replicas_in_sync
    return tf.math.divide_no_nan(count * replicas, total)


def in_xla_function():
    """Whether TensorFlow is tracing a function that XLA compiles
    (`tf.function(jit_compile=True)`, a Keras model compiled with
    `jit_compile`), where a loop needs a bound to compile; `False` on the
    other backends."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    graph = tf.compat.v1.get_default_graph()
    return control_flow_util.GraphOrParentsInXlaContext(graph)


def loops_run_eagerly():
    """Whether `ops.while_loop` runs as a Python loop, op by op.

    Keras' PyTorch `while_loop` does, so a step run before the loop only
    for the shapes of its buffers costs a whole step there; TensorFlow and
    JAX trace the loop, where such a step is dead code.
    """
    return keras.backend.backend() == "torch"
