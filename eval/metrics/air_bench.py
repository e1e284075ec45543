"""AIR-Bench Foundation's scoring (OFA-Sys/AIR-Bench score_foundation.py at
983247666e2a25519b5c122810c2bcd91f26fd8d, unchanged since b0f27963a813a8b8685e0f31a615e45a6051ba51).

The answer, with surrounding space and newlines removed, gives a letter when its first character
is A, B, C or D, else when its second-to-last one is ("The answer is B."). Otherwise (and for an
empty answer) it is a failure: the authors leave failures out of the accuracy and print their
number. Accuracy is reported per task (task_name_dataset_name) as their script does; we add the
overall accuracy, the mean over task names (their leaderboard's "Average" is over its 19 task
rows), and `strict_accuracy`, which counts failures as wrong.

Not reproduced: their optional step that asks GPT to map free answers to a letter
(align_in_foundation.py); answers here must give the letter themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval.data import Item
from eval.metrics.aggregate import accuracy_by

LETTERS = "ABCD"


def read_letter(answer: str | None) -> str | None:
    """The authors' reading of a response: a letter, or None for a failure."""
    text = (answer or "").strip().replace("\n", "")
    if not text or text == "None":
        return None
    if text[0] in LETTERS:
        return text[0]
    if len(text) > 1 and text[-2] in LETTERS:
        return text[-2]
    return None


def score(items: Sequence[Item], answers: Sequence[str | None]) -> dict[str, Any]:
    """accuracy (failures left out), strict_accuracy, failed, per_task, per_task_name, task_name_mean."""
    letters = [read_letter(a) for a in answers]
    truth = [LETTERS[it.reference["answer_index"]] for it in items]
    read = [(it, letter == t) for it, letter, t in zip(items, letters, truth, strict=True) if letter is not None]
    ok = [good for _, good in read]
    per_name = accuracy_by([it.info["task_name"] for it, _ in read], ok)
    nan = float("nan")
    return {"accuracy": sum(ok) / len(ok) if ok else nan,
            "strict_accuracy": sum(ok) / len(items) if items else nan,
            "failed": len(items) - len(read), "n": len(items),
            "task_name_mean": sum(v["accuracy"] for v in per_name.values()) / len(per_name) if per_name else nan,
            "per_task": accuracy_by([it.info["task"] for it, _ in read], ok), "per_task_name": per_name,
            "letters": letters}
