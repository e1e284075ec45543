"""PNG plots (matplotlib, Agg backend): per-class accuracy, confusion matrix, yes-ratio per
negative-sampling mode, accuracy per question group, caption and speech metrics per system."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from alm.files import atomic_write_bytes

COLORS = {"model": "#1f77b4", "no_audio": "#ff7f0e", "truth": "#7f7f7f", "chance": "#bcbd22", "majority": "#9467bd"}
LABELS = {"model": "model", "no_audio": "same LLM, no audio", "truth": "ground truth", "chance": "chance",
          "majority": "majority"}
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


def _grouped_bars(ax, groups: list[str], series: dict[str, list[float]], values_on_bars: bool = False) -> None:
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for k, (name, values) in enumerate(series.items()):
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, values, width, label=LABELS.get(name, name),
                      color=COLORS.get(name))
        if values_on_bars:
            ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=60 if len(groups) > 6 else 0, ha="right" if len(groups) > 6 else "center",
                       fontsize=8)
    ax.legend(fontsize=8)


def per_class_accuracy(path: Path, per_class: dict[str, dict[str, dict[str, float]]], title: str) -> Path:
    """Bars per class (most frequent first): model vs no-audio accuracy."""
    plt = _pyplot()
    classes = list(per_class.get("model", {}))[:MAX_BARS]
    series = {s: [per_class[s].get(c, {}).get("accuracy", 0.0) for c in classes] for s in ("model", "no_audio")
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
    series = {s: [per_mode[s][m]["yes_ratio"] for m in modes] for s in ("model", "no_audio", "truth") if s in per_mode}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    _grouped_bars(ax, modes, series, values_on_bars=True)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel('share of "yes" answers')
    ax.set_xlabel("negative sampling mode")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def group_accuracy(path: Path, per_group: dict[str, dict[str, dict[str, float]]], title: str) -> Path:
    plt = _pyplot()
    groups = list(per_group.get("model", {}))[:MAX_BARS]
    series = {s: [per_group[s][g]["accuracy"] for g in groups] for s in ("model", "no_audio") if s in per_group}
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(groups) + 2), 4.2))
    _grouped_bars(ax, [f"{g} ({per_group['model'][g]['support']})" for g in groups], series, values_on_bars=True)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (majority answer)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def metric_bars(path: Path, scores: dict[str, dict[str, Any]], metrics: list[str], title: str) -> Path:
    """One group of bars per metric, one bar per system (numeric values only)."""
    plt = _pyplot()
    systems = [s for s in ("model", "no_audio", "chance", "majority") if s in scores]
    metrics = [m for m in metrics if any(isinstance(scores[s].get(m), (int, float)) for s in systems)]
    series = {s: [float(scores[s].get(m)) if isinstance(scores[s].get(m), (int, float)) else 0.0 for m in metrics]
              for s in systems}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(metrics) + 2), 4))
    _grouped_bars(ax, metrics, series, values_on_bars=True)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_benchmark(folder: Path, name: str, family: str, scores: dict[str, Any],
                   breakdown: dict[str, Any]) -> list[str]:
    """Every plot of one benchmark; returns their file names (relative to `folder`)."""
    out = []
    if family == "classification":
        out.append(per_class_accuracy(folder / f"{name}-per-class.png", breakdown["per_class"],
                                      f"{name}: accuracy per class"))
        conf = breakdown.get("confusion") or {}
        if conf.get("labels") and conf.get("matrix"):
            out.append(confusion(folder / f"{name}-confusion.png", conf["labels"], conf["columns"], conf["matrix"],
                                 f"{name}: confusion matrix (model)"))
    elif family == "hallucination":
        out.append(yes_ratio(folder / f"{name}-yes-ratio.png", breakdown["per_mode"],
                             f"{name}: yes-ratio per sampling mode"))
    elif family == "aqa":
        out.append(group_accuracy(folder / f"{name}-per-group.png", breakdown["per_group"],
                                  f"{name}: accuracy per question kind"))
    elif family == "captioning":
        out.append(metric_bars(folder / f"{name}-metrics.png", scores,
                               ["bleu_1", "bleu_4", "meteor", "rouge_l", "cider_d", "spice", "spider",
                                "embedding_similarity"], f"{name}: caption metrics"))
    elif family == "speech":
        out.append(metric_bars(folder / f"{name}-metrics.png", scores, ["wer", "cer", "exact_match"],
                               f"{name}: WER and CER (lower is better), exact match (higher is better)"))
    return [p.name for p in out]
