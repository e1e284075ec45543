"""Getting answers: a local alm model (batched `Assistant.answer_batch`) or any
OpenAI-compatible chat endpoint (concurrent requests with retries).

Every answer is appended to a JSONL cache keyed by (model, condition, question, audio,
decoding), so an interrupted run resumes where it stopped and the baselines (no audio,
mismatched audio) or a second benchmark asking the same question reuse answers. Failed items
are not cached. The same cache and endpoint runner serve the LLM judge (`eval.judge`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from alm.answer_cache import AnswerCache, Reply  # noqa: F401 - re-exported: the evaluations' names
from alm.errors import AlmError
from eval.data import AudioRef

AUDIO = "audio"        # the question with its clip(s)
NO_AUDIO = "no_audio"  # the same question, no clip: what the LLM guesses from text alone
MISMATCHED = "mismatched_audio"  # the same question with another item's clip(s) (`eval.mismatch`)


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = 0


@dataclass(frozen=True)
class Query:
    condition: str             # AUDIO, NO_AUDIO or MISMATCHED
    question: str
    audio: tuple[AudioRef, ...]
    decoding: Decoding

    @property
    def clips(self) -> tuple[AudioRef, ...]:
        """The clips sent with the question (none without audio)."""
        return () if self.condition == NO_AUDIO else self.audio

    def key(self, model_id: str) -> str:
        payload = [model_id, self.condition, self.question, [a.stamp() for a in self.audio], asdict(self.decoding)]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def read_clip(ref: AudioRef) -> np.ndarray:
    """16 kHz mono float32, cut to [start, end) when the reference says so."""
    from alm.audio.io import SAMPLE_RATE, load_audio

    wave = load_audio(ref.path)
    if ref.start or ref.end is not None:
        wave = wave[int(ref.start * SAMPLE_RATE): None if ref.end is None else int(ref.end * SAMPLE_RATE)]
    return wave


# ------------------------------------------------------------------------------------------- cache
# ------------------------------------------------------------------------------------------- runners
class Runner:
    """Answers queries; `identity` names the model in results and in cache keys."""

    identity: dict[str, Any]

    @property
    def model_id(self) -> str:
        return json.dumps(self.identity, sort_keys=True)

    def settings(self) -> dict[str, Any]:
        return {}

    @property
    def transcriber(self):
        """The model's own speech transcriber (`alm.transcribe`), where it can be asked directly; else None."""
        return None

    @property
    def audio_base(self) -> str | None:
        """The Whisper the model hears with (the encoder probe's default), where known; else None."""
        return None

    def answer_many(self, queries: list[Query], done: Callable[[Query, Reply], None]) -> None:
        raise NotImplementedError


class TaggerGatedTranscriber:
    """A model's Whisper behind its tagger's speech gate too (`alm.inference.Assistant.transcribe`), with the
    transcriber's public attributes (`eval.asr.describe`) and `speech_gate`, the gating model's fingerprint, so its
    transcripts are cached apart from Whisper's alone."""

    def __init__(self, assistant, fingerprint: str) -> None:
        whisper = assistant.transcriber
        self.assistant, self.speech_gate = assistant, fingerprint
        self.audio_base, self.backend = whisper.audio_base, whisper.backend
        self.no_speech_threshold = whisper.no_speech_threshold
        self.compute_type, self.dtype = getattr(whisper, "compute_type", None), getattr(whisper, "dtype", "")

    def transcribe(self, wave: np.ndarray) -> str:
        return self.assistant.transcribe([wave])[0]

    def transcribe_batch(self, waves: list[np.ndarray]) -> list[str]:
        return self.assistant.transcribe(list(waves))


class LocalRunner(Runner):
    """An alm checkpoint through the one inference interface, `Assistant.answer_batch`."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 8, assistant=None,
                 dtype: str = "auto") -> None:
        """`dtype`: "auto" (bfloat16 where the device runs it natively, else float32: `Assistant.load`) or a torch
        dtype's name. Greedy answers can change with it (and, in bfloat16, with which questions share a batch), so
        the dtype the model ran in is part of the cache key: answers of another dtype are never reused."""
        import torch

        from alm.checkpoints import resolve_checkpoint
        from alm.hashing import folder_fingerprint
        from alm.loops import SETTINGS as LOOP_SETTINGS

        if assistant is None:
            from alm.inference import Assistant

            assistant = Assistant.load(model, device=device, dtype=None if dtype == "auto" else getattr(torch, dtype))
        self.assistant, self.batch_size, self.device = assistant, max(1, batch_size), device
        self.dtype = str(assistant.model.dtype).removeprefix("torch.")
        path = resolve_checkpoint(model)
        self.identity = {"kind": "local", "model": model, "path": str(path.resolve()),
                         "trained": bool(assistant.trained), "fingerprint": folder_fingerprint(path),
                         "dtype": self.dtype, "loop_guard": LOOP_SETTINGS}

    def settings(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "device": self.device, "dtype": self.dtype}

    @property
    def transcriber(self):
        """Whisper as the model loads it; for a model whose tagger gates transcripts too (`speech_gate`), behind
        that gate as well (`TaggerGatedTranscriber`): the transcripts the model reads."""
        whisper = self.assistant.transcriber
        if whisper is None or not (self.assistant.reads_tags and self.assistant.model.tagger.settings.speech_gate):
            return whisper
        return TaggerGatedTranscriber(self.assistant, self.identity["fingerprint"])

    @property
    def audio_base(self) -> str | None:
        return self.assistant.model.config.audio_base

    def _conversation(self, query: Query):
        from alm.conversation import Conversation, clips_then_text

        clips = [read_clip(a) for a in query.clips]
        return Conversation([{"role": "user", "content": clips_then_text(len(clips), query.question)}], clips)

    def _batch(self, queries: list[Query]) -> list[Reply]:
        from alm.inference import SamplingParams

        d = queries[0].decoding
        params = SamplingParams(max_new_tokens=d.max_new_tokens, temperature=d.temperature, top_p=d.top_p,
                                seed=d.seed)
        start = time.perf_counter()
        answers = self.assistant.answer_batch([self._conversation(q) for q in queries], params)
        each = (time.perf_counter() - start) / len(queries)
        return [Reply(a.text, a.finish_reason, a.completion_tokens, round(each, 3)) for a in answers]

    def answer_many(self, queries: list[Query], done: Callable[[Query, Reply], None]) -> None:
        # similar prompts together: less padding per batch; one decoding setting per batch
        order = sorted(queries, key=lambda q: (json.dumps(asdict(q.decoding)), q.condition, len(q.audio),
                                               len(q.question)))
        groups: list[list[Query]] = []
        for q in order:
            if groups and len(groups[-1]) < self.batch_size and groups[-1][0].decoding == q.decoding:
                groups[-1].append(q)
            else:
                groups.append([q])
        for group in groups:
            try:
                replies = self._batch(group)
            except AlmError:
                # one bad item (unreadable audio, too long) must not sink its batch: retry one by one
                replies = []
                for q in group:
                    try:
                        replies += self._batch([q])
                    except AlmError as exc:
                        replies.append(Reply(error=str(exc)))
            for q, r in zip(group, replies):
                done(q, r)


class EndpointRunner(Runner):
    """POST /chat/completions to an OpenAI-compatible server (`alm.openai_client`); audio as `input_audio` parts,
    placed as the local runner places clips (before the question)."""

    def __init__(self, url: str, model: str, api_key: str | None = None, concurrency: int = 4,
                 timeout_s: float = 120.0, retries: int = 4, backoff_s: float = 1.0) -> None:
        from alm.openai_client import ChatEndpoint

        self.endpoint = ChatEndpoint(url, api_key or "", timeout_s, retries, backoff_s)
        self.url, self.model = self.endpoint.url, model
        self.concurrency = max(1, concurrency)
        self.identity = {"kind": "endpoint", "url": self.url, "model": model}

    def settings(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "timeout_s": self.endpoint.timeout_s, "retries": self.endpoint.retries}

    def payload(self, query: Query) -> dict[str, Any]:
        from alm.audio.io import wav_base64
        from alm.conversation import clips_then_text, is_audio_part

        d = query.decoding
        if query.clips:
            clips = iter(query.clips)
            content: Any = [{"type": "input_audio", "input_audio": {"data": wav_base64(read_clip(next(clips))),
                                                                    "format": "wav"}}
                            if is_audio_part(part) else part
                            for part in clips_then_text(len(query.clips), query.question)]
        else:
            content = query.question
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": content}],
                                "max_tokens": d.max_new_tokens, "temperature": d.temperature, "top_p": d.top_p}
        if d.seed is not None:
            body["seed"] = d.seed
        return body

    def _one(self, query: Query) -> Reply:
        start = time.perf_counter()
        try:
            text, out = self.endpoint.complete(self.payload(query))
            usage = out.get("usage") or {}
            return Reply(text.strip(), out["choices"][0].get("finish_reason") or "", usage.get("completion_tokens"),
                         round(time.perf_counter() - start, 3))
        except AlmError as exc:
            return Reply(error=str(exc))

    def answer_many(self, queries: list[Query], done: Callable[[Query, Reply], None]) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._one, q): q for q in queries}
            for fut in as_completed(futures):
                done(futures[fut], fut.result())


# ------------------------------------------------------------------------------------------- driver
@dataclass
class AnswerStats:
    asked: int = 0
    cached: int = 0
    errors: list[str] = field(default_factory=list)


def answer_all(runner: Runner, queries: list[Query], cache: AnswerCache, desc: str = "answers",
               progress: bool = True) -> tuple[dict[Query, Reply], AnswerStats]:
    """Replies for every query (duplicates asked once), from the cache where possible."""
    from tqdm import tqdm

    unique = list(dict.fromkeys(queries))
    model_id = runner.model_id
    keys = {q: q.key(model_id) for q in unique}
    out: dict[Query, Reply] = {}
    for q in unique:
        hit = cache.get(keys[q])
        if hit is not None:
            out[q] = hit
    stats = AnswerStats(asked=len(unique), cached=len(out))
    todo = [q for q in unique if q not in out]
    lock = threading.Lock()
    with tqdm(total=len(unique), initial=len(out), desc=desc, unit="q", disable=not progress, leave=False,
              dynamic_ncols=True) as bar:
        def done(q: Query, reply: Reply) -> None:
            with lock:
                out[q] = reply
                if reply.error is not None:
                    stats.errors.append(reply.error)
                cache.put(keys[q], reply, {"condition": q.condition, "question": q.question})
                bar.update(1)

        if todo:
            runner.answer_many(todo, done)
    if todo and len(stats.errors) == len(todo):
        raise AlmError(f"every request failed; first error: {stats.errors[0]}")
    return out, stats
