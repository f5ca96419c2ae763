"""S2S-M benchmark: each Keras backend against a plain PyTorch reference.

The workload and the measures are those of `shared/bench/S2S-M.md`. Each
backend runs in its own subprocess, so that `KERAS_BACKEND` can differ and
the peak RSS is that backend's own: "reference" runs
`bench/reference_torch.py`, a Keras backend runs `bench/keras_side.py`. The
table gives each figure and its ratio to the reference of the same run.

Usage (hold the machine-wide lock while timing):

    flock /tmp/bench.lock .venv/bin/python bench/s2s_m.py \\
        [--backends tensorflow,jax,torch,reference] \\
        [--measures train,greedy,beam5] [--json FILE] [--quick]

The JSON maps each backend to its measures (`train_tok_s`, `greedy_sent_s`,
`beam5_sent_s`, `first_step_s`, `peak_rss_mib`, and `import_rss_mib`: the
resident set once the framework is imported, before any model; measures
not run are absent, a failed backend has only `error`), and `_meta` to the
command, versions and settings. The exit code is 1 when a backend failed.

This module also holds what both sides share (the data and the timing
rules), and imports nothing heavy at the top, so the workers import it.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

VOCAB_SIZE = 8000
BATCH_SIZE = 64
SOURCE_LENGTH = 30
TARGET_LENGTH = 30
# Random ids are drawn above these, so the data has no padding and no EOS.
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2

BACKENDS = ("tensorflow", "jax", "torch", "reference")
MEASURES = ("train", "greedy", "beam5")
# S2S-M is float32; --dtype-policy mixed_bfloat16 measures both sides in
# mixed precision (Keras' policy; the reference under torch.autocast).
DTYPE_POLICIES = ("float32", "mixed_bfloat16")
# Set to "1" in the workers' environment by --train-xla.
TRAIN_XLA_VARIABLE = "S2S_M_TRAIN_XLA"
DEVICES = ("cpu", "cuda")
# On a GPU, how float32 matrix products run: "float32" (S2S-M's float32,
# every side), or "tf32" (--tf32: NVIDIA's TensorFloat-32, JAX's default
# on GPUs since Ampere; PyTorch's default is float32).
MATMUL_VARIABLE = "S2S_M_MATMUL"
# Calls per measure: train steps 10..40 are timed after 10 warm-up steps, and
# each decoding method is timed 5 times after 2 warm-up calls.
FULL = {"warmup": 10, "steps": 31, "decode_warmup": 2, "decode_steps": 5}
# --quick: a smoke test of every code path, not a measurement.
QUICK = {"warmup": 1, "steps": 2, "decode_warmup": 1, "decode_steps": 1}
WORKER_TIMEOUT_S = 1800
# (JSON key, table header, the measure that yields it). Ratios are backend /
# reference for every column: above 1x is better for the rates, worse for
# time and memory.
COLUMNS = (
    ("train_tok_s", "train tok/s", "train"),
    ("greedy_sent_s", "greedy sent/s", "greedy"),
    ("beam5_sent_s", "beam-5 sent/s", "beam5"),
    ("first_step_s", "first step s", "train"),
    ("peak_rss_mib", "peak RSS MiB", None),
    ("peak_gpu_mib", "peak GPU MiB", None),
    ("import_rss_mib", "import RSS MiB", None),
)
PACKAGES = (
    "keras-seq2seq",
    "keras",
    "numpy",
    "torch",
    "tensorflow",
    "tensorflow-cpu",
    "jax",
    "jaxlib",
)


def make_batch(seed: int = 0):
    """The benchmark batch, the same on every side.

    Returns:
        `(source_ids, target_in_ids, target_out_ids)`, int32 NumPy arrays of
        shape `(64, 30)`; `target_in_ids` is `BOS_ID` then `target_out_ids`
        shifted right by one step.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    low = EOS_ID + 1
    source = rng.integers(low, VOCAB_SIZE, (BATCH_SIZE, SOURCE_LENGTH))
    target = rng.integers(low, VOCAB_SIZE, (BATCH_SIZE, TARGET_LENGTH + 1))
    target[:, 0] = BOS_ID
    return (
        source.astype("int32"),
        target[:, :-1].astype("int32"),
        target[:, 1:].astype("int32"),
    )


def time_calls(fn, warmup: int, steps: int) -> tuple[float, float]:
    """Calls `fn` `warmup + steps` times.

    `fn` must return only once its work is done (no asynchronous dispatch
    still running).

    Returns:
        `(first, median)`: seconds of the very first call, and the median
        seconds of the `steps` calls after the warm-up.
    """
    seconds = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds[0], statistics.median(seconds[warmup:])


def set_torch_matmul_precision() -> None:
    """PyTorch's float32 products on a GPU as `MATMUL_VARIABLE` says:
    TF32 for "tf32", else float32 (both PyTorch sides call this)."""
    import torch

    tf32 = os.environ.get(MATMUL_VARIABLE) == "tf32"
    torch.set_float32_matmul_precision("high" if tf32 else "highest")


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """The resident set now; the workers read it once the framework is
    imported and before any model exists, so that the peak's share that
    the framework's import alone takes (its shared libraries, for most
    of it) shows beside the peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def run_worker(
    backend: str,
    measures: list[str],
    quick: bool,
    policy: str,
    device: str,
    path: str,
):
    """In the subprocess: measure one backend and write the result to path."""
    if backend == "reference":
        import reference_torch as side
    else:
        # The parent set KERAS_BACKEND before this process imported keras.
        import keras_side as side
    calls = QUICK if quick else FULL
    result = side.measure(measures, dtype_policy=policy, device=device, **calls)
    try:
        info = side.describe()
    except Exception as error:  # the measures matter more than the notes
        info = {"error": f"{type(error).__name__}: {error}"}
    with open(path, "w") as file:
        json.dump({"measures": result, "info": info}, file)


def run_backend(
    backend: str, measures: list[str], quick: bool, policy: str, device: str
) -> dict:
    """Runs one backend's subprocess; returns `{"measures"|"error", "info"}`."""
    # Measure this checkout's library, whichever one the venv's editable
    # install points at.
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    python_path = os.pathsep.join(
        [os.path.join(repo, "src"), os.environ.get("PYTHONPATH", "")]
    )
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": python_path,
    }
    if backend != "reference":
        env["KERAS_BACKEND"] = backend
    if device == "cpu":  # on a machine with a GPU, too
        env.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    else:
        tf32 = env.get(MATMUL_VARIABLE) == "tf32"
        env["JAX_DEFAULT_MATMUL_PRECISION"] = (
            "tensorfloat32" if tf32 else "float32"
        )
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "result.json")
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            backend,
            "--measures",
            ",".join(measures),
            "--dtype-policy",
            policy,
            "--device",
            device,
            "--result-file",
            path,
        ] + (["--quick"] if quick else [])
        try:
            process = subprocess.run(
                command,
                env=env,
                capture_output=True,
                text=True,
                timeout=WORKER_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {WORKER_TIMEOUT_S} s"}
        if process.returncode == 0 and os.path.exists(path):
            with open(path) as file:
                return json.load(file)
    lines = process.stderr.strip().splitlines()
    sys.stderr.write("\n".join(lines[-15:]) + "\n")
    last = lines[-1] if lines else f"exit code {process.returncode}"
    return {"error": last}


def format_value(key: str, value: float) -> str:
    if key == "first_step_s":
        return f"{value:.2f}"
    if key.endswith("_rss_mib") or value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def format_table(results: dict, measures: list[str]) -> str:
    """Rows are backends, columns the measures, each with its ratio."""
    columns = [
        (key, header)
        for key, header, measure in COLUMNS
        if measure in measures
        or (measure is None and any(key in r for r in results.values()))
    ]
    reference = results.get("reference", {})
    rows = {"backend": [header for _, header in columns]}
    for backend, result in results.items():
        if "error" in result:
            continue
        rows[backend] = []
        for key, _ in columns:
            cell = format_value(key, result[key]) if key in result else "-"
            if key in result and reference.get(key):
                cell += f" ({result[key] / reference[key]:.2f}x)"
            rows[backend].append(cell)
    name_width = max(len(name) for name in [*results, "backend"])
    widths = [
        max(len(row[i]) for row in rows.values()) for i in range(len(columns))
    ]
    lines = []
    for backend in ["backend", *results]:
        if backend in rows:
            cells = [
                f"{c:>{w}}" for c, w in zip(rows[backend], widths, strict=True)
            ]
            line = "  ".join(cells)
        else:  # an error spans the measure columns
            line = "error: " + results[backend]["error"]
        lines.append(f"{backend:<{name_width}}  {line}")
    return "\n".join(lines)


def machine() -> str:
    """The OS, the CPU's model and its widest vector units, and the cores.

    Ratios between the libraries move with the CPU: on the 2-core AMD
    EPYC machines of 2026-11-26, with AVX-512, TensorFlow trained S2S-M
    faster than the reference; on those of 2026-11-27, with AVX2 only
    (family 25, model 1), slower. So every result names its CPU.
    """
    cpu = {}
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                key, _, value = line.partition(":")
                cpu.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = cpu.get("flags", "").split()
    vectors = [
        f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags
    ]
    model = cpu.get("model name", platform.processor() or "unknown CPU")
    if "cpu family" in cpu:
        model += f" (family {cpu['cpu family']}, model {cpu.get('model', '?')})"
    return (
        f"{platform.platform()}, {model}, {' '.join(vectors) or 'no AVX2'}, "
        f"{os.cpu_count()} CPUs"
    )


def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def comma_list(allowed):
    def parse(text):
        names = [name for name in text.split(",") if name]
        unknown = sorted(set(names) - set(allowed))
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"expected names among {','.join(allowed)}. Received: {text!r}"
            )
        return names

    return parse


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="S2S-M benchmark: Keras backends against the plain "
        "PyTorch reference (see bench/README.md)."
    )
    parser.add_argument(
        "--backends",
        type=comma_list(BACKENDS),
        default=list(BACKENDS),
        help="comma-separated, among %(default)s",
    )
    parser.add_argument(
        "--measures",
        type=comma_list(MEASURES),
        default=list(MEASURES),
        help="comma-separated, among %(default)s",
    )
    parser.add_argument(
        "--dtype-policy",
        choices=DTYPE_POLICIES,
        default="float32",
        help="float32 (S2S-M) or mixed_bfloat16: both sides compute in "
        "bfloat16 with float32 weights (default: %(default)s)",
    )
    parser.add_argument(
        "--train-xla",
        action="store_true",
        help="compile the Keras training step with XLA on TensorFlow too "
        "(Keras' default, jit_compile='auto', does on JAX only)",
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="cpu (S2S-M; GPUs hidden) or cuda: every side on the first "
        "GPU (default: %(default)s)",
    )
    parser.add_argument(
        "--tf32",
        action="store_true",
        help="with --device cuda: float32 matrix products in TensorFloat-32 "
        "on every side (JAX's default on a GPU) instead of float32",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results")
    parser.add_argument(
        "--quick", action="store_true", help="few steps: a smoke test"
    )
    # The parent runs this file again in a subprocess per backend.
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        run_worker(
            args.worker,
            args.measures,
            args.quick,
            args.dtype_policy,
            args.device,
            args.result_file,
        )
        return 0
    if args.tf32 and args.device != "cuda":
        print("s2s_m.py: error: --tf32 needs --device cuda", file=sys.stderr)
        return 2
    if args.train_xla:
        os.environ[TRAIN_XLA_VARIABLE] = "1"  # read by keras_side
    os.environ[MATMUL_VARIABLE] = "tf32" if args.tf32 else "float32"
    results, infos = {}, {}
    for backend in args.backends:
        start, load_before = time.perf_counter(), os.getloadavg()[0]
        run = run_backend(
            backend, args.measures, args.quick, args.dtype_policy, args.device
        )
        elapsed = time.perf_counter() - start
        print(f"[s2s_m] {backend}: {elapsed:.0f} s", file=sys.stderr)
        if "error" in run:
            results[backend] = {"error": run["error"]}
        else:
            measured = run["measures"]
            results[backend] = {k: round(v, 3) for k, v in measured.items()}
        # The lock keeps benchmarks apart, not tests: note who else ran.
        load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        infos[backend] = {**run.get("info", {}), "load_1min": load}
    mode = " (--quick: a smoke test, not a measurement)" if args.quick else ""
    on = (
        "CPU"
        if args.device == "cpu"
        else "GPU" + (", TF32" if args.tf32 else "")
    )
    print(
        f"S2S-M, batch 64, lengths 30, {args.dtype_policy}, {on}; "
        f"ratio = backend / reference{mode}"
    )
    print(format_table(results, args.measures))
    for backend, info in infos.items():
        print(f"{backend}: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    busiest = max(max(info["load_1min"]) for info in infos.values())
    if busiest > os.cpu_count() + 0.5:
        print(
            f"warning: 1-minute load average reached {busiest:.1f} on "
            f"{os.cpu_count()} CPUs: other processes shared the cores, so "
            "these figures are low and noisy; run again on a quiet machine"
        )
    if args.json:
        command = ["python", *sys.argv] if argv is None else argv
        meta = {
            "command": shlex.join(command),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "quick": args.quick,
            "dtype_policy": args.dtype_policy,
            "train_xla": args.train_xla,
            "device": args.device,
            "tf32": args.tf32,
            "calls": QUICK if args.quick else FULL,
            "machine": machine(),
            "versions": versions(),
            "backends": infos,
        }
        with open(args.json, "w") as file:
            json.dump({**results, "_meta": meta}, file, indent=1)
            file.write("\n")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
