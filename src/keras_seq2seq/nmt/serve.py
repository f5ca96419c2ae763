"""`seq2seq serve`: a local web page and a JSON endpoint over a run.

    POST /translate  {"sentences": [...], "beam": K, "n_best": N}
                     ("beam_size": K is the same as "beam": K)
        -> {"translations": [[{"text", "score", "source_tokens",
                               "target_tokens", "attention"}, ...], ...]}
    GET  /health     -> {"status": "ok", ...}
    GET  /           the page: a text box, the n-best translations with
                     their scores, and the attention heat map

Built on aiohttp (asyncio). Concurrent requests are batched by a
`RequestBatcher` (one worker thread runs the model), so the event loop
keeps accepting requests while the model works. Every bad request gets a
4xx with a one-line JSON message (`{"error": "..."}`): 400 for malformed
JSON or wrong types, 413 for a body over the size limit, 422 for values
out of bounds (too many sentences, a sentence too long, a beam too big
for the limit or the target vocabulary); 503 for a request that runs
the model out of memory. Requests aiohttp refuses before the app sees
them (a malformed header, a Content-Encoding it does not decode) get a
JSON 400 too when served by `make_runner` (as `serve` does).
One log line per request goes to stderr.
"""

import asyncio
import contextvars
import dataclasses
import importlib.resources
import logging
import re
import signal
import sys
import time

import keras
from aiohttp import http_exceptions, web
from aiohttp.web_protocol import RequestHandler

from keras_seq2seq.nmt.listen_address import address_error, check_address
from keras_seq2seq.nmt.request_batcher import RequestBatcher
from keras_seq2seq.nmt.run_error import RunError, is_out_of_memory
from keras_seq2seq.nmt.serve_request import Limits, RequestError, parse_request

LOG = logging.getLogger("keras_seq2seq.serve")
TRANSLATOR = web.AppKey("translator", object)
BATCHER = web.AppKey("batcher", RequestBatcher)
LIMITS = web.AppKey("limits", object)
# What the log line adds about a request (sentence count, the error).
NOTE = contextvars.ContextVar("note", default="")


def make_app(translator, **limits) -> web.Application:
    """The aiohttp application serving `translator`.

    Args:
        translator: a `nmt.translator.Translator` (or any object with its
            `translate`, `source_tokenizer` and `max_source_length`).
        **limits: `max_body_bytes` (65536), `max_sentences` (32),
            `max_chars` (1000), `max_beam` (16), `batch_wait_ms` (5.0),
            `max_batch` (64).

    Returns:
        a `web.Application`; its batcher stops when the app cleans up.
    """
    bounds = Limits(**limits)
    # aiohttp refuses bodies past client_max_size with a 413 itself.
    app = web.Application(
        client_max_size=bounds.max_body_bytes, middlewares=[_guard]
    )
    app[TRANSLATOR] = translator
    app[LIMITS] = bounds
    # The translator pads every batch to the same rows and a few widths,
    # so batches of any size reuse a few compiled searches.
    app[BATCHER] = RequestBatcher(
        translator.translate, bounds.batch_wait_ms, bounds.max_batch
    )
    app.router.add_get("/", _page)
    app.router.add_get("/health", _health)
    app.router.add_post("/translate", _translate)

    async def stop_batcher(app):
        await asyncio.to_thread(app[BATCHER].close)

    app.on_cleanup.append(stop_batcher)
    return app


def serve(
    run_dir,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_file: str = "model.keras",
    **limits,
):
    """Loads a run and serves it until interrupted (Ctrl-C or SIGTERM).

    Args:
        run_dir: path of a run folder.
        host: str. Address to bind; `0.0.0.0` exposes the model to the
            network. Defaults to `"127.0.0.1"`.
        port: int. `0` picks a free port. Defaults to `8000`.
        model_file: str. Model file inside the run. Defaults to
            `"model.keras"`.
        **limits: see `make_app`.

    Raises:
        RunError: a bad run folder, port or limit, or an address that
            cannot be bound.
    """
    from keras_seq2seq.nmt.translator import Translator

    _check_options(port, limits)  # before the model takes seconds to load
    check_address(host, port)
    _log_to_stderr()
    translator = Translator.load(run_dir, model_file)
    _warm_up(translator, limits.get("max_batch", Limits.max_batch))
    app = make_app(translator, **limits)
    asyncio.run(_run_until_stopped(app, host, port, run_dir))


def _warm_up(translator, max_batch: int) -> None:
    """Compiles greedy search on short sentences for each batch a request
    may give it: the translator pads a batch's rows to a power of two (1,
    2, 4, ... up to `max_batch`), each a shape of its own. Beam search
    and longer sentences compile at their first request."""
    rows = 1
    while True:
        translator.translate(["0"] * rows)
        if rows >= min(max_batch, translator.batch_size):
            return
        rows *= 2


def _check_options(port: int, limits: dict) -> None:
    if not 0 <= port <= 65535:
        raise RunError(
            f"--port must be in 0..65535 (0: a free port); got {port}"
        )
    for key, value in limits.items():
        if key.startswith("max_") and value < 1:  # the --max-* flags
            flag = "--" + key.replace("_", "-")
            raise RunError(f"{flag} must be >= 1; got {value}")


async def _run_until_stopped(app, host, port, run_dir):
    runner = make_runner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as error:  # taken since _check_address
            raise address_error(host, port, error) from None
        bound = runner.addresses[0][1]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Before the line: a supervisor may stop the server once it reads it.
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        # Tests and scripts read the port from this line. An IPv6 address
        # is in brackets in a URL (RFC 3986): http://[::1]:8000/.
        shown = f"[{host}]" if ":" in host else host
        print(
            f"serving {run_dir} on http://{shown}:{bound}/ "
            f"(backend {keras.backend.backend()}; Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
    finally:
        await runner.cleanup()


def make_runner(app) -> web.AppRunner:
    """The runner `serve` starts `app` with: besides the app's own errors,
    the requests aiohttp refuses before the app sees them (a malformed
    header, a Content-Encoding it does not decode) are answered in JSON,
    `{"error": "..."}`, and logged in one line."""
    return _JsonErrorRunner(app, access_log=None)


class _JsonErrorRunner(web.AppRunner):
    async def _make_server(self):
        server = await super()._make_server()
        # aiohttp makes its web.Server itself; the subclass only changes
        # the connection handler it builds.
        server.__class__ = _JsonErrorServer
        return server


class _JsonErrorServer(web.Server):
    def __call__(self):
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class _JsonErrorHandler(RequestHandler):
    """aiohttp's connection handler; its answers to requests it cannot
    parse, and to errors escaping the app, are JSON (they were
    text/plain)."""

    def handle_error(self, request, status=500, exc=None, message=None):
        if status >= 500 or request.writer.output_size > 0:
            # A bug or a broken connection: aiohttp logs it with its
            # traceback (and raises if the answer has begun).
            super().handle_error(request, status, exc, message)
            text = (
                "the request timed out"
                if status == 504
                else "internal error; see the server log"
            )
        else:
            text = _refusal(exc, message)
            LOG.info("%s malformed request %d %s", request.remote, status, text)
        response = _json_error(status, text)
        response.force_close()
        return response


def _refusal(exc, message) -> str:
    """One line saying why aiohttp refused a request."""
    if isinstance(exc, http_exceptions.ContentEncodingError):
        # aiohttp's text says to install a decoder: advice for the server's
        # owner, not for the client sending the request.
        named = re.search(r"\((\S+)\)", exc.message or "")
        encoding = named.group(1) if named else "of the request"
        return (
            f"Content-Encoding {encoding} is not one this server decodes; "
            "send the body plain or gzip-compressed"
        )
    if isinstance(exc, http_exceptions.HttpProcessingError):
        message = exc.message or message
    first = (str(message or "").strip().splitlines() or ["bad request"])[0]
    return f"malformed HTTP request: {first.rstrip(':')}"


def _log_to_stderr():
    if not LOG.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)
        LOG.propagate = False


@web.middleware
async def _guard(request, handler):
    """Turns every failure into a JSON error and logs one line."""
    start = time.perf_counter()
    NOTE.set("")
    try:
        response = await handler(request)
    except RequestError as error:
        response = _json_error(error.status, str(error))
        NOTE.set(f" {error}")
    except web.HTTPException as error:  # aiohttp's own: 404, 405, 413
        response = _json_error(error.status, _http_message(error, request))
    except Exception as error:  # a bug: answer 500, keep serving
        LOG.error("internal error: %s: %s", type(error).__name__, error)
        response = _json_error(500, "internal error; see the server log")
    took = 1000 * (time.perf_counter() - start)
    LOG.info(
        '%s "%s %s" %d %.1f ms%s',
        request.remote,
        request.method,
        request.path,
        response.status,
        took,
        NOTE.get(),
    )
    return response


def _json_error(status, message):
    return web.json_response({"error": message}, status=status)


def _http_message(error, request):
    if error.status == 413:
        limit = request.app[LIMITS].max_body_bytes
        return f"request body too large; the limit is {limit} bytes"
    if error.status == 405:
        return f"{request.method} is not allowed on {request.path}"
    if error.status == 404:
        return f"no such page: {request.path}"
    return error.reason


async def _page(request):
    page = importlib.resources.files("keras_seq2seq.nmt") / "static"
    html = (page / "index.html").read_text(encoding="utf-8")
    return web.Response(text=html, content_type="text/html")


async def _health(request):
    translator = request.app[TRANSLATOR]
    return web.json_response(
        {
            "status": "ok",
            "backend": keras.backend.backend(),
            "max_source_length": translator.max_source_length,
            "batches": request.app[BATCHER].batches,
            "limits": dataclasses.asdict(request.app[LIMITS]),
        }
    )


async def _translate(request):
    try:
        body = await request.read()
    except web.RequestPayloadError:
        # A body its Content-Encoding does not decode (`gzip` on plain
        # JSON): the client's mistake, not a bug of the server (500).
        encoding = request.headers.get("Content-Encoding", "")
        message = (
            f"the body is not {encoding} as its Content-Encoding says; send "
            "it so, or plain without that header"
        )
        NOTE.set(f" {message}")
        # The rest of the body is left unread (aiohttp's reading it after
        # the answer logged the error again, as an unhandled one), so the
        # connection closes: the next request comes on a new one.
        request.content.feed_eof()
        response = _json_error(400, message)
        response.force_close()
        return response
    app = request.app
    sentences, beam, n_best, penalty = parse_request(
        body, app[LIMITS], app[TRANSLATOR]
    )
    NOTE.set(f" {len(sentences)} sentences beam {beam}")
    try:
        found = await app[BATCHER].translate(sentences, beam, n_best, penalty)
    except RunError as error:  # options the model cannot search with
        raise RequestError(422, str(error)) from None
    except Exception as error:
        if not is_out_of_memory(error):
            raise  # a bug: 500
        raise RequestError(
            503,
            f"out of memory translating {len(sentences)} sentences with "
            f"beam {beam}; send fewer sentences or ask for a smaller beam",
        ) from None
    return web.json_response(
        {"translations": [[_hypothesis(h) for h in hs] for hs in found]}
    )


def _hypothesis(h):
    return {
        "text": h.text,
        "score": round(float(h.score), 6),
        "source_tokens": h.source_tokens,
        "target_tokens": h.target_tokens,
        "attention": [[round(float(w), 5) for w in row] for row in h.attention],
        "at_length_limit": bool(h.at_length_limit),
    }
