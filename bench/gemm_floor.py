"""S2S-M's matrix-product floor: the least time each measure can take here.

Every S2S-M measure is mostly matrix products. This file lists the products
one training step, one greedy batch and one beam-5 batch compute (the model
of `reference_torch.py`, in its formulation), times each distinct product
alone on each library's fastest float32 path on this machine, and adds them
up. No implementation on that library can beat the sum: it leaves out
everything that is not a matrix product (activations, softmax, top-k,
gathers, the optimizer update, Python). The sum gives the most tok/s and
sent/s the library can reach, and, beside the reference measured in the
same run, the largest ratio to it that any implementation can show.

Usage (hold the machine-wide lock while timing):

    flock /tmp/bench.lock .venv/bin/python bench/gemm_floor.py \\
        [--libraries torch,tensorflow,jax] [--rounds 3] [--no-reference] \\
        [--json FILE]

Each library runs in its own subprocess, `--rounds` times, the libraries
taking turns; each product counts at its fastest round (the machine's speed
drifts by up to a fifth between minutes). The paths timed per product:
PyTorch eager; TensorFlow eager and `tf.function(jit_compile=True)`; JAX
`jax.jit`; the faster of a library's paths counts. Transposed operands (the
backward pass) are passed as the library's transposed views or flags, as an
autodiff system would. The products left out: the attention context,
`(1, Ts) x (Ts, 512)` per row and step, under 0.3 % of the FLOPs.

A training step also has work that is not a matrix product and that no
implementation can skip: the loss over all `(64 x 30, 8,000)` logits with
its gradient, the Adam update of every parameter, and the additive
attention's `tanh` over `(64, 30, 30, 256)` with its gradient. Each worker
times these on its library's fastest path, in their cheapest form (one
cross-entropy with its gradient; one Adam update over all parameters as a
single flat vector; the scores of all steps at once), and the table adds a
row: the training floor with them. The GRUs' gates, the softmax over the
source and the gathers are still left out.

Decoding likewise has per-step work besides its products: greedy search's
argmax over each step's `(64, 8,000)` logits, beam search's log-softmax
over `(320, 8,000)` and top-k over each sentence's `5 x 8,000`
candidates, and for both the attention's `softmax(v . tanh(q + k))` over
the source. These are timed for all 30 steps, as one batch and as one
compiled function over the steps' slices, the cheaper counting
(`decoding_extra_timers`), and two more rows give the decoding floors
with them. The GRUs' gates, the embedding gathers and the beams' state
reordering are still left out.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from s2s_m import BATCH_SIZE, SOURCE_LENGTH, TARGET_LENGTH, VOCAB_SIZE, machine

LIBRARIES = ("torch", "tensorflow", "jax")
BEAM_SIZE = 5
# S2S-M (shared/bench/S2S-M.md): embeddings 256, encoder GRU 256 a
# direction, decoder GRU 512, attention 256, attention vector 512.
EMBEDDING, ENCODER, DECODER, ATTENTION, VECTOR = 256, 256, 512, 256, 512
TARGETS = {"train": 1.5, "greedy": 2.0, "beam5": 2.5}
# A training step's unavoidable work besides its products (see the docstring).
EXTRAS = ("loss", "adam", "scores")
# A decoding batch's, per search (see `decoding_extra_timers`).
DECODING_EXTRAS = {
    "greedy": ("greedy_choice", "greedy_scores"),
    "beam5": ("beam_choice", "beam_scores"),
}
# Each product is timed for at least this long, and at least MIN_CALLS times.
MIN_SECONDS, MIN_CALLS = 0.3, 10


def decoder_products(rows, steps, output_rows):
    """The decoder's products: `(m, k, n, count)`, `(m, k) x (k, n)`.

    `rows` decoder rows a step, `steps` steps; the output projection runs
    over `output_rows` rows, once (training: all steps together after the
    loop) or every step (decoding: `output_rows == rows`).
    """
    value = 2 * ENCODER
    step = [
        (rows, EMBEDDING + VECTOR, 3 * DECODER, steps),  # GRU input (feeding)
        (rows, DECODER, 3 * DECODER, steps),  # GRU recurrent
        (rows, DECODER, ATTENTION, steps),  # Bahdanau query
        (rows, DECODER + value, VECTOR, steps),  # attention vector
    ]
    times = 1 if output_rows != rows else steps
    return step + [(output_rows, VECTOR, VOCAB_SIZE, times)]


def encoder_products(batch):
    """Bidirectional GRU, the bridge and the keys: `(m, k, n, count)`."""
    value = 2 * ENCODER
    return [
        (batch * SOURCE_LENGTH, EMBEDDING, 3 * ENCODER, 2),  # inputs, all steps
        (batch, ENCODER, 3 * ENCODER, 2 * SOURCE_LENGTH),  # recurrent
        (batch, value, DECODER, 1),  # bridge to the decoder state
        (batch * SOURCE_LENGTH, value, ATTENTION, 1),  # keys, once
    ]


def with_backward(products):
    """Forward products and, for each, the two of its gradient.

    `C = A B` with `A (m, k)`, `B (k, n)` needs `dA = dC B^T` (`(m, n) x
    (n, k)`, B transposed) and `dB = A^T dC` (`(k, m) x (m, n)`, A
    transposed). Returns `(m, k, n, count, transposed)` with `transposed`
    among `""`, `"b"`, `"a"`.
    """
    listed = []
    for m, k, n, count in products:
        listed += [
            (m, k, n, count, ""),
            (m, n, k, count, "b"),
            (k, m, n, count, "a"),
        ]
    return listed


def workload():
    """`{measure: [(m, k, n, count, transposed), ...]}` for S2S-M."""
    batch, steps = BATCH_SIZE, TARGET_LENGTH
    beams = batch * BEAM_SIZE
    forward = encoder_products(batch) + decoder_products(
        batch, steps, batch * steps
    )
    return {
        "train": with_backward(forward),
        "greedy": [
            (*p, "")
            for p in encoder_products(batch)
            + decoder_products(batch, steps, batch)
        ],
        "beam5": [
            (*p, "")
            for p in encoder_products(batch)
            + decoder_products(beams, steps, beams)
        ],
    }


def parameter_count():
    """S2S-M's parameters, as `reference_torch.py` counts them (12.01 M)."""
    value, gru = 2 * ENCODER, 3 * ENCODER
    return (
        2 * VOCAB_SIZE * EMBEDDING  # source and target embeddings
        + 2 * (EMBEDDING * gru + ENCODER * gru + 2 * gru)  # encoder GRUs
        + value * DECODER
        + DECODER  # bridge
        + value * ATTENTION
        + DECODER * ATTENTION
        + ATTENTION  # attention
        + (EMBEDDING + VECTOR + DECODER + 2) * 3 * DECODER  # decoder GRU
        + (DECODER + value) * VECTOR  # attention vector
        + VECTOR * VOCAB_SIZE
        + VOCAB_SIZE  # output projection
    )


def training_extra_timers(library):
    """`{"loss": {path: fn}, "adam": ..., "scores": ...}` on `library`.

    `loss`: mean sparse cross-entropy over `(B x T, V)` float32 logits and
    its gradient with respect to the logits. `adam`: one Adam step over a
    flat float32 vector of `parameter_count()` entries, with its gradient
    given. `scores`: the additive attention's scores of all `T` steps at
    once, `v . tanh(q_t + k_s)` over `(B, T, Ts, U)`, and their gradients
    with respect to the queries, keys and `v` (the loop computes them a
    step at a time; all at once is the cheapest form).
    """
    import numpy as np

    rng = np.random.default_rng(0)
    rows = BATCH_SIZE * TARGET_LENGTH
    logits = rng.standard_normal((rows, VOCAB_SIZE), dtype=np.float32)
    labels = rng.integers(0, VOCAB_SIZE, rows).astype(np.int32)
    size = parameter_count()
    gradient = rng.standard_normal(size, dtype=np.float32) * 1e-3
    lr, beta1, beta2, epsilon = 1e-3, 0.9, 0.999, 1e-7
    queries = rng.standard_normal(
        (BATCH_SIZE, TARGET_LENGTH, ATTENTION), dtype=np.float32
    )
    keys = rng.standard_normal(
        (BATCH_SIZE, SOURCE_LENGTH, ATTENTION), dtype=np.float32
    )
    v_ = rng.standard_normal(ATTENTION, dtype=np.float32)
    upstream = rng.standard_normal(
        (BATCH_SIZE, TARGET_LENGTH, SOURCE_LENGTH), dtype=np.float32
    )
    if library == "torch":
        import torch

        x = torch.from_numpy(logits).requires_grad_()
        y = torch.from_numpy(labels).long()

        def loss():
            # `product_timers` turned gradients off for the whole process.
            x.grad = None
            with torch.enable_grad():
                torch.nn.functional.cross_entropy(x, y).backward()

        weights = torch.nn.Parameter(torch.zeros(size))
        weights.grad = torch.from_numpy(gradient)
        paths = {}
        for name, options in (
            ("foreach", {"foreach": True}),
            ("fused", {"fused": True}),
        ):
            try:
                optimizer = torch.optim.Adam([weights], lr=lr, **options)
                optimizer.step()
            except (RuntimeError, TypeError):
                continue
            paths[name] = optimizer.step
        attention = [
            torch.from_numpy(a).requires_grad_() for a in (queries, keys, v_)
        ]
        d = torch.from_numpy(upstream)

        def scores():
            q, k, v = attention
            with torch.enable_grad():
                s = (torch.tanh(q[:, :, None] + k[:, None]) * v).sum(-1)
                torch.autograd.grad(s, attention, d)

        return {
            "loss": {"eager": loss},
            "adam": paths,
            "scores": {"eager": scores},
        }
    if library == "tensorflow":
        import tensorflow as tf

        x, y = tf.constant(logits), tf.constant(labels)

        def cross_entropy(x, y):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(y, x)
                )
            return value, tape.gradient(value, x)

        weights = tf.Variable(tf.zeros(size))
        m, v = tf.Variable(tf.zeros(size)), tf.Variable(tf.zeros(size))
        g = tf.constant(gradient)

        def adam(g):
            m.assign(beta1 * m + (1 - beta1) * g)
            v.assign(beta2 * v + (1 - beta2) * g * g)
            weights.assign_sub(lr * m / (tf.sqrt(v) + epsilon))

        attention = [tf.constant(a) for a in (queries, keys, v_)]
        d = tf.constant(upstream)

        def additive_scores(q, k, v):
            with tf.GradientTape() as tape:
                tape.watch([q, k, v])
                s = tf.reduce_sum(tf.tanh(q[:, :, None] + k[:, None]) * v, -1)
            return tape.gradient(s, [q, k, v], output_gradients=d)

        # Eager TensorFlow on a CPU returns once the values exist.
        timers = {"loss": {}, "adam": {}, "scores": {}}
        for name, xla in (("graph", False), ("xla", True)):
            step = tf.function(cross_entropy, jit_compile=xla)
            timers["loss"][name] = lambda f=step: f(x, y)
            step = tf.function(adam, jit_compile=xla)
            timers["adam"][name] = lambda f=step: f(g)
            step = tf.function(additive_scores, jit_compile=xla)
            timers["scores"][name] = lambda f=step: f(*attention)
        return timers
    if library == "jax":
        import jax
        import jax.numpy as jnp

        def cross_entropy(x, y):
            label = jnp.take_along_axis(x, y[:, None], 1)[:, 0]
            return jnp.mean(jax.nn.logsumexp(x, axis=1) - label)

        loss = jax.jit(jax.value_and_grad(cross_entropy))
        x, y = jnp.asarray(logits), jnp.asarray(labels)

        def adam(state, g):
            weights, m, v = state
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            return weights - lr * m / (jnp.sqrt(v) + epsilon), m, v

        step = jax.jit(adam, donate_argnums=0)
        state = [tuple(jnp.zeros(size) for _ in range(3))]
        g = jnp.asarray(gradient)

        def update():
            state[0] = step(state[0], g)
            state[0][0].block_until_ready()

        def additive_scores(q, k, v, d):
            s = jnp.sum(jnp.tanh(q[:, :, None] + k[:, None]) * v, -1)
            return jnp.sum(s * d)

        gradients = jax.jit(jax.grad(additive_scores, argnums=(0, 1, 2)))
        attention = [jnp.asarray(a) for a in (queries, keys, v_, upstream)]
        return {
            "loss": {"jit": lambda: loss(x, y)[1].block_until_ready()},
            "adam": {"jit": update},
            "scores": {
                "jit": lambda: jax.block_until_ready(gradients(*attention))
            },
        }
    raise ValueError(f"unknown library {library!r}")


def decoding_extra_timers(library):
    """`{"greedy_choice": {path: fn}, ...}`: decoding's work besides products.

    Per step a greedy search must pick each row's token, an argmax over
    `(B, V)` logits, and score the source, the additive attention's
    `softmax(v . tanh(q + k))` over `(B, Ts, U)`. A beam search picks from
    log-probabilities: a log-softmax over `(B x K, V)`, the beams' scores
    added, and a top-k over each sentence's `K x V` candidates; it scores
    the source for `B x K` rows. Each is timed for all `T` steps, in two
    forms where the libraries allow: all steps as one batch ("all"), and
    one compiled function over the `T` steps' slices ("steps"); the
    cheaper counts. Forward only: decoding takes no gradient.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    steps, rows = TARGET_LENGTH, BATCH_SIZE
    arrays = {}
    for search, width in (("greedy", 1), ("beam", BEAM_SIZE)):
        n = rows * width
        arrays[search] = {
            "logits": rng.standard_normal(
                (steps, n, VOCAB_SIZE), dtype=np.float32
            ),
            "queries": rng.standard_normal((steps, n, ATTENTION), np.float32),
            "keys": rng.standard_normal(
                (n, SOURCE_LENGTH, ATTENTION), dtype=np.float32
            ),
        }
    v_ = rng.standard_normal(ATTENTION, dtype=np.float32)
    beam_scores = rng.standard_normal((steps, rows * BEAM_SIZE, 1), np.float32)

    def per_step(fn, *stacked):
        # One step's slices: the form a decoding loop computes.
        return [fn(*(a[t] for a in stacked)) for t in range(steps)]

    if library == "torch":
        import torch

        torch.set_grad_enabled(False)
        t = {
            k: {n: torch.from_numpy(a) for n, a in d.items()}
            for k, d in arrays.items()
        }
        v, s = torch.from_numpy(v_), torch.from_numpy(beam_scores)

        def choose_greedy(x):
            return x.argmax(-1)

        def choose_beam(x, scores):
            total = torch.log_softmax(x, -1) + scores
            return total.reshape(-1, BEAM_SIZE * VOCAB_SIZE).topk(BEAM_SIZE)

        def attend(q, k):
            # q (..., n, U) against k (n, Ts, U): all steps or one step.
            e = (torch.tanh(q.unsqueeze(-2) + k) * v).sum(-1)
            return torch.softmax(e, -1)

        paths = {}
        for search, choose, extra in (
            ("greedy", choose_greedy, ()),
            ("beam", choose_beam, (s,)),
        ):
            a = t[search]
            paths[f"{search}_choice"] = {
                "all": lambda c=choose, a=a, e=extra: c(a["logits"], *e),
                "steps": lambda c=choose, a=a, e=extra: per_step(
                    c, a["logits"], *e
                ),
            }
            paths[f"{search}_scores"] = {
                "all": lambda a=a: attend(a["queries"], a["keys"]),
                "steps": lambda a=a: per_step(
                    lambda q: attend(q, a["keys"]), a["queries"]
                ),
            }
        return paths
    if library == "tensorflow":
        import tensorflow as tf

        t = {
            k: {n: tf.constant(a) for n, a in d.items()}
            for k, d in arrays.items()
        }
        v, s = tf.constant(v_), tf.constant(beam_scores)

        def choose_greedy(x):
            return tf.argmax(x, -1, output_type=tf.int32)

        def choose_beam(x, scores):
            total = tf.nn.log_softmax(x) + scores
            flat = tf.reshape(total, (-1, BEAM_SIZE * VOCAB_SIZE))
            return tf.math.top_k(flat, BEAM_SIZE)

        def attend(q, k):
            e = tf.reduce_sum(tf.tanh(q[..., None, :] + k) * v, -1)
            return tf.nn.softmax(e)

        paths = {}
        for search, choose, extra in (
            ("greedy", choose_greedy, ()),
            ("beam", choose_beam, (s,)),
        ):
            a = t[search]
            choice, scores = {}, {}
            for name, xla in (("graph", False), ("xla", True)):
                f = tf.function(choose, jit_compile=xla)
                choice[f"all {name}"] = lambda f=f, a=a, e=extra: f(
                    a["logits"], *e
                )
                f = tf.function(
                    lambda x, *e, c=choose: per_step(c, x, *e),
                    jit_compile=xla,
                )
                choice[f"steps {name}"] = lambda f=f, a=a, e=extra: f(
                    a["logits"], *e
                )
                f = tf.function(attend, jit_compile=xla)
                scores[f"all {name}"] = lambda f=f, a=a: f(
                    a["queries"], a["keys"]
                )
                f = tf.function(
                    lambda q, k: per_step(lambda x: attend(x, k), q),
                    jit_compile=xla,
                )
                scores[f"steps {name}"] = lambda f=f, a=a: f(
                    a["queries"], a["keys"]
                )
            paths[f"{search}_choice"] = choice
            paths[f"{search}_scores"] = scores
        return paths
    if library == "jax":
        import jax
        import jax.numpy as jnp

        t = {
            k: {n: jnp.asarray(a) for n, a in d.items()}
            for k, d in arrays.items()
        }
        v, s = jnp.asarray(v_), jnp.asarray(beam_scores)

        def choose_greedy(x):
            return jnp.argmax(x, -1)

        def choose_beam(x, scores):
            total = jax.nn.log_softmax(x) + scores
            flat = total.reshape(-1, BEAM_SIZE * VOCAB_SIZE)
            return jax.lax.top_k(flat, BEAM_SIZE)

        def attend(q, k):
            e = jnp.sum(jnp.tanh(q[..., None, :] + k) * v, -1)
            return jax.nn.softmax(e)

        def ready(f):
            return lambda *a: jax.block_until_ready(f(*a))

        paths = {}
        for search, choose, extra in (
            ("greedy", choose_greedy, ()),
            ("beam", choose_beam, (s,)),
        ):
            a = t[search]
            whole = ready(jax.jit(choose))
            stepped = ready(jax.jit(lambda x, *e, c=choose: per_step(c, x, *e)))
            paths[f"{search}_choice"] = {
                "all": lambda f=whole, a=a, e=extra: f(a["logits"], *e),
                "steps": lambda f=stepped, a=a, e=extra: f(a["logits"], *e),
            }
            whole = ready(jax.jit(attend))
            stepped = ready(
                jax.jit(lambda q, k: per_step(lambda x: attend(x, k), q))
            )
            paths[f"{search}_scores"] = {
                "all": lambda f=whole, a=a: f(a["queries"], a["keys"]),
                "steps": lambda f=stepped, a=a: f(a["queries"], a["keys"]),
            }
        return paths
    raise ValueError(f"unknown library {library!r}")


def flops(products):
    return sum(2 * m * k * n * count for m, k, n, count, _ in products)


def timer(fn):
    """Median seconds of `fn()` after two warm-up calls."""
    fn()
    fn()
    seconds, start = [], time.perf_counter()
    while len(seconds) < MIN_CALLS or time.perf_counter() - start < MIN_SECONDS:
        begin = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - begin)
    return statistics.median(seconds)


def operands(np, m, k, n, transposed):
    """Random float32 operands stored the way `transposed` reads them."""
    rng = np.random.default_rng(0)
    a_shape = (k, m) if transposed == "a" else (m, k)
    b_shape = (n, k) if transposed == "b" else (k, n)
    a = rng.standard_normal(a_shape, dtype=np.float32)
    b = rng.standard_normal(b_shape, dtype=np.float32)
    return a, b


def product_timers(library):
    """`make(a, b, transposed) -> {path: zero-argument callable}`."""
    if library == "torch":
        import torch

        torch.set_grad_enabled(False)

        def make(a, b, transposed):
            a, b = torch.from_numpy(a), torch.from_numpy(b)
            a = a.t() if transposed == "a" else a
            b = b.t() if transposed == "b" else b
            return {"eager": lambda: a @ b}

        return make
    if library == "tensorflow":
        import tensorflow as tf

        def product(a, b, transposed):
            return tf.matmul(
                a,
                b,
                transpose_a=transposed == "a",
                transpose_b=transposed == "b",
            )

        def make(a, b, transposed):
            a, b = tf.constant(a), tf.constant(b)
            xla = tf.function(product, jit_compile=True)
            return {
                "eager": lambda: product(a, b, transposed),
                "xla": lambda: xla(a, b, transposed),
            }

        return make
    if library == "jax":
        import jax

        def product(a, b, transposed):
            a = a.T if transposed == "a" else a
            b = b.T if transposed == "b" else b
            return a @ b

        jitted = jax.jit(product, static_argnums=2)

        def make(a, b, transposed):
            a, b = jax.numpy.asarray(a), jax.numpy.asarray(b)
            return {"jit": lambda: jitted(a, b, transposed).block_until_ready()}

        return make
    raise ValueError(f"unknown library {library!r}")


def measure_library(library):
    """Seconds of each distinct product on `library`, its fastest path.

    Returns:
        `{"m,k,n,transposed": {"seconds": s, "path": name}}`.
    """
    import numpy as np

    make = product_timers(library)
    shapes = sorted(
        {(m, k, n, t) for ps in workload().values() for m, k, n, _, t in ps}
    )
    timed = {}
    for m, k, n, transposed in shapes:
        paths = make(*operands(np, m, k, n, transposed), transposed)
        seconds = {path: timer(fn) for path, fn in paths.items()}
        best = min(seconds, key=seconds.get)
        timed[f"{m},{k},{n},{transposed}"] = {
            "seconds": seconds[best],
            "path": best,
        }
    extras = training_extra_timers(library) | decoding_extra_timers(library)
    for name, paths in extras.items():
        seconds = {path: timer(fn) for path, fn in paths.items()}
        best = min(seconds, key=seconds.get)
        timed[name] = {"seconds": seconds[best], "path": best}
    return timed


def floors(timed):
    """`{measure: seconds}`: the sum of a measure's products."""
    return {
        measure: sum(
            timed[f"{m},{k},{n},{t}"]["seconds"] * count
            for m, k, n, count, t in products
        )
        for measure, products in workload().items()
    }


def train_with_extras(timed):
    """Tok/s of the products of a training step, its loss and Adam."""
    seconds = floors(timed)["train"]
    seconds += sum(timed[name]["seconds"] for name in EXTRAS)
    return BATCH_SIZE * TARGET_LENGTH / seconds


def decoding_with_extras(timed):
    """`{"greedy": sent/s, "beam5": sent/s}` of the products and extras."""
    seconds = floors(timed)
    return {
        search: BATCH_SIZE
        / (seconds[search] + sum(timed[n]["seconds"] for n in names))
        for search, names in DECODING_EXTRAS.items()
    }


def seconds_of(timed_product):
    return timed_product["seconds"]


def rates(seconds):
    """Seconds per training step or per batch -> tok/s or sent/s."""
    return {
        "train": BATCH_SIZE * TARGET_LENGTH / seconds["train"],
        "greedy": BATCH_SIZE / seconds["greedy"],
        "beam5": BATCH_SIZE / seconds["beam5"],
    }


def run_subprocess(arguments):
    """Runs this file with `arguments` + `--result-file`; returns its JSON."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["PYTHONPATH"] = os.pathsep.join([here, env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "result.json")
        command = [sys.executable, os.path.abspath(__file__), *arguments]
        process = subprocess.run(
            [*command, "--result-file", path],
            env=env,
            capture_output=True,
            text=True,
        )
        if process.returncode == 0:
            with open(path) as file:
                return json.load(file)
    lines = process.stderr.strip().splitlines()
    return {"error": lines[-1] if lines else f"exit {process.returncode}"}


def measure_reference():
    """The reference's three rates in its own process (`s2s_m` rules)."""
    import s2s_m

    run = s2s_m.run_backend(
        "reference", list(s2s_m.MEASURES), quick=False, policy="float32"
    )
    if "error" in run:
        return run
    measured = run["measures"]
    return {
        "train": measured["train_tok_s"],
        "greedy": measured["greedy_sent_s"],
        "beam5": measured["beam5_sent_s"],
    }


def format_table(results, reference):
    units = {"train": "tok/s", "greedy": "sent/s", "beam5": "sent/s"}
    lines = [
        "measure  GFLOP  "
        + "  ".join(f"{name:>22}" for name in results)
        + ("  reference  target" if reference else "")
    ]
    work = workload()
    for measure in TARGETS:
        cells = []
        for result in results.values():
            if "error" in result:
                cells.append(f"{'error':>22}")
                continue
            rate = result["rates"][measure]
            gflops = flops(work[measure]) / result["floors"][measure] / 1e9
            cell = f"{rate:,.0f} ({gflops:.0f} GF/s)"
            if reference:
                cell += f" {rate / reference[measure]:.2f}x"
            cells.append(f"{cell:>22}")
        line = f"{measure:<7}  {flops(work[measure]) / 1e9:5.1f}  " + "  ".join(
            cells
        )
        if reference:
            target = TARGETS[measure] * reference[measure]
            line += f"  {reference[measure]:9,.0f}  {target:6,.0f}"
        lines.append(f"{line}   [{units[measure]}]")
    with_extras = (
        ("train", "train_with_extras", "loss, Adam, scores"),
        ("greedy", "decoding_with_extras", "argmax, scores"),
        ("beam5", "decoding_with_extras", "top-k, scores"),
    )
    for measure, key, what in with_extras:
        cells = []
        for result in results.values():
            if "error" in result:
                cells.append(f"{'error':>22}")
                continue
            rate = result[key]
            rate = rate[measure] if isinstance(rate, dict) else rate
            cell = f"{rate:,.0f}"
            if reference:
                cell += f" {rate / reference[measure]:.2f}x"
            cells.append(f"{cell:>22}")
        line = f"{measure}+ (+ {what})".ljust(16) + "  ".join(cells)
        lines.append(f"{line}   [{units[measure]}]")
    for library, result in results.items():
        if "error" not in result:
            extras = result["products"]
            lines.append(
                f"  {library}: "
                + ", ".join(
                    f"{name} {extras[name]['seconds'] * 1e3:.1f} ms "
                    f"({extras[name]['path']})"
                    for name in EXTRAS + sum(DECODING_EXTRAS.values(), ())
                )
            )
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="S2S-M's matrix-product floor per library (see the "
        "module docstring)."
    )
    parser.add_argument(
        "--libraries",
        default=",".join(LIBRARIES),
        help="comma-separated, among %(default)s",
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip measuring the plain PyTorch reference (about 2 minutes)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="runs of each library, taken in turn; each product counts at "
        "its fastest (default: %(default)s)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        timed = measure_library(args.worker)
        with open(args.result_file, "w") as file:
            json.dump(timed, file)
        return 0
    libraries = [name for name in args.libraries.split(",") if name]
    unknown = sorted(set(libraries) - set(LIBRARIES))
    if unknown or not libraries:
        raise SystemExit(f"--libraries: expected names among {LIBRARIES}")
    # The machine's speed drifts by a fifth between minutes: the libraries
    # take turns, and each product counts at its fastest round.
    rounds = {library: [] for library in libraries}
    for _ in range(args.rounds):
        for library in libraries:
            rounds[library].append(run_subprocess(["--worker", library]))
    results = {}
    for library, runs in rounds.items():
        failed = [run for run in runs if "error" in run]
        if failed:
            results[library] = failed[0]
            continue
        timed = {
            shape: min((run[shape] for run in runs), key=seconds_of)
            for shape in runs[0]
        }
        seconds = floors(timed)
        results[library] = {
            "floors": seconds,
            "rates": rates(seconds),
            "round_rates": [rates(floors(run)) for run in runs],
            "train_with_extras": train_with_extras(timed),
            "decoding_with_extras": decoding_with_extras(timed),
            "products": timed,
        }
    reference = None if args.no_reference else measure_reference()
    if reference and "error" in reference:
        print(f"reference: {reference['error']}", file=sys.stderr)
        reference = None
    print(
        "S2S-M matrix products alone, float32: the most each library can "
        "reach, its GFLOP/s, and the ratio to the reference of this run"
    )
    print(format_table(results, reference))
    for library, result in results.items():
        if "error" not in result:
            spread = ", ".join(
                f"{measure} {min(each):,.0f}-{max(each):,.0f}"
                for measure in TARGETS
                for each in [[r[measure] for r in result["round_rates"]]]
            )
            print(f"{library}, single rounds: {spread}")
    if args.json:
        with open(args.json, "w") as file:
            meta = {
                "command": "python bench/gemm_floor.py "
                + " ".join(sys.argv[1:] if argv is None else argv),
                "date": datetime.datetime.now().isoformat(timespec="seconds"),
                "machine": machine(),
                "reference": reference,
            }
            json.dump({**results, "_meta": meta}, file, indent=1)
            file.write("\n")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
