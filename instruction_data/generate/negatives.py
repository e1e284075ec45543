"""Labels to ask about in existence questions: positives from the clip, negatives three ways.

Following the hallucination protocol (Kuan et al. 2024): random negatives are any absent
label; popular ones the most frequent labels of the corpus; adversarial ones the labels that
co-occur most with the clip's labels (siblings share ancestors, so they score high).
A negative is never related to the clip's labels (no ancestor or descendant of them).
"""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations

from instruction_data.clips import Clip
from instruction_data.schema import NEGATIVE_MODES
from instruction_data.taxonomy import related

# labels too vague to ask "is there X?" about
UNASKABLE = {"noise", "impact", "machine", "electronic sound", "human sound", "synthetic tone", "percussion",
             "musical instrument", "water", "weather", "vinyl", "alarm"}


class LabelSampler:
    """Label statistics of a set of clips, and positive/negative label draws for one clip."""

    def __init__(self, clips: list[Clip]) -> None:
        self.freq: Counter[str] = Counter()
        self.cooc: Counter[tuple[str, str]] = Counter()
        for clip in clips:
            labels = sorted(set(clip.labels))
            self.freq.update(labels)
            self.cooc.update(combinations(labels, 2))
        self.vocab = sorted(label for label in self.freq if label not in UNASKABLE)

    def positive(self, clip: Clip, rng: random.Random) -> str | None:
        """The clip's primary label most of the time, else one of its broader labels."""
        askable = [label for label in clip.labels if label not in UNASKABLE]
        if not askable:
            return None
        return askable[0] if rng.random() < 0.6 or len(askable) == 1 else rng.choice(askable[1:])

    def negative(self, clip: Clip, mode: str, rng: random.Random) -> str | None:
        """An absent label drawn by `mode` (random | popular | adversarial); None when none is left."""
        if mode not in NEGATIVE_MODES:
            raise ValueError(f"unknown negative mode {mode!r}")
        banned = related(clip.labels)
        candidates = [label for label in self.vocab if label not in banned]
        if not candidates:
            return None
        if mode == "random":
            return rng.choice(candidates)
        if mode == "popular":
            top = sorted(candidates, key=lambda x: (-self.freq[x], x))[:5]
            return rng.choice(top)
        score = {c: sum(self.cooc[tuple(sorted((c, label)))] for label in clip.labels) for c in candidates}
        top = sorted(candidates, key=lambda x: (-score[x], -self.freq[x], x))[:3]
        return rng.choice(top)
