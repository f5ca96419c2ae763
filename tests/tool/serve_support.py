"""For the `seq2seq serve` tests: a small trained run, a server process,
and the listed malformed requests with the status each must get."""

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

# A tiny dates model: 200 steps reach ~90 % dev exact match in about a
# minute on 2 loaded cores; enough to translate and to attend sensibly.
TRAIN_FLAGS = [
    "--max-steps", "200", "--validate-every", "200", "--validation-size",
    "50", "--dates-train-size", "3000", "--max-minutes", "0",
    "--target-exact-match", "0",
]  # fmt: skip

# (name, body, status): every one must get its 4xx, never a 500 or a 200.
MALFORMED = [
    ("empty body", b"", 400),
    ("not JSON", b"{sentences: [", 400),
    ("not UTF-8", b'{"sentences": ["\xff\xfe"]}', 400),
    ("a list, not an object", b'["9/5/18"]', 400),
    ("no sentences", b'{"beam": 2}', 400),
    ("sentences not a list", b'{"sentences": "9/5/18"}', 400),
    ("no sentence", b'{"sentences": []}', 400),
    ("a sentence not a string", b'{"sentences": [9]}', 400),
    ("an empty sentence", b'{"sentences": ["  "]}', 400),
    ("unknown field", b'{"sentences": ["9/5/18"], "beams": 2}', 400),
    ("beam not an integer", b'{"sentences": ["a"], "beam": "2"}', 400),
    ("beam a boolean", b'{"sentences": ["a"], "beam": true}', 400),
    ("beam 0", b'{"sentences": ["a"], "beam": 0}', 422),
    ("beam too big", b'{"sentences": ["a"], "beam": 1000}', 422),
    ("n_best above beam", b'{"sentences": ["a"], "beam": 2, "n_best": 3}',
     422),
    ("negative length_penalty",
     b'{"sentences": ["a"], "length_penalty": -1}', 422),
    ("too many sentences", json.dumps({"sentences": ["a"] * 33}).encode(),
     422),
    ("a sentence too long", json.dumps({"sentences": ["9" * 1001]}).encode(),
     422),
    ("more tokens than the model reads",
     json.dumps({"sentences": ["9" * 100]}).encode(), 422),
    ("nested too deeply", b"[" * 30000 + b"]" * 30000, 400),
    ("body too large", json.dumps({"sentences": ["a" * 70000]}).encode(),
     413),
]  # fmt: skip


def train_run(base: Path) -> Path:
    """Trains the tiny dates run once under `base`; returns its folder."""
    run = base / "runs" / "dates"
    if (run / "model.keras").exists():
        return run
    done = subprocess.run(
        [sys.executable, "-m", "keras_seq2seq.cli", "train", "--runs-dir",
         str(base / "runs"), *TRAIN_FLAGS],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return run


@contextlib.contextmanager
def server(run: Path, *flags: str):
    """Runs `seq2seq serve RUN --port 0`; yields `(base_url, log_lines)`.

    `log_lines` keeps filling with the server's stderr while it runs. The
    server gets SIGTERM on exit and must stop cleanly.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_seq2seq.cli", "serve", str(run),
         "--port", "0", *flags],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    lines: list[str] = []
    url = None
    for line in process.stderr:
        lines.append(line)
        found = re.search(r"serving .* on (http://127\.0\.0\.1:\d+/)", line)
        if found:
            url = found.group(1)
            break
    if url is None:
        process.wait(timeout=60)
        process.stderr.close()
        raise AssertionError("the server did not start:\n" + "".join(lines))
    reader = threading.Thread(
        target=lambda: lines.extend(process.stderr), daemon=True
    )
    reader.start()
    try:
        yield url, lines
    finally:
        process.terminate()
        process.wait(timeout=60)
        reader.join(timeout=10)
        process.stderr.close()
    assert process.returncode == 0, "".join(lines[-20:])
