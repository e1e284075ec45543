"""Headline scores per data source (the corpus package or generator an item's clip came from).

A split's "in domain" depends on the model: the offline corpus's first build tests clips of sources that a
model trained on a later build never heard (whole sources held out as that build's `test_ood`), so a single
number over the split mixes recordings it knows with recordings it does not. Per source, a reader sees which
is which. Only metrics that are the mean of a per-item value are split (accuracy, CIDEr-D, whose corpus score
is the mean of its per-item scores under the whole set's document frequencies); speech has its own per-source
table of corpus-level error rates (`families.group_scores`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from eval.data import BenchmarkData
from eval.scored import ANSWERING, Scored

MIXED = "(mixed sources)"  # a clip mixed from two sources' clips ("tuxpaint+synth_mix")
PER_ITEM = {"accuracy": "correct", "cider_d": "cider_d"}  # headline metric -> the per-item value it averages


def source_of(info: dict[str, Any]) -> str | None:
    """The item's source as the corpus names it; mixes of several sources are one group."""
    dataset = info.get("dataset")
    if not dataset:
        return None
    return MIXED if "+" in dataset else dataset


def per_source(metric: str, data: BenchmarkData, scored: Scored) -> dict[str, dict[str, dict[str, float]]]:
    """{system: {source: {metric: mean, "support": n[, "yes_ratio": share]}}}, most frequent source first;
    empty where the metric is not a per-item mean, an item has no source, or there is only one source."""
    key = PER_ITEM.get(metric)
    sources = [source_of(it.info) for it in data.items]
    if key is None or not scored.items or None in sources or len(set(sources)) < 2:
        return {}
    order = sorted(set(sources), key=lambda s: (-sources.count(s), s))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for system in ANSWERING:
        rows = [row.get(system) for row in scored.items]
        if any(row is None or row.get(key) is None for row in rows):
            continue
        values: dict[str, list[float]] = defaultdict(list)
        yes: dict[str, list[bool]] = defaultdict(list)
        for source, row in zip(sources, rows):
            values[source].append(float(row[key]))
            if "read" in row and row["read"] in ("yes", "no"):  # yes/no questions: how often "yes"
                yes[source].append(row["read"] == "yes")
        out[system] = {}
        for source in order:
            cell = {metric: sum(values[source]) / len(values[source]), "support": len(values[source])}
            if yes[source]:
                cell["yes_ratio"] = sum(yes[source]) / len(yes[source])
            out[system][source] = cell
    return out
