"""The Markdown report of a results JSON, and `compare` of two results JSONs."""

from __future__ import annotations

import math
from typing import Any

from eval.registry import lower_is_better

SYSTEMS = ("model", "no_audio", "chance", "majority")
HEADERS = {"model": "model", "no_audio": "no audio", "chance": "chance", "majority": "majority"}
WARN_NO_AUDIO = "⚠ NOT above no-audio"
WARN_BASELINE = "⚠ not above chance/majority"
# the same flags for an error rate (WER, CER), where the model must be below the others
WARN_NO_AUDIO_LOWER = "⚠ NOT below no-audio (lower is better)"
WARN_BASELINE_LOWER = "⚠ not below chance/majority (lower is better)"
# metrics shown as counts or shares that are not scores
NOT_SCORES = {"n_yes_no", "n_word"}
EXAMPLES = 5


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def _lower(head: dict[str, Any]) -> bool:
    """Whether the headline is an error rate (results written before the flag existed: by name)."""
    return bool(head.get("lower_is_better", lower_is_better(str(head.get("metric", "")))))


def metric_label(metric: str) -> str:
    """The metric's name, with ↓ when lower is better."""
    return f"{metric} ↓" if lower_is_better(metric) else metric


def verdict(head: dict[str, Any]) -> str:
    """The at-a-glance flag of a headline score (`beats_*` already follow the metric's direction)."""
    flags = []
    lower = _lower(head)
    if head.get("beats_no_audio") is False:
        flags.append(WARN_NO_AUDIO_LOWER if lower else WARN_NO_AUDIO)
    if head.get("beats_baselines") is False:
        flags.append(WARN_BASELINE_LOWER if lower else WARN_BASELINE)
    if head.get("beats_no_audio") is None and head.get("model") is not None:
        flags.append("no no-audio score")
    return "; ".join(flags) if flags else "ok"


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return out


def _metric_names(scores: dict[str, dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for system in SYSTEMS:
        for key in scores.get(system, {}):
            if key not in names and key not in NOT_SCORES:
                names.append(key)
    return names


def render(results: dict[str, Any]) -> str:
    model = results["model"]
    settings = results["settings"]
    lines = [f"# Evaluation: {model.get('model')}", ""]
    who = (f"local checkpoint `{model.get('path')}`" if model.get("kind") == "local"
           else f"endpoint `{model.get('url')}`, model `{model.get('model')}`")
    lines.append(f"- model: {who}")
    if model.get("trained") is False:
        lines.append("- **note: this checkpoint's aligner is untrained; its answers do not reflect the audio**")
    lines.append(f"- created: {results.get('created')}, {fmt(results.get('seconds'), 0)} s")
    lines.append(f"- decoding: {settings.get('decoding_note')}")
    if settings.get("limit"):
        lines.append(f"- **subset: at most {settings['limit']} items per benchmark (--limit); not comparable with "
                     f"full-set numbers**")
    lines.append(f"- label mapping and caption similarity: {settings.get('embedding_model')}")
    lines.append("- baselines: *no audio* = the same LLM given the question without the clip; *chance* and "
                 "*majority* are described per benchmark")
    if any(lower_is_better(m) for b in results["benchmarks"].values() for sc in b["scores"].values() for m in sc):
        lines.append("- ↓ marks error rates (lower is better); every other metric is higher-is-better")
    lines.append("")
    lines.append("## Summary")
    lines.append("")
    rows = []
    for name, b in results["benchmarks"].items():
        head = b["headline"]
        rows.append([name, b["family"], metric_label(head["metric"]), *(fmt(head.get(s)) for s in SYSTEMS),
                     str(b["n_items"]),
                     verdict(head)])
    lines += _table(rows, ["benchmark", "family", "metric", *(HEADERS[s] for s in SYSTEMS), "items", "flag"])
    for name, why in results.get("skipped", {}).items():
        lines.append(f"\n- skipped {name}: {why}")
    lines.append("")
    for name, b in results["benchmarks"].items():
        lines += _section(name, b)
    return "\n".join(lines).rstrip() + "\n"


def _section(name: str, b: dict[str, Any]) -> list[str]:
    lines = [f"## {name}", ""]
    if b.get("description"):
        lines += [b["description"], ""]
    d = b["decoding"]
    lines.append(f"- data: {b['data_source']}; {b['n_items']} of {b['n_total']} items")
    lines.append(f"- prompts: {'; '.join(repr(p) for p in b['declaration']['prompts'])}")
    lines.append(f"- decoding: max_new_tokens={d['max_new_tokens']}, temperature={d['temperature']}, "
                 f"top_p={d['top_p']}, seed={d['seed']}")
    for system, text in b.get("baselines", {}).items():
        lines.append(f"- {system}: {text}")
    for system, n in b.get("errors", {}).items():
        if n:
            lines.append(f"- **{n} item(s) could not be answered ({system}); they score as empty answers** "
                         f"(first: {b.get('first_error', {}).get(system, '')})")
    head = b["headline"]
    flag = verdict(head)
    if flag != "ok":
        lines.append(f"- **{flag}** on {metric_label(head['metric'])}")
    lines.append("")
    scores = b["scores"]
    unavailable: dict[str, str] = {}
    rows = []
    for metric in _metric_names(scores):
        row = [metric_label(metric)]
        for s in SYSTEMS:
            value = scores.get(s, {}).get(metric)
            if isinstance(value, str) and value.startswith("unavailable"):
                unavailable[metric] = value
                value = "n/a"
            row.append(fmt(value))
        rows.append(row)
    lines += _table(rows, ["metric", *(HEADERS[s] for s in SYSTEMS)])
    lines += [f"\n- {metric}: {why}" for metric, why in unavailable.items()]
    lines.append("")
    per_mode = b.get("breakdown", {}).get("per_mode")
    if per_mode:
        rows = []
        for mode in per_mode.get("truth", {}):
            for system in ("model", "no_audio"):
                if system in per_mode:
                    s = per_mode[system][mode]
                    rows.append([mode, HEADERS[system], *(fmt(s[k]) for k in
                                                          ("accuracy", "precision", "recall", "f1", "yes_ratio"))])
        lines += _table(rows, ["mode", "system", "accuracy", "precision", "recall", "f1", "yes-ratio"])
        lines.append("")
    per_language = b.get("breakdown", {}).get("per_language")
    if per_language:
        lines += _language_table(per_language)
    for plot in b.get("plots", []):
        lines += [f"![{plot}](plots/{plot})", ""]
    examples = b.get("items", [])[:EXAMPLES]
    if examples:
        lines.append("<details><summary>example answers</summary>\n")
        rows = []
        for it in examples:
            m, n = it.get("model", {}), it.get("no_audio", {})
            rows.append([it["question"], _ref_text(it["reference"]), _short(m.get("answer", "")),
                         fmt(m.get("label", m.get("read"))), _short(n.get("answer", ""))])
        lines += _table(rows, ["question", "reference", "model answer", "read as", "no-audio answer"])
        lines += ["", "</details>", ""]
    return lines


def _language_table(per_language: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    rows = []
    for lang, s in per_language.get("model", {}).items():
        for system in ("model", "no_audio"):
            if lang in per_language.get(system, {}):
                v = per_language[system][lang]
                rows.append([lang, HEADERS[system], *(fmt(v.get(k)) for k in ("wer", "cer", "exact_match")),
                             str(s["support"])])
    return [*_table(rows, ["language", "system", "wer ↓", "cer ↓", "exact match", "items"]), ""]


def _short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _ref_text(ref: dict[str, Any]) -> str:
    for key in ("label", "answer"):
        if key in ref:
            return str(ref[key])
    if "transcript" in ref:
        return _short(ref["transcript"], 60)
    if "answers" in ref:
        return "/".join(ref["answers"])
    if "captions" in ref:
        return _short(ref["captions"][0], 60)
    return ""


# ------------------------------------------------------------------------------------------- compare
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
    if notes:
        lines += ["**Not like for like:**", "", *[f"- {x}" for x in notes], ""]
    rows = []
    for n in shared:
        ha, hb = a["benchmarks"][n]["headline"], b["benchmarks"][n]["headline"]
        rows.append([n, metric_label(ha["metric"]), fmt(ha.get("model")), fmt(hb.get("model")),
                     _delta(ha.get("model"), hb.get("model")), fmt(ha.get("no_audio")), fmt(hb.get("no_audio")),
                     verdict(ha), verdict(hb)])
    lines += _table(rows, ["benchmark", "metric", label_a, label_b, "B − A", f"{name_a} no audio",
                           f"{name_b} no audio", f"{name_a} flag", f"{name_b} flag"])
    lines.append("")
    for n in shared:
        sa, sb = a["benchmarks"][n]["scores"].get("model", {}), b["benchmarks"][n]["scores"].get("model", {})
        metrics = [m for m in dict.fromkeys([*sa, *sb]) if m not in NOT_SCORES]
        lines += [f"## {n}", ""]
        lines += _table([[metric_label(m), fmt(sa.get(m)), fmt(sb.get(m)), _delta(sa.get(m), sb.get(m))]
                         for m in metrics],
                        ["metric", name_a, name_b, "B − A"])
        lines.append("")
    for n in only_a:
        lines.append(f"- only in {name_a}: {n}")
    for n in only_b:
        lines.append(f"- only in {name_b}: {n}")
    return "\n".join(lines).rstrip() + "\n"


def _delta(x: Any, y: Any) -> str:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v) for v in (x, y)):
        return "–"
    return f"{y - x:+.3f}"
