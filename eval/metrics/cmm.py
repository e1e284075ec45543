"""CMM's scores for yes/no existence probes: perception accuracy (PA, right on probes whose answer
is yes), hallucination resistance (HR, right on probes whose answer is no) and accuracy.

As DAMO-NLP-SG/CMM evaluation/calculate_score.py (6a59258fc24ce3ec4b13a3a8371ed427aebb3b2c, file
last changed in 5e7dea5ad3b1b93138ace3d9610106f92041a888) reads answers: reference and answer are
stripped and lower-cased; the answer is right when the reference word occurs in its first five
characters; PA counts "yes" in the first five characters, HR counts "no" there (so "Not at all"
and "None" read as no, "I don't know" as neither). Reported overall, per sub_category and per
granularity x sub_category, as the script prints. Deviation: a group without yes (or no) probes
gets NaN where the script prints 0. Ours, beside theirs: `yes_ratio`, the share of answers with
"yes" in their first five characters (a model that hallucinates says yes too often).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval.data import Item


def _pairs(items: Sequence[Item], answers: Sequence[str | None]) -> list[tuple[str, str]]:
    """(reference, answer), each stripped and lower-cased as the authors' script does."""
    return [(str(it.reference["answer"]).strip().lower(), (a or "").strip().lower())
            for it, a in zip(items, answers, strict=True)]


def correct(items: Sequence[Item], answers: Sequence[str | None]) -> list[bool]:
    """Per item: does the reference word occur in the answer's first five characters."""
    return [ref in pred[:5] for ref, pred in _pairs(items, answers)]


def _counts(pairs: list[tuple[str, str]]) -> dict[str, float]:
    correct = sum(ref in pred[:5] for ref, pred in pairs)
    yes = [pred for ref, pred in pairs if "yes" in ref[:5]]
    no = [pred for ref, pred in pairs if "yes" not in ref[:5] and "no" in ref[:5]]
    nan = float("nan")
    return {"accuracy": correct / len(pairs) if pairs else nan,
            "perception_accuracy": sum("yes" in p[:5] for p in yes) / len(yes) if yes else nan,
            "hallucination_resistance": sum("no" in p[:5] for p in no) / len(no) if no else nan,
            "yes_ratio": sum("yes" in pred[:5] for _, pred in pairs) / len(pairs) if pairs else nan,
            "n": len(pairs), "n_yes": len(yes), "n_no": len(no)}


def score(items: Sequence[Item], answers: Sequence[str | None]) -> dict[str, Any]:
    """Overall, `per_sub_category` and `per_granularity` ({granularity: {sub_category: scores}})."""
    pairs = _pairs(items, answers)
    sub = [it.info.get("sub_category") for it in items]
    gran = [it.info.get("granularity") for it in items]
    out: dict[str, Any] = _counts(pairs)
    out["per_sub_category"] = {s: _counts([p for p, ss in zip(pairs, sub) if ss == s]) for s in dict.fromkeys(sub)}
    out["per_granularity"] = {
        g: {s: _counts([p for p, gg, ss in zip(pairs, gran, sub) if gg == g and ss == s])
            for s in dict.fromkeys(ss for gg, ss in zip(gran, sub) if gg == g)}
        for g in ("object-level", "event-level") if g in gran}
    return out
