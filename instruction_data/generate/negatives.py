"""Labels to ask about in existence questions: positives from the clip, negatives three ways.

Following the hallucination protocol (Kuan et al. 2024): random negatives are any absent
label; popular ones the most frequent labels of the corpus; adversarial ones the labels that
co-occur most with the clip's labels (siblings share ancestors, so they score high).
A negative is never related to the clip's most specific labels (no ancestor or descendant of
them); siblings are allowed (a cat clip may be asked "is there a dog?").
"""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations

from instruction_data.clips import Clip
from instruction_data.schema import NEGATIVE_MODES
from instruction_data.taxonomy import related, specific

# labels too vague to ask "is there X?" about
UNASKABLE = {"noise", "impact", "machine", "electronic sound", "human sound", "synthetic tone", "percussion",
             "musical instrument", "water", "weather", "vinyl", "alarm"}


class LabelSampler:
    """Label statistics of a set of clips, and positive/negative label draws for one clip.

    With `balance=True` (the corpus build) the sampler remembers what it asked: among the
    candidates a mode allows it prefers the label asked "yes" most often relative to "no", so each
    label is asked both ways about equally (no label-level answer prior), and about half of the
    negatives are labels that the clip's own source also has (the source's recording conditions
    then do not give the answer away); `last_negative_source` says which ("same" | "other").
    """

    def __init__(self, clips: list[Clip], balance: bool = False, same_source_share: float = 0.5) -> None:
        self.freq: Counter[str] = Counter()
        self.cooc: Counter[tuple[str, str]] = Counter()
        self.by_source: dict[str, set[str]] = {}
        for clip in clips:
            labels = sorted(set(clip.labels))
            self.freq.update(labels)
            self.cooc.update(combinations(labels, 2))
            self.by_source.setdefault(clip.dataset, set()).update(labels)
        self.vocab = sorted(label for label in self.freq if label not in UNASKABLE)
        self.balance, self.same_source_share = balance, same_source_share
        self.asked: Counter[tuple[str, str]] = Counter()
        self.last_negative_source = ""

    def surplus(self, label: str) -> int:
        """How many more times `label` was asked with answer yes than no."""
        return self.asked[(label, "yes")] - self.asked[(label, "no")]

    def record(self, label: str, answer: str) -> None:
        self.asked[(label, answer)] += 1

    def _pick(self, options: list[str], rng: random.Random) -> str:
        if not self.balance:
            return rng.choice(options)
        best = max(self.surplus(x) for x in options)
        return rng.choice([x for x in options if self.surplus(x) == best])

    def positive(self, clip: Clip, rng: random.Random) -> str | None:
        """The clip's primary label most of the time, else one of its broader labels."""
        askable = [label for label in clip.labels if label not in UNASKABLE]
        if not askable:
            return None
        if self.balance and len(askable) > 1 and rng.random() >= 0.6:
            return min(askable[1:], key=lambda x: (self.surplus(x), x))
        return askable[0] if rng.random() < 0.6 or len(askable) == 1 else rng.choice(askable[1:])

    def negative(self, clip: Clip, mode: str, rng: random.Random) -> str | None:
        """An absent label drawn by `mode` (random | popular | adversarial); None when none is left."""
        if mode not in NEGATIVE_MODES:
            raise ValueError(f"unknown negative mode {mode!r}")
        banned = related(specific(clip.labels))  # siblings stay possible: a cat clip may be asked about a dog
        candidates = [label for label in self.vocab if label not in banned]
        if not candidates:
            return None
        own = self.by_source.get(clip.dataset, set())
        if self.balance and own:
            same = [c for c in candidates if c in own]
            other = [c for c in candidates if c not in own]
            if same and other:
                candidates = same if rng.random() < self.same_source_share else other
        if mode == "random":
            choice = self._pick(rng.sample(candidates, min(len(candidates), 8)) if self.balance else candidates, rng)
        elif mode == "popular":
            choice = self._pick(sorted(candidates, key=lambda x: (-self.freq[x], x))[:5], rng)
        else:
            score = {c: sum(self.cooc[tuple(sorted((c, label)))] for label in clip.labels) for c in candidates}
            choice = self._pick(sorted(candidates, key=lambda x: (-score[x], -self.freq[x], x))[:3], rng)
        self.last_negative_source = "same" if choice in own else "other"
        return choice
