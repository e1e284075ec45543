"""Clip records: one audio clip and everything known about it.

Adapters turn labelled audio into `Clip`s; synthesis and mixing make more; the question
generators read only these fields. `recipe` says how the 16 kHz audio is produced (see
`build/render.py`); all random choices are made when the recipe is planned, so rendering is pure.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Event:
    """A timed sound inside a clip, in seconds from its start."""

    label: str
    onset: float
    offset: float


@dataclass
class Clip:
    id: str                      # unique, file-name safe
    dataset: str                 # source name shown in records ("tuxpaint", "esc50", "synth-speech")
    recipe: dict[str, Any]       # how to make the audio: {"op": "file", "path": ...} etc.
    labels: list[str] = field(default_factory=list)  # most specific first ("crow", "bird", "animal")
    caption: str = ""            # one English sentence describing the clip
    captions: list[str] = field(default_factory=list)  # all reference captions (Clotho has 5)
    transcript: str = ""         # words spoken, when known
    speaker: str = ""            # who speaks ("a female voice with an American accent")
    language: str = ""           # English name of the spoken language
    kind: str = "sound"          # sound | speech | music | tone
    events: list[Event] = field(default_factory=list)  # timed events (mixtures, synthesized)
    count: int | None = None     # how many times `count_label` occurs
    count_label: str = ""
    pitch_hz: float | None = None
    pitch_contour: str = ""      # "rising" | "falling" | "steady" when known
    qa: list[dict[str, str]] = field(default_factory=list)  # given question/answer pairs
    group: str = ""              # source group: clips sharing one never cross splits
    sources: list[str] = field(default_factory=list)  # ids of the source clips a derived clip uses
    split_hint: str | None = None  # split named by the dataset itself (train/validation/test)
    licence: str = ""
    origin: str = ""             # the recording source: "dataset" or "dataset:unit" (voice pack, speaker, kit)
    mix: dict[str, Any] = field(default_factory=dict)  # background mixes: foreground, background, snr_db
    # filled in by rendering
    audio: str = ""              # wav path relative to the corpus root
    duration: float = 0.0
    loudness_db: float | None = None  # RMS level in dBFS

    def __post_init__(self) -> None:
        if not self.group:
            self.group = self.id
        if self.caption and not self.captions:
            self.captions = [self.caption]
        if not self.origin:
            self.origin = self.dataset

    @property
    def label(self) -> str:
        """The most specific label ('' when none)."""
        return self.labels[0] if self.labels else ""

    def metadata(self) -> dict[str, Any]:
        """What records carry about their clip (labels, captions, transcript, timings ...)."""
        meta: dict[str, Any] = {
            "clip_id": self.id,
            "labels": list(self.labels),
            "caption": self.caption,
            "captions": list(self.captions),
            "transcript": self.transcript,
            "speaker": self.speaker,
            "language": self.language,
            "kind": self.kind,
            "duration": round(self.duration, 3),
            "loudness_db": None if self.loudness_db is None else round(self.loudness_db, 1),
            "source_ids": list(self.sources) or [self.id],
            "group": self.group,
            "class": self.label,
            "origin": self.origin,
        }
        if self.mix:
            meta["mix"] = dict(self.mix)
        if self.events:
            meta["events"] = [asdict(e) for e in self.events]
        if self.count is not None:
            meta["count"], meta["count_label"] = self.count, self.count_label
        if self.pitch_hz is not None:
            meta["pitch_hz"] = round(self.pitch_hz, 1)
        if self.pitch_contour:
            meta["pitch_contour"] = self.pitch_contour
        return meta


def safe_id(*parts: str) -> str:
    """Join parts into a lowercase, file-name-safe id."""
    text = "-".join(p for p in parts if p)
    return re.sub(r"[^a-z0-9_.-]+", "_", text.lower()).strip("_.-") or "clip"
