r"""MMAU's answer matching, also MMAR's: an answer is right when it contains every word of the
correct choice and no word that only a wrong choice has.

Words are `\b\w+\b` runs of the lower-cased text, compared as sets. This is `string_match` of
Sakshi113/MMAU evaluation.py (74682927cf7f434cc9ed585b1f8a5e6150381e91), which ddlBoJack/MMAR
code/evaluation.py (a355584b33638e48462c817a7c001db1c54f6eb2) copies unchanged. Consequences
worth knowing: a bare letter ("B") is wrong; "A woman" needs both "a" and "woman"; naming a wrong
choice's distinctive word anywhere ("a man, not a woman") makes the answer wrong; choices with the
same word set (word orders) are not distractors of each other.

One deviation: the authors' scripts skip items without a prediction; here a missing answer
(None) counts as wrong and `no_prediction` says how many there were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from eval.data import Item
from eval.metrics.aggregate import accuracy_by


def tokenize(text: str) -> set[str]:
    return set(re.findall(r"\b\w+\b", text.lower()))


def string_match(answer: str, prediction: str, choices: Sequence[str]) -> bool:
    """The authors' rule: all of the answer's words, none of the wrong choices' own words."""
    predicted = tokenize(prediction)
    expected = tokenize(answer)
    if not predicted:
        return False
    wrong: set[str] = set()
    for choice in choices:
        words = tokenize(choice)
        if words != expected:
            wrong |= words - expected
    return expected <= predicted and predicted.isdisjoint(wrong)


def correct(items: Sequence[Item], answers: Sequence[str | None]) -> list[bool]:
    """Per item: does the answer match (items carry the multiple-choice reference of eval.public.choices)."""
    return [a is not None and string_match(it.reference["answer"], a, it.reference["choices"])
            for it, a in zip(items, answers, strict=True)]


def score(items: Sequence[Item], answers: Sequence[str | None], breakdown: Sequence[str] = ()) -> dict[str, Any]:
    """accuracy, correct, n, no_prediction, and accuracy per value of each `breakdown` field of `item.info`."""
    ok = correct(items, answers)
    n = len(ok)
    return {"accuracy": sum(ok) / n if n else float("nan"), "correct": sum(ok), "n": n,
            "no_prediction": sum(a is None for a in answers),
            "by": {f: accuracy_by([it.info.get(f) for it in items], ok) for f in breakdown}}
