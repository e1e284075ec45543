"""The mismatched-audio baseline: every item asked with another item's clip(s).

The no-audio baseline shows what the question's words alone give away; the mismatched one shows
what any audio does, heard or not. A model that listens scores clearly better with its own clip
than with someone else's; one that answers from priors (or never receives the audio) scores the
same. Reports flag a headline that does not beat both (`families.headline`).

Pairing is deterministic and per item (the same for any --limit subset): the donors are the
benchmark's items before --limit, visited in an order seeded by (seed, item id), and an item takes
the first donor that has as many clips as it has, shares none of its clips and has a different
reference (`reference_key`). Where no donor qualifies the rules relax in that order: a donor with
the same reference, then clips gathered from several donors. An item with no clip of another item
to take gets None, and the baseline is then reported as unavailable rather than estimated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from eval.data import AudioRef, Item

# reference fields that say what the right answer is, in the order looked up
ANSWER_FIELDS = ("label", "answer", "transcript", "captions", "answers")


def reference_key(item: Item) -> str:
    """What a donor must differ in: the question asked (without reordered choices) and its right answer.

    A donor with the same key is an item asked the same thing with the same right answer: its clip
    would answer this item's question too (another clip of the same class, say).
    """
    ref: dict[str, Any] = item.reference
    question = ref.get("question", item.question)
    for name in ANSWER_FIELDS:
        if name in ref:
            return json.dumps([question, ref[name]], sort_keys=True, default=str)
    return json.dumps([question, ref], sort_keys=True, default=str)


def _rank(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def pair_clips(items: Sequence[Item], pool: Sequence[Item], seed: int = 0) -> dict[str, tuple[AudioRef, ...] | None]:
    """item id -> the clips to ask it with instead of its own (None when there are none to take)."""
    donors = sorted(pool or items, key=lambda it: _rank(seed, it.id))  # a seeded order, independent of the input's
    keys = [reference_key(d) for d in donors]
    by_count: dict[int, list[int]] = {}
    for j, d in enumerate(donors):
        by_count.setdefault(len(d.audio), []).append(j)
    out: dict[str, tuple[AudioRef, ...] | None] = {}
    for item in items:
        own, key, n = set(item.audio), reference_key(item), len(item.audio)
        start = int(_rank(seed, "mismatch:" + item.id)[:12], 16)
        best = fallback = None
        for j in _rotated(by_count.get(n, []), start):
            if donors[j].id == item.id or not own.isdisjoint(donors[j].audio):
                continue
            if keys[j] != key:
                best = j
                break
            fallback = j if fallback is None else fallback
        best = fallback if best is None else best
        out[item.id] = tuple(donors[best].audio) if best is not None else _gathered(donors, own, n, start)
    return out


def _rotated(indices: list[int], start: int) -> list[int]:
    if not indices:
        return []
    k = start % len(indices)
    return indices[k:] + indices[:k]


def _gathered(donors: Sequence[Item], own: set[AudioRef], n: int, start: int) -> tuple[AudioRef, ...] | None:
    """n distinct clips, none of them the item's, taken from the donors in the seeded order; None if too few."""
    if n == 0:
        return ()
    picked: list[AudioRef] = []
    for j in _rotated(list(range(len(donors))), start):
        for clip in donors[j].audio:
            if clip not in own and clip not in picked:
                picked.append(clip)
                if len(picked) == n:
                    return tuple(picked)
    return None
