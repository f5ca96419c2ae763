"""For the `seq2seq serve` tests: a small trained run, and (from
bench/serve_load.py) the server process, the load generator and the listed
malformed requests with the status each must get."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from keras_seq2seq.nmt.translator import Hypothesis

# A tiny dates model: 200 steps reach ~90 % dev exact match in about a
# minute on 2 loaded cores; enough to translate and to attend sensibly.
TRAIN_FLAGS = [
    "--max-steps", "200", "--validate-every", "200", "--validation-size",
    "50", "--dates-train-size", "3000", "--max-minutes", "0",
    "--target-exact-match", "0",
]  # fmt: skip


def _bench_module():
    # The load generator and the malformed set live in the benchmark
    # script, so the test and bench/RESULTS.md measure the same thing.
    path = Path(__file__).resolve().parents[2] / "bench" / "serve_load.py"
    spec = importlib.util.spec_from_file_location("serve_load", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serve_load = _bench_module()
MALFORMED = serve_load.MALFORMED
server = serve_load.server  # `with server(run) as (url, log_lines):`


def train_run(base: Path) -> Path:
    """Trains the tiny dates run once under `base`; returns its folder.

    The training is set-up, not the test: it runs in this process (as
    conftest's `trained_run`), which has TensorFlow loaded already; the
    server the tests start is a process of its own."""
    from keras_seq2seq.cli import main

    run = base / "runs" / "dates"
    if (run / "model.keras").exists():
        return run
    argv = ["train", "--runs-dir", str(base / "runs"), *TRAIN_FLAGS]
    assert main(argv) == 0
    return run


class EchoTranslator:
    """A translator for serve's app that answers each sentence with
    itself, `n_best` times: the server's handling without a model."""

    max_source_length = 40
    source_tokenizer = SimpleNamespace(encode=list)
    target_tokenizer = SimpleNamespace(vocab_size=32)

    def translate(self, sentences, beam=1, n_best=1, length_penalty=0.0):
        return [
            [Hypothesis(s, 0.0, list(s), list(s), [])] * n_best
            for s in sentences
        ]
