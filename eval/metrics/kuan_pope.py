"""Scores of the POPE-style AudioCaps hallucination set, as its authors compute them
(kuan2jiu99/audio-hallucination interspeech2024/evaluation.py at
dd129013b0bac37de90501e5a71a4fd9594460f6; unchanged since fa93477243f93538addc69654a77ece7b99134a9).

Reading an answer (`parse_response`, case-sensitive substrings of the raw answer, first rule that
fires): "Yes" or "yes" anywhere -> yes (so "eyes" too); else "No" anywhere -> no ("Not", "None");
else "there is no" -> no (lower case only: "There is no X." is unread); else "does not contain"
or "doesn't contain" -> no; else "contain" -> yes; else "not", "unable" or "can't" -> no; else
unread (""), which counts as a no-answer that is wrong.

Their precision, recall and F1 take **"no" as the positive class**: precision = right "no"
answers / all answers not read as yes; recall = right "no" answers / questions whose label is no.
POPE's own convention (yes positive, RUCAIBox/POPE evaluate.py, as in `eval.metrics.hallucination`)
is given too as `pope_precision`, `pope_recall`, `pope_f1`. Deviations: no rounding to two
decimals before F1 (a difference below 0.01 points); precision is 0 where their script divides by
zero (a model that always answers yes).

Reported per sampling mode and overall, each also per phrasing (0-4) with the spread (mean, std,
min, max) of every metric over the phrasings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval.data import Item
from eval.metrics.aggregate import over_runs
from eval.metrics.hallucination import yes_no_scores

SPREAD_KEYS = ("accuracy", "precision", "recall", "f1", "yes_ratio", "pope_precision", "pope_recall", "pope_f1")


def parse_response(response: str) -> str:
    """The authors' reading: "yes", "no", or "" when no rule fires."""
    if "Yes" in response or "yes" in response:
        return "yes"
    if "No" in response or "there is no" in response:
        return "no"
    if "does not contain" in response or "doesn't contain" in response:
        return "no"
    if "contain" in response:
        return "yes"
    if "not" in response or "unable" in response or "can't" in response:
        return "no"
    return ""


def kuan_scores(labels: Sequence[str], read: Sequence[str]) -> dict[str, float]:
    """accuracy, precision / recall / f1 of "no", yes_ratio, unread share; plus POPE's yes-positive ones."""
    n = len(labels)
    if n == 0:
        return {k: float("nan") for k in (*SPREAD_KEYS, "unread")} | {"n": 0}
    right_no = sum(lab != "yes" and r == lab for lab, r in zip(labels, read))
    answered_no = sum(r != "yes" for r in read)
    negatives = sum(lab != "yes" for lab in labels)
    precision = right_no / answered_no if answered_no else 0.0
    recall = right_no / negatives if negatives else 0.0
    pope = yes_no_scores(list(labels), [r or None for r in read])
    return {"accuracy": sum(lab == r for lab, r in zip(labels, read)) / n, "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "yes_ratio": sum(r == "yes" for r in read) / n, "unread": sum(r == "" for r in read) / n,
            "pope_precision": pope["precision"], "pope_recall": pope["recall"], "pope_f1": pope["f1"], "n": n}


def _with_prompts(labels: list[str], read: list[str], prompts: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = kuan_scores(labels, read)
    per = {}
    for p in sorted(set(prompts)):
        keep = [q == p for q in prompts]
        per[p] = kuan_scores([x for x, k in zip(labels, keep) if k], [x for x, k in zip(read, keep) if k])
    out["per_prompt"] = per
    spread = over_runs([per[p] for p in per if p >= 0])
    out["prompt_spread"] = {k: spread[k] for k in SPREAD_KEYS if k in spread}
    return out


def score(items: Sequence[Item], answers: Sequence[str | None]) -> dict[str, Any]:
    """Overall scores, `per_prompt`, `prompt_spread`, and the same per sampling mode under `per_mode`."""
    labels = [str(it.reference["answer"]).lower() for it in items]
    read = [parse_response(a or "") for a in answers]
    prompts = [int(it.reference.get("prompt_index", -1)) for it in items]
    modes = [it.reference["mode"] for it in items]
    out = _with_prompts(labels, read, prompts)
    out["read"] = read
    out["per_mode"] = {}
    for m in dict.fromkeys(modes):
        keep = [mm == m for mm in modes]
        out["per_mode"][m] = _with_prompts(*([x for x, k in zip(col, keep) if k] for col in (labels, read, prompts)))
    return out
