"""The Markdown report of a results JSON (`eval.compare` puts two side by side).

Order: what was run; the proof-of-listening flags (every headline that does not beat both the
no-audio and the mismatched-audio answers of the same LLM); the floors and collapse flags (a
classifier not above the encoder probe, answers collapsed onto one); the summary table and plot;
in-domain vs out-of-domain side by side (`eval.report_domains`); the benchmarks not run and where
to get their data; the anchors' published numbers beside ours; then
one section per benchmark (`eval.report_section`).
"""

from __future__ import annotations

from typing import Any

from eval.registry import lower_is_better
from eval.report_parts import (HEADERS, NOT_SCORES, WARN_BASELINE, WARN_BASELINE_LOWER,  # noqa: F401 - re-exported
                               WARN_COLLAPSED, WARN_MISMATCHED, WARN_MISMATCHED_LOWER, WARN_NO_AUDIO,
                               WARN_NO_AUDIO_LOWER, WARN_PROBE, fmt, gathered, metric_label, present, score_cells,
                               score_headers, short, table, verdict)
from eval.report_domains import domains_section, top_answer
from eval.report_section import section
from eval.scored import SYSTEMS


def render(results: dict[str, Any]) -> str:
    lines = _header(results)
    lines += listening(results)
    lines += floors_and_collapse(results)
    lines += ["## Summary", ""]
    systems = present(SYSTEMS, *(b["headline"] for b in results["benchmarks"].values()))
    rows = []
    for name, b in results["benchmarks"].items():
        head = b["headline"]
        rows.append([name, b["family"], metric_label(head["metric"]), *score_cells(head, systems),
                     top_answer(head), str(b["n_items"]), verdict(head)])
    lines += table(rows, ["benchmark", "family", "metric", *score_headers(systems), "top answer", "items", "flag"])
    lines.append("")
    if results.get("summary_plot"):
        lines += [f"![summary](plots/{results['summary_plot']})", ""]
    lines += domains_section(results)
    lines += _skipped(results.get("skipped", {}))
    lines += _anchors(results)
    for name, b in results["benchmarks"].items():
        lines += section(name, b)
    return "\n".join(lines).rstrip() + "\n"


def _header(results: dict[str, Any]) -> list[str]:
    model, settings = results["model"], results["settings"]
    who = (f"local checkpoint `{model.get('path')}`" if model.get("kind") == "local"
           else f"endpoint `{model.get('url')}`, model `{model.get('model')}`")
    lines = [f"# Evaluation: {model.get('model')}", "", f"- model: {who}"]
    if model.get("trained") is False:
        lines.append("- **note: this checkpoint's aligner is untrained; its answers do not reflect the audio**")
    lines.append(f"- created: {results.get('created')}, {fmt(results.get('seconds'), 0)} s")
    lines.append(f"- decoding: {settings.get('decoding_note')}")
    if settings.get("limit"):
        lines.append(f"- **subset: at most {settings['limit']} items per benchmark (--limit); not comparable with "
                     f"full-set numbers**")
    if settings.get("embedding_model"):
        lines.append(f"- label mapping and caption similarity: {settings['embedding_model']}")
    lines.append("- baselines: *no audio* = the same LLM given the question without the clip; *mismatched audio* = "
                 "the same LLM given another item's clip(s) (seeded pairing, never the item's own clip); *chance* "
                 "and *majority* are described per benchmark")
    judge = settings.get("judge")
    if judge:
        lines.append(f"- LLM judge: `{judge['model']}` at {judge['url']}, temperature {judge['temperature']}, "
                     f"at most {judge['max_tokens']} tokens; `judge_score` = mean rating 1-10 (prompt in "
                     "results.json); the string metrics remain the scores of record")
    if any(lower_is_better(m) for b in results["benchmarks"].values() for sc in b["scores"].values() for m in sc):
        lines.append("- ↓ marks error rates (lower is better); every other metric is higher-is-better")
    return [*lines, ""]


def listening(results: dict[str, Any]) -> list[str]:
    """The report's first section: every headline that does not show the model used its own audio."""
    failed = []
    for name, b in results["benchmarks"].items():
        head = b["headline"]
        if head.get("listens") is True:
            continue
        how = "does not beat" if head.get("listens") is False else "cannot be compared with"
        failed.append(f"- **⚠ {name}**: {metric_label(head['metric'])} {fmt(head.get('model'))} {how} both "
                      f"(no audio {fmt(head.get('no_audio'))}, mismatched audio {fmt(head.get('mismatched_audio'))})")
    lines = ["## Proof of listening", ""]
    if failed:
        lines += [("**⚠ These scores do not show that the model used the audio**: the same LLM does as well (or "
                   "better) without the clip, or with another item's clip."), "", *failed]
    else:
        lines.append("Every headline beats both the same LLM without audio and the same LLM given another item's "
                     "clip(s).")
    return [*lines, ""]


def floors_and_collapse(results: dict[str, Any]) -> list[str]:
    """Every headline not above the encoder probe, and every benchmark whose answers collapsed onto one."""
    lines = []
    for name, b in results["benchmarks"].items():
        head = b["headline"]
        if head.get("beats_probe") is False:
            lines.append(f"- **⚠ {name}**: {metric_label(head['metric'])} {fmt(head.get('model'))} is not above a "
                         f"linear probe on the frozen encoder's features ({fmt(head.get('probe'))}): the encoder "
                         "already tells the classes apart better than the model does")
        if head.get("collapsed"):
            truth = head.get("truth_top_share")
            truth = "" if truth is None else f"; the ground truth's most frequent answer: {fmt(100 * truth, 0)}%"
            lines.append(f"- **⚠ {name}**: {fmt(100 * head['top_answer_share'], 0)}% of the model's answers are "
                         f"{short(str(head.get('top_answer')), 40)!r} (threshold "
                         f"{fmt(100 * head['collapse_threshold'], 0)}%{truth}"
                         f"{gathered(head.get('top_answer_distinct'))})")
    return ["## Floors and collapse", "", *lines, ""] if lines else []


def _skipped(skipped: dict[str, Any]) -> list[str]:
    if not skipped:
        return []
    lines = ["## Not run: data not found", ""]
    for name, why in skipped.items():
        if isinstance(why, dict):
            lines.append(f"- **{name}**: {why['reason']}. Get it: {why['obtain']}")
        else:
            lines.append(f"- **{name}**: {why}")
    return [*lines, ""]


def _anchors(results: dict[str, Any]) -> list[str]:
    """Published numbers beside ours (percent); ≠ marks a row whose protocols differ, with how."""
    rows, notes = [], []
    for name, b in results["benchmarks"].items():
        for a in b.get("anchors", []):
            mark = "same protocol"
            if a["differences"]:
                notes.append(f"{name} / {a['system']}: " + "; ".join(a["differences"]))
                mark = f"≠ [{len(notes)}]"
            published = ("~" if a["approximate"] else "") + fmt(a["published"], 1)
            rows.append([name, a["metric"] + (f" ({a['setting']})" if a["setting"] else ""), a["system"],
                         published, fmt(a["ours"], 1), fmt(a["ours_no_audio"], 1), mark])
    if not rows:
        return []
    lines = ["## Published numbers (anchors) beside ours", "",
             ("Percent. *ours* is this model on this run; ≠ marks rows whose two numbers were not made alike (how, "
              "below). Published values as their authors report them (`eval/public/anchors.py`)."), ""]
    lines += table(rows, ["benchmark", "metric (setting)", "system", "published", "ours", "ours, no audio",
                          "protocol"])
    lines.append("")
    lines += [f"{i}. {note}" for i, note in enumerate(notes, 1)]
    return [*lines, ""]
