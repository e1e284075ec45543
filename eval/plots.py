"""PNG plots (matplotlib, Agg backend): every benchmark's headline beside its baselines, per-class
accuracy, confusion matrix, yes-ratio per negative-sampling mode, accuracy per question group,
scores per prompt wording and over reorderings of the choices, caption and speech metrics per
system. The answering systems (model, no audio, mismatched audio) appear in every plot."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from alm.files import atomic_write_bytes
from eval.registry import lower_is_better
from eval.scored import ANSWERING, PROBE, SYSTEMS

COLORS = {"model": "#1f77b4", "no_audio": "#ff7f0e", "mismatched_audio": "#2ca02c", "truth": "#7f7f7f",
          "chance": "#bcbd22", "majority": "#9467bd", "probe": "#d62728", "asr": "#8c564b"}
LABELS = {"model": "model", "no_audio": "same LLM, no audio", "mismatched_audio": "same LLM, another item's clip",
          "truth": "ground truth", "chance": "chance", "majority": "majority", "probe": "encoder probe",
          "asr": "Whisper's own transcript"}
MAX_BARS = 30
MAX_CONFUSION = 20


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _error_bars(values: list[float], spans: list[list[float] | None]) -> np.ndarray:
    """(2, n) distances below and above each value to its [low, high] interval; NaN (no error bar) where it has
    none."""
    return np.maximum(np.array([[v - ci[0], ci[1] - v] if ci else [np.nan, np.nan]
                                for v, ci in zip(values, spans)]).T, 0)


def _grouped_bars(ax, groups: list[str], series: dict[str, list[float]], values_on_bars: bool = False,
                  intervals: dict[str, list[list[float] | None]] | None = None) -> None:
    """One bar per series in each group; `intervals`: series -> a [low, high] (or None) per group, drawn as error
    bars."""
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for k, (name, values) in enumerate(series.items()):
        spans = (intervals or {}).get(name) or [None] * len(values)
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=LABELS.get(name, name),
                      color=COLORS.get(name), yerr=_error_bars(values, spans), capsize=2, error_kw={"lw": 0.7})
        if values_on_bars:  # a missing value (NaN) draws no bar and no label
            ax.bar_label(bars, labels=[f"{v:.2f}" if np.isfinite(v) else "" for v in values], fontsize=6, padding=1)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=60 if len(groups) > 6 else 0, ha="right" if len(groups) > 6 else "center",
                       fontsize=8)
    ax.legend(fontsize=8)


def per_class_accuracy(path: Path, per_class: dict[str, dict[str, dict[str, float]]], title: str) -> Path:
    """Bars per class (most frequent first): the model, no audio, mismatched audio and the encoder probe."""
    plt = _pyplot()
    classes = list(per_class.get("model", {}))[:MAX_BARS]
    series = {s: [per_class[s].get(c, {}).get("accuracy", 0.0) for c in classes] for s in (*ANSWERING, PROBE)
              if s in per_class}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(classes) + 2), 4.2))
    _grouped_bars(ax, [f"{c} ({per_class['model'][c]['support']})" for c in classes], series, values_on_bars=True)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("top-1 accuracy")
    ax.set_title(title + (f" (first {MAX_BARS} classes by support)" if len(per_class.get("model", {})) > MAX_BARS
                          else ""), fontsize=10)
    return _save(fig, path)


def confusion(path: Path, labels: list[str], columns: list[str], matrix: list[list[int]], title: str) -> Path:
    """Row-normalised confusion matrix of the most frequent classes (rows: truth, columns: mapped answer)."""
    plt = _pyplot()
    m = np.array(matrix, dtype=float)
    if len(labels) > MAX_CONFUSION:  # keep the first rows and their columns, plus the extra/other columns
        extra = list(range(len(labels), len(columns)))
        keep = list(range(MAX_CONFUSION)) + extra
        labels, columns, m = labels[:MAX_CONFUSION], [columns[j] for j in keep], m[:MAX_CONFUSION][:, keep]
    rows = m.sum(1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.38 * len(columns) + 3.5), max(4.0, 0.38 * len(labels) + 2.5)))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(columns)))
    ax.set_yticks(range(len(labels)))
    ax.set_xticklabels(columns, rotation=70, ha="right", fontsize=7)
    ax.set_yticklabels(labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(columns)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted (answer mapped to the nearest class)")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the row")
    return _save(fig, path)


def yes_ratio(path: Path, per_mode: dict[str, dict[str, dict[str, float]]], title: str) -> Path:
    """Share of "yes" answers per negative-sampling mode: model, no audio, and the truth."""
    plt = _pyplot()
    modes = list(per_mode.get("truth", {}))
    series = {s: [per_mode[s][m]["yes_ratio"] for m in modes] for s in (*ANSWERING, "truth") if s in per_mode}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    _grouped_bars(ax, modes, series, values_on_bars=True)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel('share of "yes" answers')
    ax.set_xlabel("negative sampling mode")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def group_accuracy(path: Path, per_group: dict[str, dict[str, dict[str, float]]], title: str) -> Path:
    """Accuracy per group (question kind, task ...), `per_group[system][group] = {"accuracy", "n"}`."""
    plt = _pyplot()
    groups = list(per_group.get("model", {}))[:MAX_BARS]
    series = {s: [per_group[s].get(g, {}).get("accuracy", 0.0) for g in groups] for s in ANSWERING if s in per_group}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(groups) + 2), 4.2))
    _grouped_bars(ax, [f"{g} ({per_group['model'][g]['n']})" for g in groups], series, values_on_bars=True)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (majority answer)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def metric_bars(path: Path, scores: dict[str, dict[str, Any]], metrics: list[str], title: str) -> Path:
    """One group of bars per metric, one bar per system (numeric values only)."""
    plt = _pyplot()
    systems = [s for s in SYSTEMS if s in scores]
    metrics = [m for m in metrics if any(isinstance(scores[s].get(m), (int, float)) for s in systems)]
    series = {s: [float(scores[s].get(m)) if isinstance(scores[s].get(m), (int, float)) else 0.0 for m in metrics]
              for s in systems}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(metrics) + 2), 4))
    _grouped_bars(ax, metrics, series, values_on_bars=True)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def per_prompt(path: Path, prompts: dict[str, dict[str, dict[str, float]]], metric: str, title: str) -> Path:
    """One group of bars per prompt wording (`prompts[system][wording] = {metric: value}`)."""
    plt = _pyplot()
    wordings = [w for w in prompts.get("model", {}) if w != "-1"]
    series = {s: [prompts[s].get(w, {}).get(metric, 0.0) for w in wordings] for s in ANSWERING if s in prompts}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    _grouped_bars(ax, [f"prompt {w}" for w in wordings], series, values_on_bars=True)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def spread(path: Path, runs: dict[str, dict[str, dict[str, float]]], metric: str, title: str) -> Path:
    """The mean of `metric` over runs per system, with the range (min to max) as an error bar."""
    plt = _pyplot()
    systems = [s for s in SYSTEMS if metric in runs.get(s, {})]
    means = [runs[s][metric]["mean"] for s in systems]
    low = [runs[s][metric]["mean"] - runs[s][metric]["min"] for s in systems]
    high = [runs[s][metric]["max"] - runs[s][metric]["mean"] for s in systems]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.bar(range(len(systems)), means, yerr=[low, high], capsize=6, color=[COLORS.get(s) for s in systems])
    ax.set_xticks(range(len(systems)))
    ax.set_xticklabels([LABELS.get(s, s) for s in systems], rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"{metric}: mean, bar = min to max")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def summary(folder: Path, benchmarks: dict[str, dict[str, Any]]) -> str:
    """One panel per benchmark: the headline of the model beside no audio, mismatched audio, chance, majority; the
    answering systems' and floors' 95% bootstrap intervals as error bars."""
    plt = _pyplot()
    names = list(benchmarks)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        head = benchmarks[name]["headline"]
        systems = [s for s in SYSTEMS if isinstance(head.get(s), (int, float)) and not isinstance(head.get(s), bool)
                   and np.isfinite(head.get(s))]
        values = [head[s] for s in systems]
        spans = [(head.get("ci95") or {}).get(s) for s in systems]
        bars = ax.bar(range(len(systems)), values, yerr=_error_bars(values, spans), capsize=3, error_kw={"lw": 0.8},
                      color=[COLORS.get(s) for s in systems])
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        ax.set_xticks(range(len(systems)))
        ax.set_xticklabels([s.replace("_", " ").replace("mismatched audio", "mismatched") for s in systems],
                           rotation=30, ha="right", fontsize=7)
        arrow = " (lower is better)" if lower_is_better(head["metric"]) else ""
        flag = "" if head.get("listens") is not False else " ⚠"
        ax.set_title(f"{name}{flag}\n{head['metric']}{arrow}", fontsize=8)
        ax.margins(y=0.15)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, folder / "summary.png").name


def domains(folder: Path, rows: list[dict[str, Any]]) -> str | None:
    """One panel per family: its headline in-domain beside out-of-domain, for the model, the same LLM without
    audio and with another item's clip, chance, majority and the floors (`eval.domains.domain_rows`), with their
    95% intervals; a value that is missing (a side not run, a baseline unavailable) has no bar."""
    families = list(dict.fromkeys(r["family"] for r in rows if r["result"]))
    if not families:
        return None
    plt = _pyplot()
    cols = min(3, len(families))
    fig, axes = plt.subplots(-(-len(families) // cols), cols, figsize=(4.6 * cols, 3.6 * -(-len(families) // cols)),
                             squeeze=False)
    shown: dict[str, Any] = {}
    for ax, family in zip(axes.flat, families):
        sides = [r for r in rows if r["family"] == family]
        heads = [r["result"]["headline"] if r["result"] else {} for r in sides]
        systems = [s for s in SYSTEMS if any(_finite(h.get(s)) for h in heads)]
        series = {s: [float(h[s]) if _finite(h.get(s)) else float("nan") for h in heads] for s in systems}
        intervals = {s: [(h.get("ci95") or {}).get(s) for h in heads] for s in systems}
        _grouped_bars(ax, [r["domain"] + ("" if r["result"] else " (not run)") for r in sides], series,
                      values_on_bars=True, intervals=intervals)
        ax.get_legend().remove()
        for handle, label in zip(*ax.get_legend_handles_labels()):
            shown.setdefault(label, handle)
        metric = next((h["metric"] for h in heads if h), "")
        ax.set_title(f"{family}: {metric}" + (" (lower is better)" if lower_is_better(metric) else ""), fontsize=9)
        ax.margins(y=0.15)
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    fig.legend(list(shown.values()), list(shown), loc="lower center", ncol=min(4, len(shown)), fontsize=8,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save(fig, folder / "domains.png").name


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def plot_benchmark(folder: Path, name: str, family: str, scores: dict[str, Any],
                   breakdown: dict[str, Any]) -> list[str]:
    """Every plot of one benchmark; returns their file names (relative to `folder`)."""
    out = []
    if "per_class" in breakdown:
        per_class = dict(breakdown["per_class"])
        if "probe" in breakdown:
            per_class[PROBE] = breakdown["probe"]["per_class_accuracy"]
        out.append(per_class_accuracy(folder / f"{name}-per-class.png", per_class, f"{name}: accuracy per class"))
        conf = breakdown.get("confusion") or {}
        if conf.get("labels") and conf.get("matrix"):
            out.append(confusion(folder / f"{name}-confusion.png", conf["labels"], conf["columns"], conf["matrix"],
                                 f"{name}: confusion matrix (model)"))
    if "per_mode" in breakdown:
        out.append(yes_ratio(folder / f"{name}-yes-ratio.png", breakdown["per_mode"],
                             f"{name}: yes-ratio per sampling mode"))
    if breakdown.get("per_prompt"):
        out.append(per_prompt(folder / f"{name}-per-prompt.png", breakdown["per_prompt"], "f1",
                              f"{name}: F1 per prompt wording"))
    if breakdown.get("per_group"):
        out.append(group_accuracy(folder / f"{name}-per-group.png", breakdown["per_group"],
                                  f"{name}: accuracy per {'question kind' if family == 'aqa' else 'group'}"))
    if "permutations" in breakdown:
        metric = next(iter(breakdown["permutations"]["spread"].get("model", {})), "accuracy")
        out.append(spread(folder / f"{name}-permutations.png", breakdown["permutations"]["spread"], metric,
                          f"{name}: {metric} over {breakdown['permutations']['k']} orders of the choices"))
    if family == "captioning":
        out.append(metric_bars(folder / f"{name}-metrics.png", scores,
                               ["bleu_1", "bleu_4", "meteor", "rouge_l", "cider_d", "spice", "spider",
                                "embedding_similarity"], f"{name}: caption metrics"))
    elif family == "speech":
        out.append(metric_bars(folder / f"{name}-metrics.png", scores, ["wer", "cer", "exact_match"],
                               f"{name}: WER and CER (lower is better), exact match (higher is better)"))
    elif not out or "per_sub_category" in breakdown:
        metrics = [m for m in scores.get("model", {}) if m not in ("unread", "judge_unread")]
        out.append(metric_bars(folder / f"{name}-metrics.png", scores, metrics, f"{name}: scores"))
    return [p.name for p in out]
