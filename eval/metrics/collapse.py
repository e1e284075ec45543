"""Collapse: the share of the single most frequent answer.

A model that gives one answer to everything ("speech", "yes", the same caption) can still score
above chance on a skewed benchmark. The share of its most frequent answer, as the family reads it
(the mapped class, yes/no, the answer word, the transcript; otherwise the normalised text), shows
it at a glance; the ground truth's own share is the level a faithful model would show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from eval.metrics.aqa import majority
from eval.metrics.speech import normalize_transcript
from eval.text import normalize


def top_share(values: Sequence[Any]) -> tuple[Any, float]:
    """(the most frequent value, its share); ties go to the smallest value's text. (None, nan) when empty."""
    if not values:
        return None, float("nan")
    counts = Counter(values)
    value, n = min(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return value, n / len(values)


def read_value(row: dict[str, Any]) -> str:
    """What one answering system's per-item row says, as its family read it."""
    for key in ("label", "read"):
        if isinstance(row.get(key), str):
            return row[key]
    return normalize(row.get("answer", ""))


def distinct_answers(rows: Sequence[dict[str, Any]], value: Any) -> int:
    """How many different answers (normalised text) were read as `value`: 1 when the model says one thing, many when
    a mapping gathers varied answers onto one label (e.g. names the label set lacks, mapped to their nearest)."""
    return len({normalize(row.get("answer", "")) for row in rows if read_value(row) == value})


def truth_value(reference: dict[str, Any]) -> str | None:
    """The item's one right answer (None where it has several, e.g. reference captions)."""
    if "label" in reference:
        return str(reference["label"])
    if "answer" in reference:
        return str(reference["answer"])
    if "transcript" in reference:
        return normalize_transcript(reference["transcript"])
    if reference.get("answers"):
        return majority(reference["answers"])
    return None
