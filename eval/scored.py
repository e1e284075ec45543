"""What scoring one benchmark returns, whichever family or authors' scorer did it: `Scored`.

Systems are the answering ones (the model; the same LLM without audio; the same LLM with another
item's clip), the reference baselines (chance, majority) that each scorer computes itself, and the
floors made without the LLM: a linear probe on the frozen audio encoder's pooled features
(classification, `eval.probe`) and Whisper's own transcript (speech, `eval.asr`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODEL, NO_AUDIO, MISMATCHED, CHANCE, MAJORITY = "model", "no_audio", "mismatched_audio", "chance", "majority"
PROBE, ASR = "probe", "asr"
ANSWERING = (MODEL, NO_AUDIO, MISMATCHED)   # systems whose answers are asked and read
FLOORS = (PROBE, ASR)                       # made without the LLM; present only where they apply
DEFAULT_WHISPER = "builtin:whisper-base"    # the floors' Whisper where the model's own is not known
SYSTEMS = (*ANSWERING, CHANCE, MAJORITY, *FLOORS)  # every column of a scores table, in order


@dataclass
class Scored:
    scores: dict[str, dict[str, Any]]                      # system -> metric -> value
    baselines: dict[str, str] = field(default_factory=dict)  # chance / majority -> what it is
    breakdown: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)  # per item, per answering system
    notes: list[str] = field(default_factory=list)         # how to read these scores (protocol specifics)


def per_item(texts: dict[str, list[str]], fields: dict[str, dict[str, list[Any]]]) -> list[dict[str, Any]]:
    """[{system: {"answer": ..., field: value ...}}] for each item."""
    n = len(next(iter(texts.values())))
    out = []
    for i in range(n):
        row = {}
        for system, answers in texts.items():
            row[system] = {"answer": answers[i], **{k: v[i] for k, v in fields.get(system, {}).items()}}
        out.append(row)
    return out
