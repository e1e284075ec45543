"""Split assignment and its checks.

In-domain splits (train/validation/test) are by source group: a clip, and everything made from
it, stays in one split. `test_ood` holds out whole sources (a package, or one unit of it: a voice
pack, a speaker, a drum kit, an espeak-ng accent), named in `BuildConfig.ood`: no clip of a
held-out source is in any other split, and only held-out clips whose class training sees from
other sources are kept (`keep_seen_classes`). A class recorded in fewer than
`BuildConfig.min_split_groups` groups outside the held-out sources is trained on whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from instruction_data.clips import Clip
from instruction_data.errors import DataError

IN_DOMAIN = ("train", "validation", "test")
OOD = "test_ood"
SPLITS = (*IN_DOMAIN, OOD)
FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def split_of_group(group: str, seed: int) -> str:
    """Deterministic split of a group (a hash of seed and group, cut at 80/10/10)."""
    h = int.from_bytes(hashlib.sha256(f"{seed}:{group}".encode()).digest()[:8], "big") / 2**64
    return "train" if h < FRACTIONS["train"] else "validation" if h < 1 - FRACTIONS["test"] else "test"


def held_out(clip: Clip, ood: Iterable[str]) -> bool:
    """True when the clip's dataset or origin (or, for a mix, any part's origin) is held out."""
    names = set(ood)
    return clip.dataset in names or any(o in names for o in clip.origin.split("+"))


def rare_classes(clips: list[Clip], ood: tuple[str, ...], min_groups: int) -> set[str]:
    """Most specific labels with fewer than `min_groups` groups outside the held-out sources."""
    groups: dict[str, set[str]] = {}
    for c in clips:
        if c.label and not held_out(c, ood):
            groups.setdefault(c.label, set()).add(c.group)
    return {label for label, g in groups.items() if len(g) < min_groups}


def assign(clips: Iterable[Clip], seed: int, ood: Iterable[str] = (), min_groups: int = 0) -> dict[str, list[Clip]]:
    """Split source clips: held-out sources -> test_ood; the rest by the dataset's own split when it
    names one, else by group hash. All clips of a group land in one split (a group's first clip
    with a hint decides); a held-out clip in a group that also has other sources' clips is dropped
    (it would share a sentence or an event with training). A group whose class has fewer than
    `min_groups` groups outside the held-out sources goes to train unless its dataset names a split:
    one dog recording drawn into validation would leave training without a dog."""
    ood = tuple(ood)
    clips = list(clips)
    rare = rare_classes(clips, ood, min_groups)
    mixed = {c.group for c in clips if not held_out(c, ood)}
    decided: dict[str, str] = {}
    out: dict[str, list[Clip]] = {s: [] for s in SPLITS}
    for clip in clips:
        if clip.split_hint is not None and clip.split_hint not in IN_DOMAIN:
            raise DataError(f"{clip.id}: unknown split {clip.split_hint!r}; use one of {', '.join(IN_DOMAIN)}")
        if held_out(clip, ood):
            if clip.group not in mixed:
                out[OOD].append(clip)
            continue
        default = "train" if clip.label in rare else split_of_group(clip.group, seed)
        split = decided.setdefault(clip.group, clip.split_hint or default)
        out[split].append(clip)
    return out


def keep_seen_classes(ood_clips: list[Clip], train: list[Clip]) -> tuple[list[Clip], list[Clip]]:
    """(kept, dropped): held-out clips whose most specific label is one of training's labels."""
    seen = {label for c in train for label in c.labels}
    kept = [c for c in ood_clips if c.label and c.label in seen]
    return kept, [c for c in ood_clips if not (c.label and c.label in seen)]


def source_ids(clip: Clip) -> set[str]:
    """The original clips a clip is made of (itself when it is one)."""
    return set(clip.sources) or {clip.id}


def check_disjoint(by_split: dict[str, list[Clip]], ood: Iterable[str] = ()) -> None:
    """DataError if any source clip or group appears in two splits, or a held-out source outside test_ood."""
    owner: dict[str, str] = {}
    ood = tuple(ood)
    for split, clips in by_split.items():
        for clip in clips:
            for key in source_ids(clip) | set(clip.group.split("+")):
                if owner.setdefault(key, split) != split:
                    raise DataError(f"split leak: {key} is in both {owner[key]} and {split} (clip {clip.id})")
            if ood and split != OOD and held_out(clip, ood):
                raise DataError(f"split leak: {clip.id} comes from a held-out source ({clip.origin}) but is in {split}")
