"""Load on `seq2seq serve`: many concurrent clients on 127.0.0.1.

    .venv/bin/python bench/serve_load.py runs/dates --json bench/serve.json
    .venv/bin/python bench/serve_load.py --url http://127.0.0.1:8000/

With a run folder it starts `seq2seq serve RUN --port 0` itself (and stops
it); with `--url` it loads a server that is already running. Each request
posts one sentence (from the run's `data/test.tsv`, or `--sentences FILE`)
and must come back 200 with a translation of that same sentence, in
`--rounds` rounds: the first is cold (it also pays the model's
compilations, one per batch shape: batch-size bucket times source-width
bucket), the later ones are warm. Then every request of `MALFORMED` must
get its 4xx. Prints one line per round; `--json` writes the numbers.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import numpy as np

# (name, body, status): each must get exactly its 4xx, never 200 or 500.
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
    ("beam not whole", b'{"sentences": ["a"], "beam": 2.5}', 400),
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


def _same_text(tokens, sentence):
    # Character tokens join back exactly; sentencepiece marks spaces "▁".
    joined = "".join(tokens).replace("\u2581", " ")
    return joined.split() == sentence.split()


async def run_load(url, sentences, requests=1000, clients=50, timeout=300):
    """Sends `requests` one-sentence requests from `clients` clients.

    Returns:
        dict: `ok` (200 with a translation of the sentence sent),
        `errors` (other statuses and connection failures, the first 10
        kept), `mismatched` (200 but for another sentence), `lost` (no
        answer when `timeout` seconds ran out), `wall_s`, `requests_per_s`
        and latency percentiles in ms.
    """
    latencies, errors = [], []
    counts = {"ok": 0, "mismatched": 0}
    next_index = iter(range(requests))

    async def client(session):
        for i in next_index:
            sentence = sentences[i % len(sentences)]
            start = time.perf_counter()
            try:
                async with session.post(
                    url + "translate", json={"sentences": [sentence]}
                ) as response:
                    status = response.status
                    answer = await response.json()
            except (aiohttp.ClientError, ValueError) as error:
                errors.append(f"{type(error).__name__}: {error}")
                continue
            latencies.append(1000 * (time.perf_counter() - start))
            if status != 200:
                errors.append(f"{status}: {answer}")
            elif _same_text(
                answer["translations"][0][0]["source_tokens"], sentence
            ):
                counts["ok"] += 1
            else:
                counts["mismatched"] += 1

    start = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(client(session)) for _ in range(clients)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    wall = time.perf_counter() - start
    done = counts["ok"] + counts["mismatched"] + len(errors)
    return {
        "requests": requests,
        "clients": clients,
        **counts,
        "error_count": len(errors),
        "errors": errors[:10],
        "lost": requests - done,
        "wall_s": round(wall, 2),
        "requests_per_s": round(done / wall, 1),
        **_percentiles(latencies),
    }


def _percentiles(latencies):
    if not latencies:
        return {}
    values = np.percentile(latencies, [50, 90, 99, 100])
    names = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
    pairs = zip(names, values, strict=True)
    return {name: round(float(v), 1) for name, v in pairs}


async def check_malformed(url, cases=MALFORMED):
    """Posts each malformed body; returns `(name, expected, got, error)`."""
    results = []
    async with aiohttp.ClientSession() as session:
        for name, body, expected in cases:
            async with session.post(url + "translate", data=body) as response:
                try:
                    message = (await response.json()).get("error", "")
                except (aiohttp.ContentTypeError, ValueError):
                    message = ""
                results.append((name, expected, response.status, message))
    return results


@contextlib.contextmanager
def server(run, *flags):
    """Runs `seq2seq serve RUN --port 0 FLAGS`; yields `(url, log_lines)`.

    `log_lines` keeps filling with the server's stderr while it runs (read
    on a thread, so the server never blocks on its log). The server gets
    SIGTERM on exit and must stop cleanly.

    Raises:
        RuntimeError: the server did not start, or did not exit with 0.
    """
    # The launcher, as the `seq2seq` executable runs it: it keeps
    # TensorFlow's C++ log out of stderr (unless TF_CPP_MIN_LOG_LEVEL says
    # otherwise) and reports a backend that cannot start in one line.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keras_seq2seq_cli",
            "serve",
            str(run),
            "--port",
            "0",
            *flags,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
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
        raise RuntimeError("the server did not start:\n" + "".join(lines))
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
    if process.returncode != 0:
        raise RuntimeError(
            f"the server exited with {process.returncode}:\n"
            + "".join(lines[-20:])
        )


def read_sentences(run, path):
    """Sources to send: `path` (one per line) or the run's test split."""
    source = Path(path) if path else Path(run) / "data" / "test.tsv"
    lines = source.read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[0] for line in lines if line.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?", help="run folder to serve")
    parser.add_argument("--url", help="load this running server instead")
    parser.add_argument("--sentences", help="file of sentences to send")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of --requests; the first is cold",
    )
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if not (args.run or args.url) or not (args.run or args.sentences):
        parser.error("give RUN, or --url with --sentences")
    sentences = read_sentences(args.run, args.sentences)
    running = (
        contextlib.nullcontext((args.url, [])) if args.url else server(args.run)
    )
    with running as (url, _):
        results = {"_meta": _meta(args)}
        rounds = [f"round {i + 1}" for i in range(args.rounds)]
        for name in rounds:
            results[name] = asyncio.run(
                run_load(url, sentences, args.requests, args.clients)
            )
            _print_round(name, results[name])
        checks = asyncio.run(check_malformed(url))
        results["malformed"] = [
            {"name": n, "expected": e, "status": s, "error": m}
            for n, e, s, m in checks
        ]
        wrong = [c for c in checks if c[1] != c[2]]
        print(
            f"malformed: {len(checks) - len(wrong)}/{len(checks)} got "
            f"their 4xx" + "".join(f"\n  WRONG {c}" for c in wrong)
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    failed = wrong or any(
        r.get("error_count") or r.get("lost") or r.get("mismatched")
        for k, r in results.items()
        if k in rounds
    )
    return 1 if failed else 0


def _print_round(name, r):
    print(
        f"{name}: {r['requests']} requests, {r['clients']} clients: "
        f"{r['ok']} ok, {r['error_count']} errors, {r['lost']} lost, "
        f"{r['mismatched']} mismatched; {r['wall_s']} s, "
        f"{r['requests_per_s']} req/s; latency ms p50 {r.get('p50_ms')} "
        f"p90 {r.get('p90_ms')} p99 {r.get('p99_ms')} max "
        f"{r.get('max_ms')}"
    )


def _meta(args):
    return {
        "command": " ".join(sys.argv),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": os.getloadavg(),
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
    }


if __name__ == "__main__":
    sys.exit(main())
