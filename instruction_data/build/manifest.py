"""The manifest: what a corpus holds (counts per source, task, stage and split; hours; licences)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from instruction_data.clips import Clip
from instruction_data.schema import Record

# datasets whose clips are synthesized or derived (everything else is recorded audio read from a package or set)
SYNTHESIZED = {"synth_speech", "piper_speech", "synth_tones", "synth_mix"}
RENDERED = {"fluidsynth_gm"}  # sampled instruments rendered from exact MIDI


def provenance(clip: Clip) -> str:
    """recorded | rendered | synthesized | derived."""
    if clip.sources:
        return "derived"
    return "synthesized" if clip.dataset in SYNTHESIZED else "rendered" if clip.dataset in RENDERED else "recorded"


def class_table(clips: dict[str, list[Clip]]) -> dict[str, Any]:
    """Per class (a clip's most specific label) over source clips: clips per split and the sources
    (datasets) it comes from; the same for every label with its parents; summary counts."""
    per_class: dict[str, dict[str, Any]] = {}
    label_sources: dict[str, set[str]] = defaultdict(set)
    for split, cs in clips.items():
        for c in cs:
            if c.sources or not c.label:
                continue
            row = per_class.setdefault(c.label, {"clips": Counter(), "sources": set(), "origins": set()})
            row["clips"][split] += 1
            row["sources"].add(c.dataset)
            row["origins"].add(c.origin)
            for label in c.labels:
                label_sources[label].add(c.dataset)
    table = {label: {"clips": dict(sorted(r["clips"].items())), "sources": sorted(r["sources"]),
                     "n_sources": len(r["sources"]), "n_origins": len(r["origins"])}
             for label, r in sorted(per_class.items())}
    non_speech = [k for k in table if k != "speech"]
    return {
        "classes": len(table),
        "classes_with_3plus_sources": sum(1 for r in table.values() if r["n_sources"] >= 3),
        "classes_with_2plus_sources": sum(1 for r in table.values() if r["n_sources"] >= 2),
        "labels_with_parents": len(label_sources),
        "labels_with_parents_3plus_sources": sum(1 for v in label_sources.values() if len(v) >= 3),
        "non_speech_classes": len(non_speech),
        "per_class": table,
    }


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
            "clips_per_provenance": dict(sorted(Counter(provenance(c) for c in cs).items())),
            "hours_per_provenance": {k: round(sum(c.duration for c in cs if provenance(c) == k) / 3600, 3)
                                     for k in sorted({provenance(c) for c in cs})},
            "classes": len({c.label for c in cs if c.label and not c.sources}),
            "clips_per_source": dict(sorted(Counter(c.dataset for c in cs).items())),
            "clips_per_origin": dict(sorted(Counter(c.origin for c in cs if not c.sources).items())),
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
    totals["clips_per_provenance"] = dict(sorted(Counter(provenance(c) for cs in clips.values() for c in cs).items()))
    totals["hours_per_provenance"] = {
        k: round(sum(c.duration for cs in clips.values() for c in cs if provenance(c) == k) / 3600, 3)
        for k in sorted(totals["clips_per_provenance"])}
    out["totals"] = totals
    out["classes"] = class_table(clips)
    out["licences"] = {k: sorted(v) for k, v in sorted(licences.items())}
    return out
