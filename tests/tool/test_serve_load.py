"""`seq2seq serve` under load: 1,000 requests from 50 concurrent clients to
127.0.0.1, all answered correctly within a time bound; then the listed
malformed requests against the same live server.

The generator is bench/serve_load.py's (its numbers are in
bench/RESULTS.md, "Serve load"); this test prints the latency percentiles
and asserts no error and no lost request, never a time.
"""

import asyncio
import json
import urllib.request

import pytest
from serve_support import serve_load, server, train_run

REQUESTS = 1000
CLIENTS = 50
TIMEOUT_S = 400  # the bound: requests unanswered by then count as lost


def test_thousand_requests_from_fifty_clients_all_answered(
    tmp_path_factory,
):
    run = train_run(tmp_path_factory.getbasetemp())
    sentences = serve_load.read_sentences(run, None)
    with server(run) as (url, log):
        result = asyncio.run(
            serve_load.run_load(
                url, sentences, REQUESTS, CLIENTS, timeout=TIMEOUT_S
            )
        )
        malformed = asyncio.run(serve_load.check_malformed(url))
        with urllib.request.urlopen(url + "health") as response:
            health = json.load(response)
    print(
        {
            k: result[k]
            for k in (
                "wall_s",
                "requests_per_s",
                "p50_ms",
                "p90_ms",
                "p99_ms",
                "max_ms",
            )
        }
    )
    assert result["errors"] == []
    assert result["lost"] == 0 and result["mismatched"] == 0
    assert result["ok"] == REQUESTS
    # Concurrent requests were batched: far fewer model calls than requests.
    assert health["batches"] < REQUESTS / 2
    wrong = [
        (name, want, got) for name, want, got, _ in malformed if got != want
    ]
    assert wrong == []
    assert all(message for *_, message in malformed)
    # One log line per request: the load, the malformed set, /health.
    requests = [line for line in log if '" ' in line and " ms" in line]
    assert len(requests) >= REQUESTS + len(malformed)


def test_a_server_that_cannot_start_reports_the_tools_one_line(
    tmp_path, monkeypatch
):
    # The bench starts the `seq2seq` launcher, not `keras_seq2seq.cli`:
    # what it reports is the tool's own error line, not a traceback (and
    # TensorFlow's C++ start-up log stays out of the server's log).
    monkeypatch.setenv("KERAS_BACKEND", "no-such-backend")
    with pytest.raises(RuntimeError) as failed:
        with server(tmp_path):  # a folder: the launcher goes on to Keras
            pass
    lines = str(failed.value).splitlines()
    assert lines[0] == "the server did not start:"
    assert len(lines) == 2, lines
    assert lines[1].startswith("seq2seq: error: Keras could not start its")
