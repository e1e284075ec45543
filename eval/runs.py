"""Runs of one benchmark: a multiple-choice benchmark asked with k orders of its choices.

Scores move when the choices are reordered, so `permutations: k` (or `--permutations K`) asks
every item k times, run j with its j-th reordering (`eval.public.permute`; run 0 is the published
order). Each run is scored on its own; `combine` reports each metric's mean over the runs, with
its spread (mean, std, min, max) and each system's consistency (share of items right in every
run) under `breakdown["permutations"]`.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from eval.data import BenchmarkData
from eval.metrics.aggregate import consistency, over_runs
from eval.registry import Benchmark
from eval.scored import ANSWERING, Scored


def item_runs(bench: Benchmark, data: BenchmarkData, k: int) -> list[BenchmarkData]:
    """[data] itself, or k copies whose items (and pool) have their choices in the j-th order."""
    if bench.family != "multiple_choice" or k <= 1:
        return [data]
    from eval.public import RENDER
    from eval.public.permute import permutation_runs

    wanted = {it.id for it in data.items}
    runs = []
    for run in permutation_runs(list(data.pool or data.items), k, bench.seed, RENDER[bench.data.source]):
        asked = [it for it in run if base_id(it.id) in wanted]
        runs.append(replace(data, items=asked, pool=run))
    return runs


def base_id(item_id: str) -> str:
    """The item's id without the `#p<j>` of its reordering."""
    head, sep, tail = item_id.rpartition("#p")
    return head if sep and tail.isdigit() else item_id


def mean_tree(trees: list[Any]) -> Any:
    """The element-wise mean of same-shaped nested dicts of numbers (other values: the first run's)."""
    first = trees[0]
    if isinstance(first, dict):
        keys = [k for k in first if all(isinstance(t, dict) and k in t for t in trees)]
        return {k: mean_tree([t[k] for t in trees]) for k in keys}
    if all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in trees):
        finite = [float(t) for t in trees if math.isfinite(t)]
        return sum(finite) / len(finite) if finite else float("nan")
    return first


def combine(runs: list[Scored]) -> Scored:
    """One Scored from the k runs' Scored (one run: itself)."""
    if len(runs) == 1:
        return runs[0]
    systems = list(runs[0].scores)
    spread = {s: over_runs([r.scores[s] for r in runs]) for s in systems}
    kept = {s: consistency([[row[s]["correct"] for row in r.items] for r in runs])
            for s in ANSWERING if runs[0].items and s in runs[0].items[0]}
    return Scored(scores=mean_tree([r.scores for r in runs]), baselines=runs[0].baselines,
                  breakdown={**mean_tree([r.breakdown for r in runs]),
                             "permutations": {"k": len(runs), "spread": spread, "consistency": kept}},
                  items=[row for r in runs for row in r.items], notes=runs[0].notes)
