"""What the report, its sections and `compare` share: number formatting, Markdown tables, the flag
of a headline score."""

from __future__ import annotations

import math
from typing import Any

from eval.registry import lower_is_better

HEADERS = {"model": "model", "no_audio": "no audio", "mismatched_audio": "mismatched audio", "chance": "chance",
           "majority": "majority", "probe": "encoder probe", "asr": "Whisper", "non_speech": "non-speech transcripts"}
WARN_NO_AUDIO = "⚠ NOT above no-audio"
WARN_MISMATCHED = "⚠ NOT above mismatched audio"
WARN_BASELINE = "⚠ not above chance/majority"
# the same flags for an error rate (WER, CER), where the model must be below the others
WARN_NO_AUDIO_LOWER = "⚠ NOT below no-audio (lower is better)"
WARN_MISMATCHED_LOWER = "⚠ NOT below mismatched audio (lower is better)"
WARN_BASELINE_LOWER = "⚠ not below chance/majority (lower is better)"
WARN_PROBE = "⚠ NOT above the encoder probe"
WARN_COLLAPSED = "⚠ collapsed"
# metrics shown as counts or shares that are not scores
NOT_SCORES = {"n_yes_no", "n_word"}


def present(systems: tuple[str, ...], *rows: dict[str, Any]) -> list[str]:
    """The systems to show as columns: every one but the floors (probe, Whisper), which only where they have a
    value in one of `rows` (system -> value dicts, e.g. headlines or scores)."""
    from eval.scored import FLOORS

    return [s for s in systems if s not in FLOORS or any(r.get(s) not in (None, {}) for r in rows)]


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


def interval(head: dict[str, Any], system: str = "model") -> str:
    """"0.315–0.420": the system's 95% bootstrap interval of the headline (`eval.metrics.intervals`), or "–"."""
    ci = (head.get("ci95") or {}).get(system)
    return f"{fmt(ci[0])}–{fmt(ci[1])}" if ci else "–"


def score_headers(systems: list[str]) -> list[str]:
    """The headline columns of `systems`, with the model's 95% interval beside its score."""
    return [h for s in systems for h in ([HEADERS[s], "model 95% interval"] if s == "model" else [HEADERS[s]])]


def score_cells(head: dict[str, Any], systems: list[str]) -> list[str]:
    """One headline's cells under `score_headers(systems)`."""
    return [c for s in systems for c in ([fmt(head.get(s)), interval(head)] if s == "model" else [fmt(head.get(s))])]


def gathered(distinct: int | None) -> str:
    """"; 27 different answers read as it" where a mapping gathered several answers onto the top one, else ""."""
    return f"; {distinct} different answers read as it" if distinct and distinct > 1 else ""


def short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return out


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
    if head.get("beats_mismatched") is False:
        flags.append(WARN_MISMATCHED_LOWER if lower else WARN_MISMATCHED)
    if head.get("beats_baselines") is False:
        flags.append(WARN_BASELINE_LOWER if lower else WARN_BASELINE)
    if head.get("beats_probe") is False:
        flags.append(WARN_PROBE)
    if head.get("collapsed"):
        flags.append(f"{WARN_COLLAPSED}: {short(str(head.get('top_answer')), 30)!r} is "
                     f"{fmt(100 * head['top_answer_share'], 0)}% of the answers (> {fmt(100 * head['collapse_threshold'], 0)}%"
                     f"{gathered(head.get('top_answer_distinct'))})")
    if head.get("model") is not None:
        if head.get("beats_no_audio") is None:
            flags.append("no no-audio score")
        if "beats_mismatched" in head and head["beats_mismatched"] is None:
            flags.append("no mismatched-audio score")
    return "; ".join(flags) if flags else "ok"
