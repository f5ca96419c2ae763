"""`seq2seq translate` on TensorFlow: greedy search as XLA or as a graph.

`Seq2Seq.generate` runs TensorFlow's greedy search as one XLA program when
a step's logits (rows x target vocabulary) are few, as a plain graph when
they are many (`models/generation.py`, `XLA_GREEDY_LOGITS`). This times a
trained run's `Translator` both ways in one process, in turns, on 1, 20
and 64 sentences (after each shape's compilation), and the compilation of
the 7 row counts `serve` warms up.

Usage (hold the machine-wide lock while timing; RUN is a trained run
folder, such as `make demo`'s runs/dates):

    flock /tmp/bench.lock .venv/bin/python bench/tf_greedy_xla_tool.py RUN \\
        [--rounds 7] [--json FILE]
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras_seq2seq.models.generation as generation  # noqa: E402
from keras_seq2seq.nmt.translator import Translator  # noqa: E402

SENTENCES = [
    "saturday 9 may 2018", "9/5/18", "May 9th, 2018", "tue, dec 31,  2099",
    "20240229", "THE 1ST OF JANUARY 1900", "1 feb 1999", "12.03.2004",
] * 8  # fmt: skip
POLICIES = {"xla": 2**62, "graph": 0}  # XLA_GREEDY_LOGITS for each
COUNTS = (1, 20, 64)


def warm_up_seconds(run, policy):
    """Seconds a fresh `Translator` takes to compile 1, 2, ... 64 rows."""
    generation.XLA_GREEDY_LOGITS = POLICIES[policy]
    translator = Translator.load(run)
    start = time.perf_counter()
    for rows in (1, 2, 4, 8, 16, 32, 64):
        translator.translate(SENTENCES[:1] * rows)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a trained run folder")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", metavar="FILE", help="write the results")
    args = parser.parse_args(argv)
    warm = {policy: warm_up_seconds(args.run, policy) for policy in POLICIES}
    translator = Translator.load(args.run)
    seconds = {(n, policy): [] for n in COUNTS for policy in POLICIES}
    for round_ in range(args.rounds + 1):  # round 0 compiles: not timed
        for (count, policy), times in seconds.items():
            generation.XLA_GREEDY_LOGITS = POLICIES[policy]
            start = time.perf_counter()
            translator.translate(SENTENCES[:count], beam=1, n_best=1)
            if round_:
                times.append(time.perf_counter() - start)
    results = {
        f"{n} sentences": {
            policy: statistics.median(seconds[n, policy]) for policy in POLICIES
        }
        for n in COUNTS
    }
    results["warm-up of 7 row counts"] = warm
    print("| greedy call | XLA | graph | graph / XLA |")
    print("|---|---:|---:|---:|")
    for call, times in results.items():
        unit, scale = ("s", 1) if call.startswith("warm") else ("ms", 1000)
        xla, graph = times["xla"], times["graph"]
        print(
            f"| {call} | {scale * xla:.1f} {unit} | {scale * graph:.1f} {unit}"
            f" | {graph / xla:.2f}x |"
        )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)
            file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
