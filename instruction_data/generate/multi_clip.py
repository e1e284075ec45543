"""Questions across two clips (APT-style): compare, which contains X, what changed."""

from __future__ import annotations

import random

from instruction_data.clips import Clip
from instruction_data.generate import templates as T
from instruction_data.generate.common import fill, label_slots, make_record
from instruction_data.schema import Record
from instruction_data.synth.derive import CHANGES
from instruction_data.taxonomy import related
from instruction_data.text import capitalize, with_article

NTH = ("first", "second")


def compare(a: Clip, b: Clip, rng: random.Random) -> list[Record]:
    """Louder (>= 6 dB apart), longer (>= 1.5x) and same-kind questions."""
    out = []
    if a.loudness_db is not None and b.loudness_db is not None and abs(a.loudness_db - b.loudness_db) >= 6:
        nth = NTH[int(b.loudness_db > a.loudness_db)]
        out.append(make_record([a, b], "multi_clip_compare", fill(rng, T.CMP_LOUD_Q), f"The {nth} clip is louder.",
                               "louder", answer=nth))
    if max(a.duration, b.duration) >= 1.5 * min(a.duration, b.duration):
        nth = NTH[int(b.duration > a.duration)]
        out.append(make_record([a, b], "multi_clip_compare", fill(rng, T.CMP_LONG_Q), f"The {nth} clip is longer.",
                               "longer", answer=nth))
    if a.label and b.label:
        same = a.label == b.label
        answer = (f"Yes, both are {with_article(a.label)}." if same else
                  f"No: the first is {with_article(a.label)} and the second is {with_article(b.label)}.")
        out.append(make_record([a, b], "multi_clip_compare", fill(rng, T.CMP_SAME_Q), answer, "same",
                               answer="yes" if same else "no"))
    return out


def which(a: Clip, b: Clip, rng: random.Random) -> list[Record]:
    """Ask about a label present in exactly one of the clips (and unrelated to the other's)."""
    for first, second, nth in ((a, b, "first"), (b, a, "second")):
        if first.label and first.label not in related(second.labels):
            slots = label_slots(first.label)
            answer = fill(rng, T.WHICH_A, nth=nth, a_label=capitalize(with_article(first.label)))
            return [make_record([a, b], "multi_clip_which", fill(rng, T.WHICH_Q, **slots), answer, "0",
                                answer=nth, asked_label=first.label)]
    return []


def change(original: Clip, edited: Clip, rng: random.Random) -> list[Record]:
    key = edited.recipe.get("change")
    if key is None:
        return []
    return [make_record([original, edited], "multi_clip_change", fill(rng, T.CHANGE_Q),
                        capitalize(CHANGES[key]) + ".", "0", answer=key)]


def multi_clip_records(clips: list[Clip], changed: list[Clip], n_pairs: int, rng: random.Random) -> list[Record]:
    """Records over `n_pairs` random pairs of `clips` (half of them same-label when possible),
    plus one change question per edited clip in `changed`."""
    pool = [c for c in clips if c.labels]
    out: list[Record] = []
    by_label: dict[str, list[Clip]] = {}
    for clip in pool:
        by_label.setdefault(clip.label, []).append(clip)
    same_labels = sorted(k for k, v in by_label.items() if len(v) > 1)
    for i in range(n_pairs if len(pool) > 1 else 0):
        if same_labels and i % 2:
            a, b = rng.sample(by_label[rng.choice(same_labels)], 2)
        else:
            a, b = rng.sample(pool, 2)
        options = compare(a, b, rng)
        out += ([rng.choice(options)] if options else []) + which(a, b, rng)
    index = {c.id: c for c in clips}
    for edited in changed:
        if edited.sources and edited.sources[0] in index:
            out += change(index[edited.sources[0]], edited, rng)
    return out
