"""TensorFlow: S2S-M's searches as one XLA program, or as a plain graph.

`Seq2Seq.generate` compiles each search with `tf.function`; this measures
each search both ways in one process, on the same model and batch, taking
turns, so that the machine's drift hits both alike. The library's choice
(`keras_seq2seq.models.generation.compiled_search`) follows these
numbers.

Usage (hold the machine-wide lock while timing):

    flock /tmp/bench.lock .venv/bin/python bench/tf_search_xla.py \\
        [--rounds 5] [--rows 64 [16 ...]] [--searches greedy ...] [--json FILE]
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras_side import BEAM_SIZE, build_model  # noqa: E402
from s2s_m import BATCH_SIZE, TARGET_LENGTH, make_batch  # noqa: E402

from keras_seq2seq.decoding.compile import compiled_model_function  # noqa: E402
from keras_seq2seq.models.generation import search_function  # noqa: E402
from keras_seq2seq.seeding import set_random_seed  # noqa: E402

SEARCHES = {
    "greedy": {"method": "greedy"},
    "sample": {"method": "sample", "seed": 1},
    "beam5": {"method": "beam", "beam_size": BEAM_SIZE, "length_penalty": 0.0},
}


def searches(model):
    """`{(search, xla): callable(source) -> ids}` for every pair."""
    model.build()
    functions = {}
    for name, options in SEARCHES.items():
        options = dict(options, max_length=TARGET_LENGTH, stop_early=False)
        method = options.pop("method")
        search = search_function(model, method, options)
        for xla in (True, False):
            run = compiled_model_function(search, model, xla=xla)
            functions[name, xla] = lambda s, run=run: run(s)["ids"].numpy()
    return functions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[BATCH_SIZE],
        help="source rows per call (the batch's first rows)",
    )  # fmt: skip
    parser.add_argument(
        "--searches", nargs="+", choices=list(SEARCHES), default=list(SEARCHES)
    )
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    set_random_seed(0)
    batch = make_batch()[0]
    sources = {r: keras.ops.convert_to_tensor(batch[:r]) for r in args.rows}
    model = build_model()
    functions = {
        key: fn
        for key, fn in searches(model).items()
        if key[0] in args.searches
    }
    seconds = {(key, r): [] for key in functions for r in args.rows}
    for (key, rows), _ in seconds.items():  # trace, compile, warm up
        functions[key](sources[rows])
        functions[key](sources[rows])
    for _ in range(args.rounds):
        for (key, rows), times in seconds.items():
            start = time.perf_counter()
            functions[key](sources[rows])
            times.append(time.perf_counter() - start)
    print("S2S-M on TensorFlow, sent/s (median of rounds taken in turn)")
    print(f"{'search':<8}{'rows':>5}{'XLA':>8}{'graph':>8}  graph / XLA")
    results = {}
    for name in args.searches:
        for rows in args.rows:
            xla, graph = (
                rows / statistics.median(seconds[(name, x), rows])
                for x in (True, False)
            )
            results[f"{name}/{rows}"] = {
                "xla_sent_s": xla,
                "graph_sent_s": graph,
            }
            print(
                f"{name:<8}{rows:5d}{xla:8.1f}{graph:8.1f}  {graph / xla:.2f}x"
            )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)
            file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
