"""Where a backend's peak resident memory on S2S-M comes from, by phase.

One process, the backend of `KERAS_BACKEND`: the resident set (`VmRSS`)
and the peak so far (`ru_maxrss`) after the framework's import, after
building and compiling `Seq2Seq.from_preset("s2s-m")` as `bench/s2s_m.py`
does, and after training steps on its batch. Memory, not time: it needs no
lock, but the allocator's behaviour is part of what it shows, so glibc's
settings (`MALLOC_TRIM_THRESHOLD_`, `MALLOC_ARENA_MAX`) change the result.

    KERAS_BACKEND=tensorflow .venv/bin/python bench/rss_phases.py \\
        [--steps 41] [--json FILE]

Prints a table (phase, current MiB, peak MiB) and writes the same rows as
JSON, with the backend and the glibc variables that were set.
"""

import argparse
import json
import os
import sys

from s2s_m import current_rss_mib, make_batch, peak_rss_mib


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=41)
    parser.add_argument("--json", help="write the rows to this file")
    args = parser.parse_args(argv)
    rows = []

    def record(phase):
        rss, peak = current_rss_mib(), peak_rss_mib()
        rows.append({"phase": phase, "rss_mib": rss, "peak_mib": peak})
        print(f"{phase:24s} {rss:8,.0f} {peak:8,.0f}")

    print(f"{'phase':24s} {'RSS MiB':>8s} {'peak MiB':>8s}")
    record("start")
    import keras

    record("framework imported")
    from keras_side import build_model

    source, target_in, target_out = make_batch()
    model = build_model()
    record("model compiled")
    for step in range(1, args.steps + 1):
        model.train_on_batch((source, target_in), target_out)
        if step <= 3 or step % 10 == 0 or step == args.steps:
            record(f"after train step {step}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {
                    "backend": keras.backend.backend(),
                    "glibc": {
                        name: value
                        for name, value in os.environ.items()
                        if name.startswith("MALLOC_")
                    },
                    "rows": rows,
                },
                file,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
