"""`seq2seq serve` in process: the JSON contract, the bounds, batching,
failures and logs, over a scripted translator (no model, so fast)."""

import asyncio
import logging
import time
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from serve_support import MALFORMED

from keras_seq2seq import cli
from keras_seq2seq.nmt.request_batcher import RequestBatcher
from keras_seq2seq.nmt.serve import make_app
from keras_seq2seq.nmt.translator import Hypothesis


class ReversingTranslator:
    """Translates a sentence into its reverse, attending to the mirror
    character; the k-th hypothesis scores -k. Records every call."""

    max_source_length = 40
    source_tokenizer = SimpleNamespace(encode=list)
    target_tokenizer = SimpleNamespace(vocab_size=32)

    def __init__(self, fail=False, delay=0.0, limit=None):
        self.calls = []
        self.fail = fail
        self.delay = delay
        self.limit = limit  # longer translations are cut to it

    def translate(self, sentences, beam=1, n_best=1, length_penalty=0.0):
        self.calls.append((list(sentences), beam, n_best, length_penalty))
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("the model broke")
        return [
            [self._hypothesis(s, k) for k in range(n_best)] for s in sentences
        ]

    def _hypothesis(self, sentence, k):
        n = len(sentence)
        attention = [
            [float(j == n - 1 - i) for j in range(n)] for i in range(n)
        ]
        cut = self.limit is not None and n > self.limit
        kept = self.limit if cut else n
        return Hypothesis(
            sentence[::-1][:kept],
            -float(k),
            list(sentence),
            list(sentence[::-1])[:kept],
            attention[:kept],
            at_length_limit=cut,
        )


def _call(translator, requests, **limits):
    """Sends `requests` (method, path, json or bytes) concurrently."""

    async def main():
        app = make_app(translator, **limits)
        async with TestClient(TestServer(app)) as client:

            async def one(method, path, body):
                kwargs = (
                    {"data": body}
                    if isinstance(body, bytes)
                    else {"json": body}
                )
                response = await client.request(method, path, **kwargs)
                return response.status, await response.json()

            return await asyncio.gather(*(one(*r) for r in requests))

    return asyncio.run(main())


def test_translate_returns_n_best_with_tokens_scores_and_attention():
    body = {"sentences": ["abc", "hello"], "beam": 3, "n_best": 2}
    [(status, answer)] = _call(
        ReversingTranslator(), [("POST", "/translate", body)]
    )
    assert status == 200
    translations = answer["translations"]
    assert [len(hs) for hs in translations] == [2, 2]
    best = translations[1][0]
    assert set(best) == {
        "text",
        "score",
        "source_tokens",
        "target_tokens",
        "attention",
        "at_length_limit",
    }
    assert best["text"] == "olleh" and best["at_length_limit"] is False
    assert [h["score"] for h in translations[0]] == [0.0, -1.0]
    assert best["source_tokens"] == list("hello")
    assert best["target_tokens"] == list("olleh")
    # Rows are target tokens, columns source tokens.
    assert best["attention"][0] == [0, 0, 0, 0, 1]


def test_a_translation_cut_at_the_length_limit_says_so():
    body = {"sentences": ["abc", "hello"]}
    [(status, answer)] = _call(
        ReversingTranslator(limit=3), [("POST", "/translate", body)]
    )
    assert status == 200
    [[whole], [cut]] = answer["translations"]
    assert whole["text"] == "cba" and whole["at_length_limit"] is False
    assert cut["text"] == "oll" and cut["at_length_limit"] is True
    assert len(cut["attention"]) == 3


def test_beam_size_is_the_same_field_as_beam():
    translator = ReversingTranslator()
    requests = [
        ("POST", "/translate", {"sentences": ["ab"], "beam_size": 3}),
        ("POST", "/translate", {"sentences": ["ab"], "beam_size": 99}),
        (
            "POST",
            "/translate",
            {"sentences": ["ab"], "beam": 2, "beam_size": 2},
        ),
    ]
    (ok, _), (too_big, big), (both, twice) = _call(translator, requests)
    assert ok == 200 and [c[1] for c in translator.calls] == [3]
    assert too_big == 422 and "'beam_size' must be between" in big["error"]
    assert both == 400 and "not both" in twice["error"]


def test_a_beam_wider_than_the_vocabulary_is_told_by_the_field_given():
    # {"beam_size": 40} over 32 target pieces answered "beam 40 is wider
    # ...": the translator's word, not the request's.
    translator = ReversingTranslator()
    width = translator.target_tokenizer.vocab_size
    requests = [
        ("POST", "/translate", {"sentences": ["ab"], name: width + 1})
        for name in ("beam", "beam_size")
    ] + [("POST", "/translate", {"sentences": ["ab"], "beam": width})]
    (beam, said), (size, size_said), (ok, _) = _call(
        translator, requests, max_beam=64
    )
    assert beam == size == 422
    assert said["error"].startswith(f"'beam' {width + 1} is wider than the")
    assert size_said["error"].startswith(f"'beam_size' {width + 1} is wider")
    assert f"'beam_size' of at most {width}" in size_said["error"]
    assert ok == 200 and translator.calls[0][1] == width


def test_a_whole_number_written_with_a_point_is_an_integer():
    # json.dumps({"beam": 2.0}) writes 2.0: refused as "must be an
    # integer", though JSON has one kind of number.
    translator = ReversingTranslator()
    requests = [
        (
            "POST",
            "/translate",
            {"sentences": ["ab"], "beam": 3.0, "n_best": 2.0},
        ),
        ("POST", "/translate", {"sentences": ["ab"], "beam": 2.5}),
    ]
    (ok, answer), (half, said) = _call(translator, requests)
    assert ok == 200 and len(answer["translations"][0]) == 2
    assert translator.calls[0][1:3] == (3, 2)
    assert all(type(n) is int for n in translator.calls[0][1:3])
    assert half == 400 and said["error"] == "'beam' must be an integer"


@pytest.mark.parametrize(
    "name, body, status", MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_request_gets_its_4xx_with_a_message(name, body, status):
    translator = ReversingTranslator()
    [(got, answer)] = _call(translator, [("POST", "/translate", body)])
    assert got == status
    assert isinstance(answer["error"], str) and answer["error"]
    assert "\n" not in answer["error"]
    assert translator.calls == []  # rejected before the model


def test_unknown_page_and_wrong_method_get_json_errors():
    answers = _call(
        ReversingTranslator(),
        [("GET", "/nothing", None), ("GET", "/translate", None)],
    )
    assert [status for status, _ in answers] == [404, 405]
    assert all("error" in answer for _, answer in answers)


def test_concurrent_requests_share_model_calls_and_keep_their_results():
    translator = ReversingTranslator(delay=0.05)
    words = [f"w{i:02d}" for i in range(20)]
    requests = [("POST", "/translate", {"sentences": [w]}) for w in words]
    answers = _call(translator, requests, batch_wait_ms=50)
    assert [a["translations"][0][0]["text"] for _, a in answers] == [
        w[::-1] for w in words
    ]
    # 20 requests in fewer model calls, each sentence translated once.
    assert len(translator.calls) < 10
    sent = sorted(s for sentences, *_ in translator.calls for s in sentences)
    assert sent == words


def test_requests_with_different_search_options_are_not_mixed():
    translator = ReversingTranslator()
    requests = [
        ("POST", "/translate", {"sentences": ["ab"], "beam": 1}),
        ("POST", "/translate", {"sentences": ["cd"], "beam": 3, "n_best": 3}),
    ]
    answers = _call(translator, requests, batch_wait_ms=50)
    assert [len(a["translations"][0]) for _, a in answers] == [1, 3]
    assert sorted(beam for _, beam, _, _ in translator.calls) == [1, 3]


def test_a_failing_model_gives_500_and_the_server_keeps_serving():
    translator = ReversingTranslator(fail=True)
    answers = _call(
        translator,
        [
            ("POST", "/translate", {"sentences": ["ab"]}),
            ("GET", "/health", None),
        ],
    )
    assert answers[0][0] == 500 and "error" in answers[0][1]
    assert answers[1] == (200, answers[1][1])
    assert answers[1][1]["status"] == "ok"


def test_one_log_line_per_request(caplog):
    caplog.set_level(logging.INFO, logger="keras_seq2seq.serve")
    _call(
        ReversingTranslator(),
        [
            ("POST", "/translate", {"sentences": ["ab"]}),
            ("POST", "/translate", b"{"),
            ("GET", "/health", None),
        ],
    )
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "keras_seq2seq.serve"
    ]
    assert len(lines) == 3
    assert sorted(line.split('" ')[1][:3] for line in lines) == [
        "200",
        "200",
        "400",
    ]


def test_batcher_passes_model_errors_to_every_waiting_request():
    def translate(sentences, *options):
        raise ValueError("no")

    batcher = RequestBatcher(translate, wait_ms=20)

    async def main():
        return await asyncio.gather(
            batcher.translate(["a"], 1, 1, 0.0),
            batcher.translate(["b"], 1, 1, 0.0),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(main())
    finally:
        batcher.close()
    assert all(isinstance(r, ValueError) for r in results)
    assert not batcher._thread.is_alive()


def test_serve_with_a_missing_run_says_so_in_one_line(tmp_path, capsys):
    status = cli.main(["serve", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert len(err) == 1 and err[0].startswith("seq2seq: error:")
