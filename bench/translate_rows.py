"""`seq2seq translate` of a few sentences: batches of their own rows, or 64.

`Translator` gives a call with fewer sentences than its batch size (64)
the power of two that holds them; before, every batch had 64 rows, so one
sentence cost 64 sentences' search. This times both in one process, on
the same run and sentences, in turns, after each shape's compilation.

Usage (hold the machine-wide lock while timing; RUN is a trained run
folder, such as `make demo`'s runs/dates):

    flock /tmp/bench.lock .venv/bin/python bench/translate_rows.py RUN \\
        [--rounds 5] [--json FILE]
"""

import argparse
import json
import statistics
import sys
import time

from keras_seq2seq.nmt.translator import Translator

SENTENCES = [
    "saturday 9 may 2018", "9/5/18", "May 9th, 2018", "tue, dec 31,  2099",
    "20240229", "THE 1ST OF JANUARY 1900", "1 feb 1999", "12.03.2004",
]  # fmt: skip
CASES = [(1, 1), (1, 5), (5, 1), (5, 5)]  # (sentences, beam)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a trained run folder")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", metavar="FILE", help="write the results")
    args = parser.parse_args(argv)
    translator = Translator.load(args.run)
    own_rows = translator._rows
    policies = {"own rows": own_rows, "64 rows": lambda count: 64}
    seconds = {(case, name): [] for case in CASES for name in policies}
    for round_ in range(args.rounds + 1):  # round 0 compiles: not timed
        for case in CASES:
            count, beam = case
            for name, rows in policies.items():
                translator._rows = rows
                start = time.perf_counter()
                translator.translate(SENTENCES[:count], beam=beam, n_best=1)
                if round_:
                    seconds[case, name].append(time.perf_counter() - start)
    results = {
        f"{count} sentence{'s' * (count > 1)}, beam {beam}": {
            name: statistics.median(seconds[(count, beam), name])
            for name in policies
        }
        for count, beam in CASES
    }
    print(f"| call | {' | '.join(policies)} | 64 / own |")
    print("|---|" + "---:|" * (len(policies) + 1))
    for call, times in results.items():
        cells = " | ".join(f"{1000 * t:.1f} ms" for t in times.values())
        ratio = times["64 rows"] / times["own rows"]
        print(f"| {call} | {cells} | {ratio:.2f}x |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {"command": " ".join(sys.argv), "median_seconds": results},
                out,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
