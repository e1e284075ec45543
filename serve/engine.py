"""The transformers engine: `Assistant.answer_batch` / `answer_stream` behind an asyncio batcher.

Non-streaming requests go into a queue; a worker takes the first, waits up to `batch_window_ms`
for more, groups the ones with identical sampling settings (those with a seed run alone, so a
seeded answer does not depend on its neighbours) and answers each group with one
`answer_batch` call in a worker thread. While a batch runs, new requests queue up and form the
next one. Streaming requests run one at a time through `answer_stream`, bridged to async.
`max_in_flight` bounds everything queued or running; past it `admit()` raises 503.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np

from alm.conversation import Conversation
from alm.errors import AlmError
from alm.hashing import waveform_digest
from alm.inference import Answer, SamplingParams
from serve.errors import bad_request, overloaded

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


class CachingTranscriber:
    """Wraps alm's Transcriber so each distinct clip is transcribed once (multi-turn chats resend clips)."""

    def __init__(self, inner, size: int = 256):
        self.inner = inner
        self.size = size
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def transcribe(self, wave: np.ndarray) -> str:
        key = waveform_digest(wave)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        text = self.inner.transcribe(wave)
        with self._lock:
            if len(self._cache) >= self.size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = text
        return text


class TransformersEngine:
    """Batches requests into the one inference interface (`alm.inference.Assistant`)."""

    name = "transformers"

    def __init__(self, assistant, batch_window_ms: float = 8.0, max_batch: int = 8, max_in_flight: int = 32):
        self.assistant = assistant
        if getattr(assistant, "transcriber", None) is not None and not isinstance(assistant.transcriber,
                                                                                    CachingTranscriber):
            assistant.transcriber = CachingTranscriber(assistant.transcriber)
        self.batch_window_s = batch_window_ms / 1000
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.batches_run = 0  # answer_batch calls made (tests and /health read it)
        self.batch_sizes: list[int] = []
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task | None = None
        self._stream_lock: asyncio.Lock | None = None

    # ------------------------------------------------------------------ properties used by the API
    @property
    def processor(self):
        return self.assistant.processor

    @property
    def audio_token(self) -> str:
        return self.assistant.processor.audio_token

    @property
    def trained(self) -> bool:
        return bool(getattr(self.assistant, "trained", True))

    @property
    def transcribes(self) -> bool:
        return getattr(self.assistant, "transcriber", None) is not None

    def check(self, conv: Conversation) -> None:
        """Reject a conversation the model cannot take (clip count, length) before it joins a batch."""
        try:
            self.assistant.processor.check_clips(conv)
        except AlmError as exc:
            raise bad_request(str(exc), code="invalid_audio" if conv.audios else None) from None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._worker is None:
            self._queue = asyncio.Queue()
            self._stream_lock = asyncio.Lock()
            self._worker = asyncio.create_task(self._run(), name="alm-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    def admit(self) -> None:
        """Count a request in; raises 503 when too many are queued or running. Pair with release()."""
        if self.in_flight >= self.max_in_flight:
            raise overloaded()
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1

    # ------------------------------------------------------------------ non-streaming
    async def answer(self, conv: Conversation, params: SamplingParams) -> Answer:
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

    async def _answer_group(self, jobs: list[_Job]) -> None:
        self.batches_run += 1
        self.batch_sizes.append(len(jobs))
        try:
            answers = await asyncio.to_thread(self.assistant.answer_batch, [j.conv for j in jobs], jobs[0].params)
        except Exception as exc:  # noqa: BLE001 - one bad conversation must not fail its neighbours
            if len(jobs) == 1:
                if not jobs[0].future.done():
                    jobs[0].future.set_exception(exc)
                return
            logger.warning("batch of %d failed (%s); answering one by one", len(jobs), exc)
            for job in jobs:
                await self._answer_group([job])
            return
        for job, ans in zip(jobs, answers):
            if not job.future.done():
                job.future.set_result(ans)

    # ------------------------------------------------------------------ streaming
    async def stream(self, conv: Conversation, params: SamplingParams) -> AsyncIterator[str | Answer]:
        """Async pieces of the answer, then the finished `Answer` (real token counts and finish reason) as the
        last item; runs one stream at a time. Closing it stops generation."""
        await self.start()
        async with self._stream_lock:
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue = asyncio.Queue()
            stop = threading.Event()
            done = object()

            def produce() -> None:
                pieces = self.assistant.answer_stream(conv.messages, conv.audios, params, conv.transcripts)
                try:
                    for piece in pieces:
                        loop.call_soon_threadsafe(queue.put_nowait, piece)
                        if stop.is_set():
                            break
                    else:  # ran out: the stream's answer is complete
                        loop.call_soon_threadsafe(queue.put_nowait, pieces.answer)
                except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                    loop.call_soon_threadsafe(queue.put_nowait, exc)
                finally:
                    pieces.close()  # cancels generate() and joins its thread
                    loop.call_soon_threadsafe(queue.put_nowait, done)

            task = loop.run_in_executor(None, produce)
            try:
                while True:
                    item = await queue.get()
                    if item is done:
                        break
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                stop.set()
                await asyncio.shield(task)

    def stats(self) -> dict:
        return {"in_flight": self.in_flight, "batches": self.batches_run,
                "queued": self._queue.qsize() if self._queue else 0}
