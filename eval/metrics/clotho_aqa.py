"""Clotho-AQA's own protocol (Lipping et al. 2022; the authors' baseline partha2409/AquaNet at
a3e02c6e64efdec5c9e264e3a3537755348ed9f5): every annotator's row is one test example, so a question
answered "yes", "yes", "no" by its three annotators counts three times and a "yes" earns 2 of 3.
Rows whose answer is yes/no form the binary task, the others the single-word task
(split_dataset.py), each scored by accuracy; answers compare case-insensitively.

The authors score a classifier; reading a free answer is ours: `eval.text.parse_yes_no` for
binary rows, and `eval.text.match_answer` for the others with every word answer of the items
scored as candidates (the authors' classifier chooses among all word answers of training; the
benchmark runner passes those of the whole split, so a --limit subset reads answers alike).
Their run_inference.py reads the validation CSV in test mode, so their published test numbers
may be validation numbers; that is theirs, not repeated here.

Items are the existing Clotho-AQA items of `eval.data` (source `clotho_aqa`): `reference["answers"]`
holds every annotator's answer (normalised by `eval.text.normalize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval.data import Item
from eval.text import match_answer, parse_yes_no

YES_NO = ("yes", "no")


def vocabulary(items: Sequence[Item]) -> list[str]:
    """The single-word answers a free answer is read against: every word answer of `items`."""
    return sorted({a for it in items for a in it.reference["answers"] if a not in YES_NO})


def rows(items: Sequence[Item], answers: Sequence[str | None],
         words: Sequence[str] | None = None) -> list[list[tuple[str, bool]]]:
    """Per item, per annotator row: ("binary" | "single_word", whether the answer gives that row's answer).
    `words`: the candidates of the single-word task (default: `vocabulary(items)`)."""
    words = list(words) if words is not None else vocabulary(items)
    out = []
    for it, answer in zip(items, answers, strict=True):
        yes_no = parse_yes_no(answer or "")
        word = match_answer(answer or "", words)
        out.append([("binary", yes_no == row) if row in YES_NO else ("single_word", word == row)
                    for row in it.reference["answers"]])
    return out


def score(items: Sequence[Item], answers: Sequence[str | None],
          words: Sequence[str] | None = None) -> dict[str, Any]:
    """accuracy (all rows), binary_accuracy, single_word_accuracy, and row counts."""
    hits: dict[str, list[bool]] = {"binary": [], "single_word": []}
    for item_rows in rows(items, answers, words):
        for kind, ok in item_rows:
            hits[kind].append(ok)
    every = hits["binary"] + hits["single_word"]

    def acc(xs: list[bool]) -> float:
        return sum(xs) / len(xs) if xs else float("nan")

    return {"accuracy": acc(every), "binary_accuracy": acc(hits["binary"]),
            "single_word_accuracy": acc(hits["single_word"]), "n_rows": len(every),
            "n_binary": len(hits["binary"]), "n_single_word": len(hits["single_word"])}
