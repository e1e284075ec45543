"""Top-1 accuracy, balanced (class-averaged) accuracy, per-class accuracy, confusion matrix and mean average
precision."""

from __future__ import annotations

from collections import Counter

import numpy as np


def accuracy(references: list[str], predictions: list[str]) -> float:
    if len(references) != len(predictions):
        raise ValueError("references and predictions differ in length")
    if not references:
        return float("nan")
    return sum(r == p for r, p in zip(references, predictions)) / len(references)


def per_class_accuracy(references: list[str], predictions: list[str]) -> dict[str, dict[str, float]]:
    """label -> {"accuracy", "support"}, most frequent label first."""
    support = Counter(references)
    hits = Counter(r for r, p in zip(references, predictions) if r == p)
    return {label: {"accuracy": hits[label] / n, "support": n}
            for label, n in sorted(support.items(), key=lambda kv: (-kv[1], kv[0]))}


def balanced_accuracy(references: list[str], predictions: list[str]) -> float:
    """The mean over true classes of each one's accuracy (its recall), so each class weighs the same however many
    items it has: always answering the most frequent class scores 1 / classes, on a split of any skew."""
    per_class = per_class_accuracy(references, predictions)
    return float(np.mean([c["accuracy"] for c in per_class.values()])) if per_class else float("nan")


def confusion_matrix(references: list[str], predictions: list[str], labels: list[str],
                     columns: list[str] | None = None, other: bool = False) -> list[list[int]]:
    """rows: true label in the order of `labels`; columns: predicted label in the order of `columns`
    (default `labels`), plus a last column counting predictions outside them when `other`."""
    columns = labels if columns is None else columns
    rows = {label: i for i, label in enumerate(labels)}
    cols = {label: j for j, label in enumerate(columns)}
    matrix = [[0] * (len(columns) + other) for _ in labels]
    for r, p in zip(references, predictions):
        if r not in rows:
            continue
        if p in cols:
            matrix[rows[r]][cols[p]] += 1
        elif other:
            matrix[rows[r]][-1] += 1
    return matrix


def average_precision(targets: np.ndarray, scores: np.ndarray) -> float:
    """AP of one class: mean of precision at the rank of each positive (ties broken by input order).

    `targets` is 0/1, `scores` higher = more likely; NaN when the class has no positive.
    """
    targets = np.asarray(targets, dtype=bool)
    if targets.sum() == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = targets[order]
    precision_at_k = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision_at_k[hits].mean())


def mean_average_precision(targets: np.ndarray, scores: np.ndarray) -> tuple[float, list[float]]:
    """(mAP over classes with at least one positive, per-class AP with NaN for the others).

    `targets` and `scores` are (N items, C classes).
    """
    targets, scores = np.asarray(targets), np.asarray(scores)
    per_class = [average_precision(targets[:, c], scores[:, c]) for c in range(targets.shape[1])]
    valid = [ap for ap in per_class if not np.isnan(ap)]
    return (float(np.mean(valid)) if valid else float("nan")), per_class
