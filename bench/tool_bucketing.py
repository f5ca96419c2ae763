"""Tool training speed with and without length bucketing (tatoeba-eng-spa).

Trains the tool's default model (S2S-M sizes, sentencepiece 8k) on batches
of 64 Tatoeba English-Spanish pairs drawn as `seq2seq train` draws them:
bucketed (similar lengths, each batch padded to its longest pair rounded
up to 8) or random. The two kinds alternate in rounds so that both see the
same machine load, after every batch shape of the rounds has been traced
once (compiling is reported apart). Prints target tokens/s (real tokens
only) and the padding share, and writes JSON. Run it once per backend
(`KERAS_BACKEND=...`): the tool compiles its step with XLA on JAX only.

    KERAS_BACKEND=jax python bench/tool_bucketing.py \\
        --json bench/results/tool_bucketing_jax.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from keras_seq2seq.nmt import config as config_lib
from keras_seq2seq.nmt import data
from keras_seq2seq.nmt.tokenizer import Tokenizer
from keras_seq2seq.nmt.train import build_model

# `../shared` beside the checkout, or the folder SEQ2SEQ_SHARED names: the
# tests' own lookup (a copy of it travels where `../shared` does not).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from shared_data import DATA  # noqa: E402

CORPUS = str(DATA / "tatoeba-eng-spa" / "train.tsv")


def _batches(encoded, bucketing, count, seed):
    chosen = data.epoch_batches(encoded, 64, bucketing, seed, 0)[:count]
    return [data.make_batch([encoded[i] for i in b]) for b in chosen]


def _time(model, batches):
    start = time.perf_counter()
    for x, y in batches:
        model.train_on_batch(x, y)
    seconds = time.perf_counter() - start
    real = sum(int((y != 0).sum()) for _, y in batches)
    padded = sum(y.size + x[0].size for x, y in batches)
    real_all = real + sum(int((x[0] != 0).sum()) for x, _ in batches)
    return real / seconds, 1 - real_all / padded


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30000)
    parser.add_argument("--steps", type=int, default=15, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    pairs = data.read_pairs([CORPUS])[: args.pairs]
    source = Tokenizer.train([s for s, _ in pairs], "sentencepiece", 8000)
    target = Tokenizer.train([t for _, t in pairs], "sentencepiece", 8000)
    encoded, _ = data.encode_pairs(pairs, source, target, 80, 80)
    config = config_lib.resolve({}, {"data": [CORPUS]})
    model = build_model(config, source.vocab_size, target.vocab_size)
    planned = {
        (bucketing, round_): _batches(
            encoded, bucketing, args.steps, seed=round_
        )
        for round_ in range(args.rounds)
        for bucketing in (True, False)
    }
    # Trace (compile) every batch shape of the timed rounds first: the
    # rounds measure steady training; the shapes' cost is reported apart.
    shapes = {}
    for batches in planned.values():
        for x, y in batches:
            shapes.setdefault((x[0].shape, y.shape), (x, y))
    start = time.perf_counter()
    for x, y in shapes.values():
        model.train_on_batch(x, y)
    trace_seconds = time.perf_counter() - start
    print(f"{len(shapes)} batch shapes traced in {trace_seconds:.0f} s")
    results = {True: [], False: []}
    for (bucketing, _), batches in planned.items():
        results[bucketing].append(_time(model, batches))
    rows = {}
    for bucketing, name in ((True, "bucketing"), (False, "random")):
        speeds = [s for s, _ in results[bucketing]]
        padding = float(np.mean([p for _, p in results[bucketing]]))
        rows[name] = {
            "tokens_per_second": float(np.median(speeds)),
            "rounds": speeds,
            "padding_share": padding,
        }
        print(
            f"{name:10s} {np.median(speeds):8.0f} target tok/s  "
            f"padding {100 * padding:4.1f}%  rounds "
            + ", ".join(f"{s:.0f}" for s in speeds)
        )
    rows["backend"] = keras.backend.backend()
    rows["batch_shapes"] = len(shapes)
    rows["trace_seconds"] = trace_seconds
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
