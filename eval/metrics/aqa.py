"""Clotho-AQA protocol: yes/no accuracy and single-word accuracy against the annotators.

Each question has one or more annotator answers (Clotho-AQA: three). The reference is their
majority answer; `accuracy_any` also counts an answer that matches any one annotator.
A free-text answer is read as yes/no (`text.parse_yes_no`) or as the one candidate answer of
its question group that it names (`text.match_answer`: "It is quiet." -> "quiet").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from eval.text import match_answer, normalize, parse_yes_no

YES_NO = "yes_no"
WORD = "word"


def majority(answers: list[str]) -> str:
    """The most common normalised answer (ties: alphabetical)."""
    counts = Counter(normalize(a) for a in answers)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


@dataclass
class AqaReference:
    answers: list[str]          # annotator answers (one for generated data)
    kind: str                   # yes_no | word
    candidates: list[str]       # the answers of this question's group across the benchmark

    @property
    def majority(self) -> str:
        return majority(self.answers)


def read_answer(answer: str, ref: AqaReference) -> str | None:
    """What the free-text answer says, normalised; None when it cannot be read."""
    if ref.kind == YES_NO:
        return parse_yes_no(answer)
    return match_answer(answer, ref.candidates)


def aqa_scores(refs: list[AqaReference], read: list[str | None]) -> dict[str, float]:
    """accuracy (vs majority), accuracy_any (vs any annotator), yes_no_accuracy, word_accuracy, counts."""
    def acc(pairs, any_annotator=False):
        pairs = list(pairs)
        if not pairs:
            return float("nan")
        ok = sum((p is not None and p in {normalize(a) for a in r.answers}) if any_annotator else p == r.majority
                 for r, p in pairs)
        return ok / len(pairs)

    pairs = list(zip(refs, read))
    return {
        "accuracy": acc(pairs),
        "accuracy_any": acc(pairs, any_annotator=True),
        "yes_no_accuracy": acc((r, p) for r, p in pairs if r.kind == YES_NO),
        "word_accuracy": acc((r, p) for r, p in pairs if r.kind == WORD),
        "n_yes_no": sum(r.kind == YES_NO for r in refs),
        "n_word": sum(r.kind == WORD for r in refs),
        "unreadable": (sum(p is None for p in read) / len(read)) if read else float("nan"),
    }
