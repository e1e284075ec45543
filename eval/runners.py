"""Getting answers: a local alm model (batched `Assistant.answer_batch`) or any
OpenAI-compatible chat endpoint (concurrent requests with retries).

Every answer is appended to a JSONL cache keyed by (model, condition, question, audio,
decoding), so an interrupted run resumes where it stopped and the no-audio baseline or
a second benchmark asking the same question reuses answers. Failed items are not cached.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alm.errors import AlmError
from eval.data import AudioRef

AUDIO = "audio"        # the question with its clip(s)
NO_AUDIO = "no_audio"  # the same question, no clip: what the LLM guesses from text alone


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 64
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = 0


@dataclass(frozen=True)
class Query:
    condition: str             # AUDIO or NO_AUDIO
    question: str
    audio: tuple[AudioRef, ...]
    decoding: Decoding

    def key(self, model_id: str) -> str:
        def stamp(ref: AudioRef) -> list:
            try:
                st = os.stat(ref.path)
                return [ref.path, ref.start, ref.end, st.st_size, st.st_mtime_ns]
            except OSError:
                return [ref.path, ref.start, ref.end]

        payload = [model_id, self.condition, self.question, [stamp(a) for a in self.audio], asdict(self.decoding)]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class Reply:
    text: str = ""
    finish_reason: str = ""
    completion_tokens: int | None = None
    seconds: float = 0.0
    error: str | None = None   # set when the item could not be answered (not cached)


def read_clip(ref: AudioRef) -> np.ndarray:
    """16 kHz mono float32, cut to [start, end) when the reference says so."""
    from alm.audio.io import SAMPLE_RATE, load_audio

    wave = load_audio(ref.path)
    if ref.start or ref.end is not None:
        wave = wave[int(ref.start * SAMPLE_RATE): None if ref.end is None else int(ref.end * SAMPLE_RATE)]
    return wave


# ------------------------------------------------------------------------------------------- cache
class AnswerCache:
    """key -> Reply, persisted as JSONL (one appended line per answer; a torn last line is skipped)."""

    def __init__(self, path: str | Path | None, read: bool = True) -> None:
        self.path = Path(path) if path else None
        self.replies: dict[str, Reply] = {}
        self._lock = threading.Lock()
        if read and self.path and self.path.is_file():
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        obj = json.loads(line)
                        self.replies[obj["key"]] = Reply(obj["text"], obj.get("finish_reason", ""),
                                                         obj.get("completion_tokens"), obj.get("seconds", 0.0))
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue

    def get(self, key: str) -> Reply | None:
        return self.replies.get(key)

    def put(self, key: str, reply: Reply, extra: dict[str, Any]) -> None:
        if reply.error is not None:
            return
        with self._lock:
            self.replies[key] = reply
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            row = {"key": key, **extra, **{k: v for k, v in asdict(reply).items() if k != "error"}}
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()


# ------------------------------------------------------------------------------------------- runners
class Runner:
    """Answers queries; `identity` names the model in results and in cache keys."""

    identity: dict[str, Any]

    @property
    def model_id(self) -> str:
        return json.dumps(self.identity, sort_keys=True)

    def settings(self) -> dict[str, Any]:
        return {}

    def answer_many(self, queries: list[Query], done: Callable[[Query, Reply], None]) -> None:
        raise NotImplementedError


def checkpoint_fingerprint(path: Path) -> str:
    """Names, sizes and times of a checkpoint's files: retraining into the same folder changes it,
    so cached answers of the old weights are not reused."""
    stamps = []
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            st = p.stat()
            stamps.append([str(p.relative_to(path)), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(stamps).encode()).hexdigest()[:16]


class LocalRunner(Runner):
    """An alm checkpoint through the one inference interface, `Assistant.answer_batch`."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 8, assistant=None) -> None:
        from alm.checkpoints import resolve_checkpoint

        if assistant is None:
            from alm.inference import Assistant

            assistant = Assistant.load(model, device=device)
        self.assistant, self.batch_size, self.device = assistant, max(1, batch_size), device
        path = resolve_checkpoint(model)
        self.identity = {"kind": "local", "model": model, "path": str(path.resolve()),
                         "trained": bool(assistant.trained), "fingerprint": checkpoint_fingerprint(path)}

    def settings(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "device": self.device}

    def _conversation(self, query: Query):
        from alm.processor import PLACEHOLDER, Conversation

        clips = [read_clip(a) for a in query.audio] if query.condition == AUDIO else []
        content = (PLACEHOLDER + "\n") * len(clips) + query.question
        return Conversation([{"role": "user", "content": content}], clips)

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


def wav_base64(ref: AudioRef) -> str:
    """The clip as a 16 kHz 16-bit wav, base64 (what `input_audio` content parts carry)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(read_clip(ref), -1.0, 1.0), 16_000, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode("ascii")


class EndpointRunner(Runner):
    """POST /chat/completions to an OpenAI-compatible server; audio as `input_audio` content parts."""

    RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}

    def __init__(self, url: str, model: str, api_key: str | None = None, concurrency: int = 4,
                 timeout_s: float = 120.0, retries: int = 4, backoff_s: float = 1.0) -> None:
        url = url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        if not self.url.startswith(("http://", "https://")):
            raise AlmError(f"--endpoint must be an http(s) URL, got {url!r}")
        self.model, self.api_key = model, api_key
        self.concurrency, self.timeout_s = max(1, concurrency), timeout_s
        self.retries, self.backoff_s = retries, backoff_s
        self.identity = {"kind": "endpoint", "url": self.url, "model": model}

    def settings(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "timeout_s": self.timeout_s, "retries": self.retries}

    def payload(self, query: Query) -> dict[str, Any]:
        d = query.decoding
        if query.condition == AUDIO and query.audio:
            content: Any = [{"type": "input_audio", "input_audio": {"data": wav_base64(a), "format": "wav"}}
                            for a in query.audio]
            content.append({"type": "text", "text": query.question})
        else:
            content = query.question
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": content}],
                                "max_tokens": d.max_new_tokens, "temperature": d.temperature, "top_p": d.top_p}
        if d.seed is not None:
            body["seed"] = d.seed
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.retries + 1):
            wait = self.backoff_s * (2 ** attempt)
            try:
                req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:300]
                last = f"HTTP {exc.code} from {self.url}: {detail}"
                if exc.code not in self.RETRY_STATUS:
                    raise AlmError(last) from None
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait = float(retry_after)
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as exc:
                last = f"{self.url}: {getattr(exc, 'reason', exc)}"
            if attempt < self.retries:
                time.sleep(wait)
        raise AlmError(f"gave up after {self.retries + 1} tries: {last}")

    def _one(self, query: Query) -> Reply:
        start = time.perf_counter()
        try:
            out = self._post(self.payload(query))
            choice = out["choices"][0]
            text = choice["message"].get("content") or ""
            usage = out.get("usage") or {}
            return Reply(text.strip(), choice.get("finish_reason") or "", usage.get("completion_tokens"),
                         round(time.perf_counter() - start, 3))
        except AlmError as exc:
            return Reply(error=str(exc))
        except (KeyError, IndexError, TypeError, AttributeError):
            return Reply(error=f"{self.url}: the reply is not a chat completion")

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
