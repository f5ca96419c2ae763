"""Batches the translation requests that arrive together, for `serve`."""

import asyncio
import dataclasses
import queue
import threading
import time
from collections.abc import Callable


@dataclasses.dataclass
class _Job:
    sentences: list[str]
    options: tuple  # (beam, n_best, length_penalty): one search per batch
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class RequestBatcher:
    """Runs `translate` in one worker thread over requests gathered together.

    The first waiting request opens a batch; requests that arrive within
    `wait_ms` join it, up to `max_sentences` sentences. Requests with the
    same search options (beam, n-best, length penalty) share one
    `translate` call, so 50 concurrent one-sentence requests cost a few
    batched model calls instead of 50. The event loop never blocks: it
    awaits a future that the worker resolves.

    Args:
        translate: callable `(sentences, beam, n_best, length_penalty) ->
            list of per-sentence results`, e.g. `Translator.translate`.
        wait_ms: float. How long a batch stays open. Defaults to `5.0`.
        max_sentences: int. Most sentences per batch. Defaults to `64`.

    Example:
        >>> batcher = RequestBatcher(lambda s, *o: [x.upper() for x in s])
        >>> asyncio.run(batcher.translate(["ab", "c"], 1, 1, 0.0))
        ['AB', 'C']
        >>> batcher.close()
    """

    def __init__(
        self,
        translate: Callable,
        wait_ms: float = 5.0,
        max_sentences: int = 64,
    ):
        if wait_ms < 0:
            raise ValueError(f"`wait_ms` must be >= 0. Received: {wait_ms}")
        if max_sentences < 1:
            raise ValueError(
                f"`max_sentences` must be >= 1. Received: {max_sentences}"
            )
        self.wait_ms = wait_ms
        self.max_sentences = max_sentences
        self.batches = 0  # translate calls made, for logs and tests
        self._translate = translate
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(
            target=self._work, name="translate", daemon=True
        )
        self._thread.start()

    async def translate(
        self,
        sentences: list[str],
        beam: int,
        n_best: int,
        length_penalty: float,
    ) -> list:
        """Queues `sentences`; returns their results once translated."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        options = (beam, n_best, length_penalty)
        self._queue.put(_Job(list(sentences), options, future, loop))
        return await future

    def close(self) -> None:
        """Stops the worker after the batches already queued."""
        self._queue.put(None)
        self._thread.join()

    def _work(self):
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, closing = self._gather(first)
            groups: dict[tuple, list[_Job]] = {}
            for job in jobs:
                groups.setdefault(job.options, []).append(job)
            for options, group in groups.items():
                self._run(group, options)
            if closing:
                return

    def _gather(self, first):
        jobs, count = [first], len(first.sentences)
        deadline = time.monotonic() + self.wait_ms / 1000
        while count < self.max_sentences:
            left = deadline - time.monotonic()
            try:
                job = (
                    self._queue.get(timeout=left)
                    if left > 0
                    else (self._queue.get_nowait())
                )
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            count += len(job.sentences)
        return jobs, False

    def _run(self, jobs, options):
        sentences = [s for job in jobs for s in job.sentences]
        try:
            results = self._translate(sentences, *options)
            self.batches += 1
        except Exception as error:  # each request gets the error, not a hang
            for job in jobs:
                _deliver(job, None, error)
            return
        start = 0
        for job in jobs:
            end = start + len(job.sentences)
            _deliver(job, results[start:end], None)
            start = end


def _deliver(job, result, error):
    try:
        job.loop.call_soon_threadsafe(_settle, job.future, result, error)
    except RuntimeError:  # the event loop has closed: nobody is waiting
        pass


def _settle(future, result, error):
    if future.done():  # the client went away and the request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
