"""`alm eval compare`: two results JSONs side by side, with what makes them not like for like."""

from __future__ import annotations

import math
from typing import Any

from eval.metrics.intervals import paired_difference
from eval.report_parts import NOT_SCORES, fmt, metric_label, table, verdict


def compare(a: dict[str, Any], b: dict[str, Any], name_a: str = "A", name_b: str = "B") -> str:
    """Markdown: every shared benchmark's metrics side by side, B - A, and what differs in the settings."""
    label_a = f"{name_a} ({a['model'].get('model')})"
    label_b = f"{name_b} ({b['model'].get('model')})"
    lines = [f"# Comparison: {label_a} vs {label_b}", ""]
    shared = [n for n in a["benchmarks"] if n in b["benchmarks"]]
    only_a = [n for n in a["benchmarks"] if n not in b["benchmarks"]]
    only_b = [n for n in b["benchmarks"] if n not in a["benchmarks"]]
    notes = []
    if a["settings"].get("limit") != b["settings"].get("limit"):
        notes.append(f"--limit differs: {a['settings'].get('limit')} vs {b['settings'].get('limit')}")
    for n in shared:
        ba, bb = a["benchmarks"][n], b["benchmarks"][n]
        if ba["decoding"] != bb["decoding"]:
            notes.append(f"{n}: decoding differs ({ba['decoding']} vs {bb['decoding']})")
        if ba["n_items"] != bb["n_items"] or ba.get("item_ids_hash") != bb.get("item_ids_hash"):
            notes.append(f"{n}: the item sets differ ({ba['n_items']} vs {bb['n_items']} items)")
        if ba["declaration"].get("prompts") != bb["declaration"].get("prompts"):
            notes.append(f"{n}: the prompts differ")
        if ba.get("permutations", 1) != bb.get("permutations", 1) or ba.get("scorer") != bb.get("scorer"):
            notes.append(f"{n}: the scorer or the number of choice orders differs")
    if notes:
        lines += ["**Not like for like:**", "", *[f"- {x}" for x in notes], ""]
    rows = []
    for n in shared:
        ha, hb = a["benchmarks"][n]["headline"], b["benchmarks"][n]["headline"]
        paired = paired_difference(ha["metric"], a["benchmarks"][n].get("items", []),
                                   b["benchmarks"][n].get("items", []))
        rows.append([n, metric_label(ha["metric"]), fmt(ha.get("model")), fmt(hb.get("model")),
                     _delta(ha.get("model"), hb.get("model")), _paired(paired), fmt(ha.get("no_audio")),
                     fmt(hb.get("no_audio")), fmt(ha.get("mismatched_audio")), fmt(hb.get("mismatched_audio")),
                     verdict(ha), verdict(hb)])
    lines += table(rows, ["benchmark", "metric", label_a, label_b, "B − A", "B − A on shared items (95%)",
                          f"{name_a} no audio", f"{name_b} no audio", f"{name_a} mismatched audio",
                          f"{name_b} mismatched audio", f"{name_a} flag", f"{name_b} flag"])
    lines += ["", "*B − A on shared items*: the difference of the model's headline on the items both runs asked, "
                  "with a paired bootstrap 95% interval; **bold** where the interval leaves out 0 (a difference "
                  "these items show, not one a redraw could undo).", ""]
    for n in shared:
        sa, sb = a["benchmarks"][n]["scores"].get("model", {}), b["benchmarks"][n]["scores"].get("model", {})
        metrics = [m for m in dict.fromkeys([*sa, *sb]) if m not in NOT_SCORES]
        lines += [f"## {n}", ""]
        lines += table([[metric_label(m), fmt(sa.get(m)), fmt(sb.get(m)), _delta(sa.get(m), sb.get(m))]
                         for m in metrics],
                        ["metric", name_a, name_b, "B − A"])
        lines.append("")
    for n in only_a:
        lines.append(f"- only in {name_a}: {n}")
    for n in only_b:
        lines.append(f"- only in {name_b}: {n}")
    return "\n".join(lines).rstrip() + "\n"


def _paired(paired: dict[str, Any] | None) -> str:
    """"**+0.120** (+0.050 to +0.190; 324 items)", or "–" where the items cannot give it."""
    if paired is None:
        return "–"
    delta = f"{paired['delta']:+.3f}"
    low, high = paired["ci95"]
    return f"{f'**{delta}**' if paired['clear'] else delta} ({low:+.3f} to {high:+.3f}; {paired['items']} items)"


def _delta(x: Any, y: Any) -> str:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) for v in (x, y)):
        return "–"
    return f"{y - x:+.3f}"
