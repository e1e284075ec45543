"""Train/validation/test assignment by source group, and the check that splits are disjoint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from instruction_data.clips import Clip
from instruction_data.errors import DataError

SPLITS = ("train", "validation", "test")
FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def split_of_group(group: str, seed: int) -> str:
    """Deterministic split of a group (a hash of seed and group, cut at 80/10/10)."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{group}".encode()).digest()[:8], "big") / 2**64
    return "train" if h < FRACTIONS["train"] else "validation" if h < 1 - FRACTIONS["test"] else "test"


def assign(clips: Iterable[Clip], seed: int) -> dict[str, list[Clip]]:
    """Split source clips: by the dataset's own split when it names one, else by group hash.

    All clips of a group land in one split (a group's first clip with a hint decides).
    """
    decided: dict[str, str] = {}
    out: dict[str, list[Clip]] = {s: [] for s in SPLITS}
    for clip in clips:
        if clip.split_hint is not None and clip.split_hint not in SPLITS:
            raise DataError(f"{clip.id}: unknown split {clip.split_hint!r}; use one of {', '.join(SPLITS)}")
        split = decided.setdefault(clip.group, clip.split_hint or split_of_group(clip.group, seed))
        out[split].append(clip)
    return out


def source_ids(clip: Clip) -> set[str]:
    """The original clips a clip is made of (itself when it is one)."""
    return set(clip.sources) or {clip.id}


def check_disjoint(by_split: dict[str, list[Clip]]) -> None:
    """DataError if any source clip or group appears in two splits."""
    owner: dict[str, str] = {}
    for split, clips in by_split.items():
        for clip in clips:
            for key in source_ids(clip) | set(clip.group.split("+")):
                if owner.setdefault(key, split) != split:
                    raise DataError(f"split leak: {key} is in both {owner[key]} and {split} (clip {clip.id})")
