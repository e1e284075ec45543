"""The transformers engine: `Assistant.answer_batch` / `answer_stream` behind an asyncio batcher.

Non-streaming requests go into a queue; a worker takes the first, waits up to `batch_window_ms`
for more, groups the ones with identical sampling settings (those with a seed run alone, so a
seeded answer does not depend on its neighbours) and answers each group with one
`answer_batch` call in a worker thread. While a batch runs, new requests queue up and form the
next one. Streaming requests run one at a time through `answer_stream`, bridged to async.
`max_in_flight` bounds everything queued or running; past it `admit()` raises 503 with a
`Retry-After` estimated from the recent rate. Before a request joins the queue, `check()` counts
its prompt tokens against the limits; once its clips are transcribed (speech-aware models) the
count is checked again with the transcripts. Model work runs in daemon threads, so a shutdown
never waits for a generation to finish.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from alm.conversation import Conversation
from alm.errors import AlmError
from alm.inference import Answer, SamplingParams
from alm.limits import Limits, model_context
from serve.errors import from_alm_error, overloaded, shutting_down

logger = logging.getLogger("alm.serve")
_seq = itertools.count()


def params_key(params: SamplingParams) -> tuple:
    """Requests whose params share a key may share one answer_batch call."""
    unique = next(_seq) if params.seed is not None else None
    return (params.max_new_tokens, params.temperature, params.top_p if params.temperature > 0 else 1.0,
            tuple(params.stop), unique)


@dataclass
class _Job:
    conv: Conversation
    params: SamplingParams
    future: asyncio.Future
    queued_at: float = field(default_factory=time.perf_counter)


def in_daemon_thread(fn: Callable, *args) -> asyncio.Future:
    """Run `fn(*args)` in a daemon thread; the returned future gets its result. Unlike `asyncio.to_thread`, the
    process can exit while it still runs (a generation in progress must not hold up a shutdown)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(setter, value) -> None:
        if not future.done():
            setter(value)

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            outcome = (future.set_exception, exc)
        else:
            outcome = (future.set_result, result)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            pass

    threading.Thread(target=run, daemon=True, name="alm-model").start()
    return future


class _Rate:
    """Seconds of engine time per request, averaged over recent work: what `Retry-After` is estimated from."""

    def __init__(self, weight: float = 0.2):
        self.weight = weight
        self.per_request: float | None = None

    def add(self, seconds: float, requests: int) -> None:
        sample = seconds / max(1, requests)
        self.per_request = sample if self.per_request is None else \
            (1 - self.weight) * self.per_request + self.weight * sample

    def drain_seconds(self, queued: int) -> int:
        """About how long `queued` requests take to clear (at least 1 s, at most 10 min)."""
        per = 1.0 if self.per_request is None else self.per_request
        return int(min(600, max(1, math.ceil(queued * per))))


class TransformersEngine:
    """Batches requests into the one inference interface (`alm.inference.Assistant`)."""

    name = "transformers"

    def __init__(self, assistant, batch_window_ms: float = 8.0, max_batch: int = 32, max_in_flight: int = 32,
                 limits: Limits | None = None):
        self.assistant = assistant
        self.batch_window_s = batch_window_ms / 1000
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self.limits = limits or Limits()
        self.in_flight = 0
        self.batches_run = 0  # answer_batch calls made (tests and /health read it)
        self.batch_sizes: list[int] = []
        self.rate = _Rate()
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task | None = None
        self._stream_lock: asyncio.Lock | None = None
        self._streams: set[threading.Event] = set()  # stop flags of running streams
        self._closing = False

    # ------------------------------------------------------------------ properties used by the API
    @property
    def processor(self):
        return self.assistant.processor

    @property
    def audio_token(self) -> str:
        return self.assistant.processor.audio_token

    @property
    def max_audio_seconds(self) -> float | None:
        """The model's longest clip."""
        return getattr(self.assistant.processor, "max_audio_seconds", None)

    @property
    def context(self) -> int | None:
        """The LLM's context length in tokens."""
        model = getattr(self.assistant, "model", None)
        return model_context(model.config) if model is not None else None

    @property
    def trained(self) -> bool:
        return bool(getattr(self.assistant, "trained", True))

    @property
    def transcribes(self) -> bool:
        return getattr(self.assistant, "transcriber", None) is not None

    def check(self, conv: Conversation, params: SamplingParams) -> int:
        """Reject a conversation the model cannot take (clips, prompt tokens + max_tokens over the limits or the
        context) before it joins a batch; returns its prompt tokens (without transcripts). Call off the loop."""
        try:
            self.assistant.processor.check_clips(conv)
            return self._check_tokens(conv, params)
        except AlmError as exc:
            raise from_alm_error(exc) from None

    def _check_tokens(self, conv: Conversation, params: SamplingParams) -> int:
        tokens = len(self.assistant.processor.tokenize(conv, train=False)[0])
        self.limits.check_prompt(tokens, params.max_new_tokens, self.context)
        return tokens

    def _with_transcripts(self, conv: Conversation, params: SamplingParams) -> Conversation:
        """The conversation with its Whisper transcripts (speech-aware models), its tokens checked again."""
        with_transcripts = getattr(self.assistant, "with_transcripts", None)
        if with_transcripts is None or not self.transcribes or conv.transcripts is not None:
            return conv
        conv = with_transcripts(conv)
        self._check_tokens(conv, params)
        return conv

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._worker is None:
            self._closing = False
            self._queue = asyncio.Queue()
            self._stream_lock = asyncio.Lock()
            self._worker = asyncio.create_task(self._run(), name="alm-batcher")

    async def stop(self) -> None:
        """Refuse new work, fail what is queued, and stop running streams (a batch mid-generation is abandoned
        in its daemon thread)."""
        self._closing = True
        for flag in list(self._streams):
            flag.set()
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        while self._queue is not None and not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(shutting_down())

    def admit(self) -> None:
        """Count a request in; raises 503 when too many are queued or running. Pair with release()."""
        if self._closing:
            raise shutting_down()
        if self.in_flight >= self.max_in_flight:
            raise overloaded(self.rate.drain_seconds(self.in_flight))
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1

    # ------------------------------------------------------------------ non-streaming
    async def answer(self, conv: Conversation, params: SamplingParams) -> Answer:
        """Queue the conversation and wait for its answer; cancelling the wait withdraws a queued request."""
        await self.start()
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(conv, params, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            deadline = loop.time() + self.batch_window_s
            while len(jobs) < self.max_batch:
                remaining = deadline - loop.time()
                try:
                    jobs.append(self._queue.get_nowait() if remaining <= 0 else
                                await asyncio.wait_for(self._queue.get(), remaining))
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
            groups: dict[tuple, list[_Job]] = {}
            for job in jobs:
                if not job.future.done():  # the client may have gone away while queued
                    groups.setdefault(params_key(job.params), []).append(job)
            for group in groups.values():
                for i in range(0, len(group), self.max_batch):
                    await self._answer_group(group[i : i + self.max_batch])

    def _prepare(self, jobs: list[_Job]) -> list[tuple[_Job, Conversation | BaseException]]:
        """Transcripts and the token check per job (in the model thread): a job over the limits fails alone."""
        out = []
        for job in jobs:
            try:
                out.append((job, self._with_transcripts(job.conv, job.params)))
            except AlmError as exc:
                out.append((job, from_alm_error(exc)))
        return out

    def _answer_prepared(self, jobs: list[_Job]):
        prepared = self._prepare(jobs)
        ready = [(job, conv) for job, conv in prepared if isinstance(conv, Conversation)]
        answers = self.assistant.answer_batch([c for _, c in ready], jobs[0].params) if ready else []
        failed = [(job, exc) for job, exc in prepared if not isinstance(exc, Conversation)]
        return list(zip([j for j, _ in ready], answers)), failed

    async def _answer_group(self, jobs: list[_Job]) -> None:
        self.batches_run += 1
        self.batch_sizes.append(len(jobs))
        started = time.perf_counter()
        try:
            answered, failed = await in_daemon_thread(self._answer_prepared, jobs)
        except Exception as exc:  # noqa: BLE001 - one bad conversation must not fail its neighbours
            if len(jobs) == 1:
                if not jobs[0].future.done():
                    jobs[0].future.set_exception(exc)
                return
            logger.warning("batch of %d failed (%s); answering one by one", len(jobs), exc)
            for job in jobs:
                await self._answer_group([job])
            return
        self.rate.add(time.perf_counter() - started, len(jobs))
        for job, result in [*answered, *failed]:
            if not job.future.done():
                (job.future.set_exception if isinstance(result, BaseException) else job.future.set_result)(result)

    # ------------------------------------------------------------------ streaming
    async def stream(self, conv: Conversation, params: SamplingParams) -> AsyncIterator[str | Answer]:
        """Async pieces of the answer, then the finished `Answer` (real token counts and finish reason) as the
        last item; runs one stream at a time. Closing it stops generation."""
        await self.start()
        async with self._stream_lock:
            if self._closing:
                raise shutting_down()
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue = asyncio.Queue()
            stop = threading.Event()
            done = object()

            def put(item) -> None:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:  # the loop has closed (shutdown): nobody reads any more
                    stop.set()

            def produce() -> None:
                try:
                    prepared = self._with_transcripts(conv, params)
                    pieces = self.assistant.answer_stream(prepared.messages, prepared.audios, params,
                                                          prepared.transcripts)
                except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                    put(from_alm_error(exc) if isinstance(exc, AlmError) else exc)
                    put(done)
                    return
                try:
                    for piece in pieces:
                        put(piece)
                        if stop.is_set():
                            break
                    else:  # ran out: the stream's answer is complete
                        put(pieces.answer)
                except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                    put(exc)
                finally:
                    pieces.close()  # cancels generate() and joins its thread
                    put(done)

            self._streams.add(stop)
            started = time.perf_counter()
            task = in_daemon_thread(produce)
            try:
                while True:
                    item = await queue.get()
                    if item is done:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    yield item
                self.rate.add(time.perf_counter() - started, 1)
            finally:
                stop.set()
                self._streams.discard(stop)
                if not self._closing:
                    await asyncio.shield(task)

    def stats(self) -> dict:
        return {"in_flight": self.in_flight, "batches": self.batches_run,
                "queued": self._queue.qsize() if self._queue else 0}
