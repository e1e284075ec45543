"""The manifest: what a corpus holds (counts per source, task, stage and split; hours; licences)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from instruction_data.clips import Clip
from instruction_data.schema import Record


def summarize(clips: dict[str, list[Clip]], records: dict[str, list[Record]]) -> dict[str, Any]:
    """Counts by split; totals; hours; yes/no per negative mode; licences per dataset."""
    out: dict[str, Any] = {"splits": {}, "licences": {}}
    licences: dict[str, set[str]] = defaultdict(set)
    totals = {"clips": 0, "hours": 0.0, "records": 0}
    for split in clips:
        cs, rs = clips[split], records[split]
        hours = sum(c.duration for c in cs) / 3600
        yes_no: dict[str, Counter] = defaultdict(Counter)
        for r in rs:
            if r.task == "existence":
                yes_no[r.negative_mode or "?"][r.metadata.get("answer", "?")] += 1
        out["splits"][split] = {
            "clips": len(cs),
            "hours": round(hours, 3),
            "clips_per_source": dict(sorted(Counter(c.dataset for c in cs).items())),
            "records": len(rs),
            "records_per_task": dict(sorted(Counter(r.task for r in rs).items())),
            "records_per_stage": dict(sorted(Counter(r.stage for r in rs).items())),
            "existence_answers_per_mode": {m: dict(v) for m, v in sorted(yes_no.items())},
        }
        for c in cs:
            licences[c.dataset].add(c.licence)
        totals["clips"] += len(cs)
        totals["hours"] += hours
        totals["records"] += len(rs)
    totals["hours"] = round(totals["hours"], 3)
    totals["records_per_task"] = dict(sorted(Counter(r.task for rs in records.values() for r in rs).items()))
    totals["records_per_stage"] = dict(sorted(Counter(r.stage for rs in records.values() for r in rs).items()))
    out["totals"] = totals
    out["licences"] = {k: sorted(v) for k, v in sorted(licences.items())}
    return out
