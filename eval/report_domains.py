"""The report's in-domain vs out-of-domain section (`eval.domains`): every family's headline on both sides,
beside the same LLM without audio and with another item's clip, chance, majority, the floors and the
share of the model's most frequent answer; then what each family adds, and the plot."""

from __future__ import annotations

from typing import Any

from eval.domains import IN, OUT, domain_rows, family_details
from eval.report_parts import fmt, metric_label, present, score_cells, score_headers, short, table, verdict
from eval.scored import SYSTEMS


def top_answer(head: dict[str, Any]) -> str:
    """"0.43 ('speech')": the model's most frequent answer's share, and the answer."""
    if head.get("top_answer_share") is None:
        return "–"
    return f"{fmt(head['top_answer_share'], 2)} ({short(str(head.get('top_answer')), 24)!r})"


def domains_section(results: dict[str, Any]) -> list[str]:
    rows = domain_rows(results)
    if not rows:
        return []
    heads = [r["result"]["headline"] for r in rows if r["result"]]
    systems = present(SYSTEMS, *heads)
    table_rows = []
    for r in rows:
        b = r["result"]
        if b is None:
            table_rows.append([r["family"], r["domain"], r["name"] or "–", "", *([""] * len(score_headers(systems))),
                               "", "", r["why_not_run"]])
            continue
        head = b["headline"]
        table_rows.append([r["family"], r["domain"], r["name"], metric_label(head["metric"]),
                           *score_cells(head, systems), top_answer(head), str(b["n_items"]), verdict(head)])
    lines = ["## In-domain vs out-of-domain", "",
             ("Out-of-domain = the corpus's `test_ood` split: whole sources held out from training, whose classes "
              "training sees from other sources. *top answer* = the share of the model's most frequent answer as "
              "read (collapse detector; flagged above the family's threshold)."), ""]
    lines += table(table_rows, ["family", "domain", "benchmark", "metric", *score_headers(systems),
                                "top answer", "items", "flag"])
    lines.append("")
    lines += _details(rows)
    if results.get("domains_plot"):
        lines += [f"![in-domain vs out-of-domain](plots/{results['domains_plot']})", ""]
    return lines


def _details(rows: list[dict[str, Any]]) -> list[str]:
    """One line per family with what it adds, in-domain then out-of-domain."""
    by_family: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r["result"]:
            by_family.setdefault(r["family"], {})[r["domain"]] = family_details(r["result"])
    lines = []
    for family, sides in by_family.items():
        parts = [f"{domain}: {text}" for domain in (IN, OUT) if (text := _describe(sides.get(domain) or {}))]
        if parts:
            lines.append(f"- {family}: " + "; ".join(parts))
    return [*lines, ""] if lines else []


def _describe(d: dict[str, Any]) -> str:
    out = []
    if "yes_ratio" in d:
        out.append("yes-ratio " + ", ".join(f"{mode} {fmt(v, 2)}" for mode, v in d["yes_ratio"].items()))
    if "asr" in d:
        out.append(f"Whisper's own WER {fmt(d['asr'])}, model/Whisper {fmt(d.get('asr_ratio'), 2)}")
    if "non_speech_transcribed" in d:
        gated = (f" (gate at the default threshold: {fmt(d['non_speech_transcribed_gated'], 2)})"
                 if "non_speech_transcribed_gated" in d else "")
        out.append(f"non-speech clips given a transcript {fmt(d['non_speech_transcribed'], 2)}{gated}")
    if "copying" in d:
        c = d["copying"]
        out.append(f"transcripts read copied {c['copied']} of {c['given']} (their WER {fmt(c['wer_read'])})")
    if "centroid_accuracy" in d:
        out.append(f"nearest-centroid probe {fmt(d['centroid_accuracy'])}")
    return ", ".join(out)
