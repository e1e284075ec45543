"""In-domain and out-of-domain side by side: which benchmarks pair up, and what each pair's rows show.

An out-of-domain declaration names its in-domain counterpart (`in_domain:` in its YAML); every pair
among the selected benchmarks is recorded in the results (`domain_pairs`), with the pair shown even
when one side was not run (an older corpus has no test_ood split). Each side's row carries the
headline of the model beside the same LLM without audio and with another item's clip, chance,
majority and the floors (encoder probe, Whisper's own transcripts), the share of the model's most
frequent answer, and what its family adds (yes-ratio per sampling mode; Whisper's WER, the ratio
to it and the non-speech transcript rate).
"""

from __future__ import annotations

from typing import Any

from eval.registry import Benchmark

IN, OUT = "in-domain", "out-of-domain"


def domain_pairs(benchmarks: list[Benchmark]) -> list[dict[str, str]]:
    """[{family, in-domain name, out-of-domain name}] for every selected benchmark that names its counterpart."""
    chosen = {b.name for b in benchmarks}
    return [{"family": b.family, IN: b.in_domain if b.in_domain in chosen else "", OUT: b.name}
            for b in benchmarks if b.in_domain]


def family_details(b: dict[str, Any]) -> dict[str, Any]:
    """What a family adds to its row: per-mode yes-ratios (hallucination), Whisper's floor, the non-speech
    transcript rate and how many transcripts read were copied (speech), the nearest-centroid probe (classification)."""
    head, out = b["headline"], {}
    per_mode = b.get("breakdown", {}).get("per_mode", {}).get("model", {})
    if per_mode:
        out["yes_ratio"] = {mode: s.get("yes_ratio") for mode, s in per_mode.items()}
    if head.get("asr") is not None:
        out["asr"] = head["asr"]
        out["asr_ratio"] = head.get("asr_ratio")
    for key in ("non_speech_transcribed", "non_speech_transcribed_gated"):
        if head.get(key) is not None:
            out[key] = head[key]
    copying = b.get("breakdown", {}).get("copying")
    if copying:
        out["copying"] = {k: copying[k] for k in ("given", "copied", "wer_read")}
    probe = b.get("scores", {}).get("probe", {})
    if "centroid_accuracy" in probe:
        out["centroid_accuracy"] = probe["centroid_accuracy"]
    return out


def domain_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per side of every pair: {family, domain, name, result (None if not run), why_not_run (a phrase)}."""
    rows = []
    for pair in results.get("domains", []):
        for domain in (IN, OUT):
            name = pair[domain]
            if not name:
                rows.append({"family": pair["family"], "domain": domain, "name": "", "result": None,
                             "why_not_run": "not selected"})
                continue
            skipped = results.get("skipped", {}).get(name)
            reason = skipped["reason"] if isinstance(skipped, dict) else skipped
            why = f"not run: {reason}" if reason else "not run yet"  # a report written mid-run
            rows.append({"family": pair["family"], "domain": domain, "name": name,
                         "result": results["benchmarks"].get(name), "why_not_run": why})
    return rows
