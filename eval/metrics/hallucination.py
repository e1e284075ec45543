"""POPE-style yes/no scores: accuracy, precision, recall, F1 (positive = "yes") and yes-ratio."""

from __future__ import annotations


def yes_no_scores(references: list[str], predictions: list[str | None]) -> dict[str, float]:
    """`references` are "yes"/"no"; a prediction of None (neither) counts as not-yes and as wrong.

    precision = TP / (TP + FP); recall = TP / (TP + FN); F1 their harmonic mean (0 when both are 0);
    yes_ratio = share of answers that are "yes" (a model that hallucinates says yes too often).
    """
    if len(references) != len(predictions):
        raise ValueError("references and predictions differ in length")
    n = len(references)
    if n == 0:
        return {k: float("nan") for k in ("accuracy", "precision", "recall", "f1", "yes_ratio", "unparsed")}
    tp = sum(r == "yes" and p == "yes" for r, p in zip(references, predictions))
    fp = sum(r == "no" and p == "yes" for r, p in zip(references, predictions))
    fn = sum(r == "yes" and p != "yes" for r, p in zip(references, predictions))
    correct = sum(r == p for r, p in zip(references, predictions))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": correct / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "yes_ratio": sum(p == "yes" for p in predictions) / n,
        "unparsed": sum(p is None for p in predictions) / n,
    }
