"""Whisper transcripts of training clips, computed once and reused across epochs, stages and runs.

A speech-aware model (`speech_transcripts: true`, LTU-AS) reads the Whisper transcript of each clip
beside its audio tokens, so it must train on the same transcripts it will see when answering:
the decoder's own output, hallucinations on music and noise included, not the corpus's reference
text. Transcripts are keyed by the sha256 of the clip's 16 kHz float32 samples and live under a
folder named for the transcriber's identity, in JSON shards written atomically (temp file + rename)
every few hundred clips, so an interrupted precompute resumes where it stopped and several
processes can fill one cache side by side.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from alm.audio.io import load_audio
from alm.files import atomic_write_text
from alm.hashing import waveform_digest

SHARD_CLIPS = 256  # a shard is written once this many transcripts are pending
DECODE_BATCH = 8  # clips per Whisper generate call


def default_transcript_root() -> Path:
    from alm.weights.cache import alm_home

    return alm_home() / "transcript-cache"


def clip_key(wave: np.ndarray) -> str:
    return waveform_digest(wave)


class TranscriptCache:
    """Transcript text per clip key, in `<root>/<transcriber_id>/shard-*.json`."""

    def __init__(self, root: str | Path, transcriber_id: str):
        self.dir = Path(root).expanduser() / transcriber_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path_keys: dict[str, str] = {}  # audio path -> clip key, for paths this process has read
        self.reload()

    def reload(self) -> None:
        """Re-read every shard (after other processes wrote some)."""
        self._texts: dict[str, str] = {}
        for shard in sorted(self.dir.glob("shard-*.json")):
            self._texts.update(json.loads(shard.read_text(encoding="utf-8")))

    def __len__(self) -> int:
        return len(self._texts)

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def get(self, key: str) -> str | None:
        return self._texts.get(key)

    def write_shard(self, entries: dict[str, str]) -> None:
        if not entries:
            return
        name = f"shard-{uuid.uuid4().hex[:12]}.json"
        atomic_write_text(self.dir / name, json.dumps(entries, ensure_ascii=False))
        self._texts.update(entries)


def precompute_transcripts(cache: TranscriptCache, load_transcriber: Callable[[], object], paths: list[str],
                           rank: int = 0, num_processes: int = 1, progress: bool = True) -> tuple[int, int]:
    """Transcribe every clip of `paths[rank::num_processes]` not yet cached; returns (hits, misses).

    `load_transcriber()` gives an `alm.transcribe.Transcriber`; it is called only if a clip is missing.
    """
    hits = misses = 0
    queue: list[tuple[str, np.ndarray]] = []
    queued: set[str] = set()
    pending: dict[str, str] = {}
    transcriber = None

    def decode() -> None:
        nonlocal transcriber
        transcriber = transcriber or load_transcriber()
        texts = transcriber.transcribe_batch([w for _, w in queue], batch_size=DECODE_BATCH)
        pending.update({key: text for (key, _), text in zip(queue, texts)})
        queue.clear()
        queued.clear()

    mine = sorted(set(paths))[rank::num_processes]
    bar = tqdm(mine, desc="transcripts", unit="clip", disable=not progress, dynamic_ncols=True)
    for path in bar:
        wave = load_audio(path)
        key = cache.path_keys[path] = clip_key(wave)
        if key in cache or key in pending or key in queued:
            hits += 1
        else:
            misses += 1
            queue.append((key, wave))
            queued.add(key)
        if len(queue) >= DECODE_BATCH:
            decode()
        if len(pending) >= SHARD_CLIPS:
            cache.write_shard(pending)
            pending.clear()
        bar.set_postfix(hits=hits, misses=misses, refresh=False)
    if queue:
        decode()
    cache.write_shard(pending)
    bar.close()
    return hits, misses


def transcripts_by_path(cache: TranscriptCache, paths: list[str]) -> dict[str, str]:
    """Path -> cached transcript for every path (all must have been precomputed); audio is read again only
    for paths another process precomputed."""
    out = {}
    for path in sorted(set(paths)):
        key = cache.path_keys.get(path) or clip_key(load_audio(path))
        text = cache.get(key)
        if text is None:
            raise KeyError(f"{path}: no transcript in {cache.dir} (precompute_transcripts first)")
        out[path] = text
    return out
