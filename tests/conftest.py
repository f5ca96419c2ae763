"""Shared test set-up: seeding, XLA's compile effort, on JAX one
compilation per program, and on PyTorch one thread."""

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

# The tests run many small XLA programs once each (JAX's eager ops and
# `jit`s, TensorFlow's `jit_compile`), so compiling them costs more than
# running them. Three code-generation choices cut that cost, none the
# math: LLVM's optimisation passes off (the JAX and TensorFlow library
# tests took 25 % and 14 % less time, session 16); XLA's older fusion
# emitters instead of its MLIR ones (test_user_programs_6 on JAX
# 92-103 s -> 59-64 s, in turns, session 21); and each program as one
# LLVM module, not pieces compiled side by side, whose overhead these
# small programs do not repay (JAX test files 8-10 % faster in turns,
# TensorFlow's the same; session 23). XLA keeps its fusions and,
# without fast math, IEEE order: the parity fixtures pass to the same
# tolerances. Set here, before any backend starts, and inherited by the
# tool's subprocesses; a user's own `XLA_FLAGS` choice of any of them wins.
_XLA_TEST_FLAGS = {
    "xla_backend_optimization_level": "0",
    "xla_cpu_use_fusion_emitters": "false",
    "xla_cpu_parallel_codegen_split_count": "1",
}
# XLA ends the process on a flag it does not know ("Unknown flag in
# XLA_FLAGS", fatal: every test would stop), and its flags come and go
# between versions. These are the versions the flags were checked with;
# with any other installed, a one-line program first compiles with the
# flags in a subprocess of each library (JAX 2 s, TensorFlow 8 s), and if
# one fails the tests run without them: slower, the same results.
# Each XLA's distributions, the version checked, and its probe.
_XLAS = {
    "jaxlib": (
        ("jaxlib",),
        "0.10.2",
        "import jax; jax.jit(lambda x: x + 1)(1.0).block_until_ready()",
    ),
    "tensorflow": (
        ("tensorflow", "tensorflow-cpu"),
        "2.21.0",
        "import tensorflow as tf; "
        "tf.function(lambda x: x + 1, jit_compile=True)(tf.constant(1.0))",
    ),
}


def _installed(names):
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return None


def _known_to_every_xla(flags: str) -> bool:
    for library, (names, checked, program) in _XLAS.items():
        version = _installed(names)
        if version in (None, checked):
            continue
        probe = subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "XLA_FLAGS": flags, "TF_CPP_MIN_LOG_LEVEL": "2"},
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            said = (probe.stderr.strip().splitlines() or ["no output"])[-1]
            print(
                f"tests: {library} {version} refused the tests' XLA flags "
                f"({said}); the tests run without them",
                file=sys.stderr,
            )
            return False
    return True


_flags = os.environ.get("XLA_FLAGS", "")
_with_test_flags = " ".join(
    [_flags]
    + [f"--{k}={v}" for k, v in _XLA_TEST_FLAGS.items() if k not in _flags]
).strip()
if _with_test_flags != _flags and _known_to_every_xla(_with_test_flags):
    os.environ["XLA_FLAGS"] = _with_test_flags

import keras  # noqa: E402

_JAX_CACHE = pytest.StashKey[str]()


def pytest_configure(config):
    if keras.backend.backend() == "torch":
        _one_torch_thread()
    # On JAX every eager call of a recurrent layer or search loop traces a
    # new closure, and `jax.jit` caches by function: the same model called
    # again, its twin, or its saved and loaded copy compile the same XLA
    # program again, for seconds each. JAX's compilation cache, keyed by
    # the program itself, in a folder of this run only, compiles each
    # program once (the programs and results are the same).
    if keras.backend.backend() != "jax":
        return
    import jax

    if jax.config.jax_compilation_cache_dir is None:  # the user's wins
        folder = tempfile.mkdtemp(prefix="jax-compilations-")
        config.stash[_JAX_CACHE] = folder
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _one_torch_thread():
    # The tests' tensors are tiny: PyTorch's second intra-op thread costs
    # more than it gives, and beside `make test`'s other lane (a busy
    # core) its threads wait on each other. 40 training steps of
    # test_learns_to_reverse_sequences' model: 2.67 s with 2 threads and
    # 1.98 s with 1 alone; 9.70 s and 2.28 s beside a busy core. The
    # PyTorch library tests beside a busy core: 107 s with 1 thread, 192 s
    # with 2 in the last `make test` (session 24). A user's
    # `OMP_NUM_THREADS` wins.
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)


def pytest_unconfigure(config):
    folder = config.stash.get(_JAX_CACHE, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
