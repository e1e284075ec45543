"""How far a headline score could move on another draw of items: 95% bootstrap intervals.

On 40 items an accuracy of 0.30 is anything from about 0.17 to 0.45, and two models 5 points apart
on the same 40 items are often not told apart. Each answering system's headline gets a percentile
interval from resampling its items with replacement (an item asked in several choice orders is
resampled whole: its reorderings are one cluster), and `alm eval compare` gets the interval of the
difference between two runs on the items both asked, resampled in pairs (`paired_difference`).

The statistic is rebuilt from what each item's row stores, as a ratio of sums (one cluster's
numerator and denominator): accuracy from `correct` (n right / n), CIDEr-D and the embedding
similarity from their per-item values (the corpus score is their mean; the document frequencies
stay those of the whole benchmark, as usual for bootstrapped CIDEr), WER from each item's `wer`
times its reference's `words` (jiwer's corpus WER is total errors / total reference words). A
statistic is only bootstrapped when the rows rebuild the reported score exactly; otherwise, and for
metrics with no per-item form (mAP, F1, SPIDEr), the interval is reported as unavailable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.runs import base_id

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0
MEAN_FIELDS = {"accuracy": "correct", "cider_d": "cider_d", "embedding_similarity": "embedding_similarity"}
RATIO_FIELDS = {"wer": ("wer", "words")}  # metric -> (per-item rate, its denominator)


def item_terms(metric: str, rows: Sequence[dict[str, Any]], system: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(numerator, denominator) per item row of one system, such that sum(num) / sum(den) is the metric; None when
    the rows do not carry what that needs."""
    cells = [row.get(system) for row in rows]
    if not cells or any(not isinstance(c, dict) for c in cells):
        return None
    if metric in MEAN_FIELDS:
        key = MEAN_FIELDS[metric]
        values = [_number(c.get(key)) for c in cells]  # `correct` is a bool
        if any(v is None for v in values):
            return None
        return np.asarray(values, dtype=np.float64), np.ones(len(values))
    if metric in RATIO_FIELDS:
        rate, size = RATIO_FIELDS[metric]
        pairs = [(c.get(rate), c.get(size)) for c in cells]
        if any(not (_finite(r) and _finite(n)) for r, n in pairs):
            return None
        den = np.asarray([n for _, n in pairs], dtype=np.float64)
        return np.asarray([r for r, _ in pairs], dtype=np.float64) * den, den
    return None


def clusters_of(ids: Sequence[str]) -> np.ndarray:
    """Item ids -> (n,) cluster index: an item's reorderings (`#p<j>`) share one."""
    index: dict[str, int] = {}
    return np.asarray([index.setdefault(base_id(i), len(index)) for i in ids], dtype=np.int64)


def _cluster_sums(values: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    return np.bincount(clusters, weights=values, minlength=int(clusters.max()) + 1)


def _percentiles(samples: np.ndarray, level: float) -> list[float]:
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return [float(lo), float(hi)]


def _draws(clusters: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, clusters) cluster indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, clusters, size=(resamples, clusters))


def _ratios(num_c: np.ndarray, den_c: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """(B,) sum(num) / sum(den) of each draw; NaN or inf where a draw's denominator is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return num_c[draws].sum(1) / den_c[draws].sum(1)


def bootstrap(num: np.ndarray, den: np.ndarray, clusters: np.ndarray, *, resamples: int = RESAMPLES,
              level: float = LEVEL, seed: int = SEED) -> list[float] | None:
    """[low, high] percentile interval of sum(num) / sum(den) over clusters resampled with replacement; None for
    fewer than two clusters."""
    num_c, den_c = _cluster_sums(num, clusters), _cluster_sums(den, clusters)  # C
    if len(num_c) < 2:
        return None
    samples = _ratios(num_c, den_c, _draws(len(num_c), resamples, seed))  # B
    samples = samples[np.isfinite(samples)]
    return _percentiles(samples, level) if len(samples) else None


def headline_intervals(metric: str, ids: Sequence[str], rows: Sequence[dict[str, Any]],
                       reported: dict[str, Any], systems: Sequence[str]) -> dict[str, Any]:
    """{"ci95": system -> [low, high]} for every system in `systems` whose rows rebuild its reported score, and
    {"ci95_unavailable": system -> why} for those whose rows do not."""
    out: dict[str, Any] = {}
    why: dict[str, str] = {}
    clusters = clusters_of(ids)
    for system in systems:
        value = reported.get(system)
        if not _finite(value):
            continue
        terms = item_terms(metric, rows, system)
        if terms is None:
            why[system] = f"its items carry no per-item form of {metric}"
            continue
        num, den = terms
        rebuilt = num.sum() / den.sum() if den.sum() else math.nan
        if not math.isclose(rebuilt, float(value), rel_tol=1e-6, abs_tol=1e-9):
            why[system] = f"its items give {rebuilt:.4f}, not the reported {float(value):.4f}"
            continue
        interval = bootstrap(num, den, clusters)
        if interval is None:
            why[system] = "fewer than two items"
            continue
        out[system] = interval
    return {"ci95": out, **({"ci95_unavailable": why} if why else {})}


def paired_difference(metric: str, a_rows: Sequence[dict[str, Any]], b_rows: Sequence[dict[str, Any]],
                      system: str = "model") -> dict[str, Any] | None:
    """B − A on the items both runs asked (matched by id), with its paired 95% interval and whether the interval
    leaves out 0; None when the rows cannot give it."""
    a_by, b_by = {r.get("id"): r for r in a_rows}, {r.get("id"): r for r in b_rows}
    shared = [i for i in a_by if i is not None and i in b_by]
    if len(shared) < 2:
        return None
    ta = item_terms(metric, [a_by[i] for i in shared], system)
    tb = item_terms(metric, [b_by[i] for i in shared], system)
    if ta is None or tb is None:
        return None
    clusters = clusters_of(shared)
    (na, da), (nb, db) = (_cluster_sums(x, clusters) for x in ta), (_cluster_sums(x, clusters) for x in tb)
    draws = _draws(len(na), RESAMPLES, SEED)  # the same draws for both runs: paired
    samples = _ratios(nb, db, draws) - _ratios(na, da, draws)  # B
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return None
    low, high = _percentiles(samples, LEVEL)
    delta = float(nb.sum() / db.sum() - na.sum() / da.sum())
    return {"delta": delta, "ci95": [low, high], "items": len(shared), "clear": low > 0 or high < 0}


def _finite(value: Any) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(value))


def _number(value: Any) -> float | None:
    """A finite per-item value (a bool counts as 0 / 1), else None."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    return float(value) if _finite(value) else None
