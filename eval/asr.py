"""Whisper's own transcripts beside the model's answers to "what is said?".

- The speech floor (system `asr`): each speech item's clip transcribed by a Whisper (by default
  `builtin:whisper-base`, the base alm-tiny hears with), through `alm.transcribe.load_transcriber`
  (CTranslate2 where it applies, as alm runs it) with no no-speech gate, and scored exactly as the
  model's answers are. The headline's `asr_ratio` is the model's WER over Whisper's own: a
  speech-aware model that copies its transcript is at 1, one that garbles it above.
- Non-speech clips: the share of the split's clips without speech (sound, music, tones) that get a
  non-empty transcript from the evaluated model's own transcriber (`Assistant.transcriber`, with the
  no-speech gate it was loaded with, and for a model whose tagger gates transcripts too, behind that gate:
  `eval.runners.TaggerGatedTranscriber`), i.e. how often the LLM is handed words that were never said.
  When that transcriber has no gate, the same clips are also transcribed with the gate at
  `alm.transcribe.NO_SPEECH_THRESHOLD`. An endpoint, or a model that does not transcribe, has no
  transcriber to ask: the rate is reported as unavailable.

Transcripts are cached in OUT/cache/transcripts.jsonl, keyed by the transcriber (Whisper, backend,
gate) and the clip's file stamp.
"""

from __future__ import annotations

import json
import random
from typing import Any

from eval.data import AudioRef
from eval.runners import AnswerCache, Reply, read_clip

BATCH = 16         # clips per transcribe_batch call
SHOWN = 5          # non-empty transcripts of non-speech clips kept as examples


def describe(transcriber) -> dict[str, Any]:
    """What makes a transcriber's transcripts what they are (its public attributes)."""
    from alm.transcribe import decode_checks

    return {"audio_base": str(transcriber.audio_base), "backend": transcriber.backend,
            "no_speech_threshold": transcriber.no_speech_threshold,
            "decode_checks": decode_checks(transcriber.no_speech_threshold),
            "precision": str(getattr(transcriber, "compute_type", None) or getattr(transcriber, "dtype", "")),
            **({"speech_gate": gate} if (gate := getattr(transcriber, "speech_gate", None)) else {})}


def transcribe(transcriber, clips: list[tuple[AudioRef, ...]], cache: AnswerCache, desc: str,
               progress: bool = True) -> list[str]:
    """One transcript per entry (its clips' transcripts joined), from the cache or transcribed now."""
    from tqdm import tqdm

    who = json.dumps(describe(transcriber), sort_keys=True)
    refs = list(dict.fromkeys(r for entry in clips for r in entry))
    keys = {r: json.dumps([who, r.stamp()]) for r in refs}
    texts = {r: hit.text for r in refs if (hit := cache.get(keys[r])) is not None}
    todo = [r for r in refs if r not in texts]
    with tqdm(total=len(refs), initial=len(texts), desc=desc, unit="clip", disable=not progress, leave=False,
              dynamic_ncols=True) as bar:
        for start in range(0, len(todo), BATCH):
            part = todo[start: start + BATCH]
            for ref, text in zip(part, transcriber.transcribe_batch([read_clip(r) for r in part])):
                texts[ref] = text
                cache.put(keys[ref], Reply(text), {"condition": "transcript", "question": ref.path})
            bar.update(len(part))
    return [" ".join(t for r in entry if (t := texts[r].strip())) for entry in clips]


def non_speech_rate(transcripts: list[str], transcriber) -> dict[str, Any]:
    """The share of non-speech clips given a non-empty transcript, with a few of those transcripts."""
    said = [t for t in transcripts if t.strip()]
    return {"clips": len(transcripts), "transcribed": len(said),
            "rate": len(said) / len(transcripts) if transcripts else float("nan"),
            "transcriber": describe(transcriber), "examples": said[:SHOWN]}


def sample(clips: list[AudioRef], limit: int | None, seed: int) -> list[AudioRef]:
    """At most `limit` of the clips (a seeded draw, order kept)."""
    if limit is None or limit >= len(clips):
        return list(clips)
    keep = sorted(random.Random(f"{seed}:non-speech").sample(range(len(clips)), limit))
    return [clips[i] for i in keep]
