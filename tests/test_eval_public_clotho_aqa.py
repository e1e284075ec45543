"""Clotho-AQA's own protocol (one example per annotator row) on the existing Clotho-AQA items."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.data import Item, load_benchmark_data
from eval.metrics import clotho_aqa
from eval.registry import parse_benchmark

LAYOUT = Path(__file__).parent / "assets" / "instruction_data" / "clotho_aqa"  # the adapter tests' fake copy


def _item(answers: list[str]) -> Item:
    return Item("q", [], "?", {"answers": answers})


def test_every_annotator_row_counts():
    items = [_item(["yes", "yes", "no"]), _item(["rain", "rain", "water"]), _item(["2", "3", "3"])]
    scores = clotho_aqa.score(items, ["Yes, it is.", "Water is falling", "Three times."])
    # yes: 2 of 3 rows; water: 1 of 3; "three" -> "3": 2 of 3
    assert scores["binary_accuracy"] == pytest.approx(2 / 3)
    assert scores["single_word_accuracy"] == pytest.approx(3 / 6)
    assert scores["accuracy"] == pytest.approx(5 / 9)
    assert (scores["n_rows"], scores["n_binary"], scores["n_single_word"]) == (9, 3, 6)


def test_mixed_rows_and_unread_answers():
    scores = clotho_aqa.score([_item(["no", "no", "dog"])], [None])
    assert scores["binary_accuracy"] == 0.0 and scores["single_word_accuracy"] == 0.0


def test_on_the_existing_reader_of_the_published_layout():
    bench = parse_benchmark({"name": "clotho-aqa-train", "family": "aqa", "metric": "accuracy",
                             "data": {"source": "clotho_aqa", "split": "train"}, "prompts": ["{question}"]},
                            Path("clotho-aqa-train.yaml"))
    items = load_benchmark_data(bench, LAYOUT).items  # "Is it raining?" yes/yes/no; "What is falling?" rain/rain/water
    by_question = {it.question: it for it in items}
    answers = {"Is it raining?": "Yes, it is raining.", "What is falling?": "Water is falling."}
    scores = clotho_aqa.score(items, [answers[it.question] for it in items])
    assert by_question["Is it raining?"].reference["answers"] == ["yes", "yes", "no"]
    assert scores["binary_accuracy"] == pytest.approx(2 / 3) and scores["single_word_accuracy"] == pytest.approx(1 / 3)
    assert scores["accuracy"] == 0.5
