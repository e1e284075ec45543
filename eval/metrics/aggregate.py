"""Summaries of per-item results: accuracy per group, and the spread of a score over runs
(k permutations of the choices, the five phrasings of a question ...)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any


def accuracy_by(groups: Sequence[Hashable], correct: Sequence[bool]) -> dict[Any, dict[str, float]]:
    """group -> {"accuracy", "correct", "n"}, groups in order of first appearance."""
    counts: dict[Any, list[int]] = {}
    for g, ok in zip(groups, correct, strict=True):
        c = counts.setdefault(g, [0, 0])
        c[0] += bool(ok)
        c[1] += 1
    return {g: {"accuracy": c / n, "correct": c, "n": n} for g, (c, n) in counts.items()}


def spread(values: Sequence[float]) -> dict[str, float]:
    """mean, std (sample, ddof=1; 0 for one value), min, max and n of the finite values."""
    xs = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not xs:
        return {"mean": float("nan"), "std": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    mean = sum(xs) / len(xs)
    var = sum((x - mean) ** 2 for x in xs) / (len(xs) - 1) if len(xs) > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(var), "min": min(xs), "max": max(xs), "n": len(xs)}


def over_runs(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """metric -> spread over runs, for every numeric top-level metric present in all runs."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)] if runs else []
    return {k: spread([r[k] for r in runs]) for k in keys if all(k in r for r in runs)}


def consistency(correct: Sequence[Sequence[bool]]) -> float:
    """Share of items right in every run; `correct` is runs x items."""
    if not correct or not correct[0]:
        return float("nan")
    items = list(zip(*correct, strict=True))
    return sum(all(col) for col in items) / len(items)
