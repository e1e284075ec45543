"""The anchors' published numbers beside ours: one row per published number for a benchmark we ran.

Each row pairs an `eval.public.anchors.AnchorScore` (in percent) with our model's value of the same
metric (and sampling mode, for Kuan et al.'s per-mode F1), also in percent, and lists every way
the two numbers were not made alike: our declaration's `protocol_note` (e.g. our pinned prompt where
the authors publish none), a subset on our side (--limit, clips absent, probes that need video),
a release other than theirs, and what their source leaves unstated. A row with any such
difference is marked in the report; none is ever hidden.
"""

from __future__ import annotations

import math
import re
from typing import Any

from eval.scored import MODEL, NO_AUDIO

# the metric names the anchors report -> ours
METRICS = {"accuracy": "accuracy", "binary accuracy": "binary_accuracy", "f1": "f1"}
MODES = ("random", "popular", "adversarial")
VERSION = re.compile(r"v\d\d\.\d\d\.\d\d")


def _percent(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return round(100 * float(value), 1)
    return None


def _ours(anchor, result: dict[str, Any], system: str) -> float | None:
    metric = METRICS.get(anchor.metric)
    if metric is None:
        return None
    mode = next((m for m in MODES if f"{m} negatives" in anchor.setting), None)
    if mode is not None:
        per_mode = result.get("breakdown", {}).get("per_mode", {}).get(system, {})
        return _percent(per_mode.get(mode, {}).get(metric))
    return _percent(result["scores"].get(system, {}).get(metric))


def _differences(anchor, result: dict[str, Any]) -> list[str]:
    out = []
    note = result.get("declaration", {}).get("protocol_note", "")
    if note:
        out.append(note)
    if result["n_items"] < result["n_total"]:
        out.append(f"ours on {result['n_items']} of {result['n_total']} items (--limit)")
    if result.get("missing_audio"):
        out.append(f"ours without {result['missing_audio']['count']} item(s) whose audio is absent")
    for reason, n in (result.get("skipped_items") or {}).items():
        out.append(f"ours without {n} item(s): {reason}")
    version = VERSION.search(anchor.setting)
    if version and version.group(0) not in result.get("release", ""):
        out.append(f"theirs on {version.group(0)}; our metadata: {result.get('release') or 'release unknown'}")
    if "not stated" in anchor.setting or "only" in anchor.setting or "own" in anchor.setting:
        out.append(f"theirs: {anchor.setting}")
    if METRICS.get(anchor.metric) is None:
        out.append(f"their metric ({anchor.metric}) is not computed here")
    if anchor.approximate:
        out.append("their value is approximate")
    return out


def anchor_rows(name: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for benchmark `name` (our results entry `result`); [] when no anchor published a number on it."""
    from eval.public.anchors import for_benchmark

    rows = []
    for anchor in for_benchmark(name):
        rows.append({"system": anchor.system, "metric": anchor.metric, "setting": anchor.setting,
                     "published": anchor.value, "approximate": anchor.approximate, "source": anchor.source,
                     "ours": _ours(anchor, result, MODEL), "ours_no_audio": _ours(anchor, result, NO_AUDIO),
                     "differences": _differences(anchor, result)})
    return rows
