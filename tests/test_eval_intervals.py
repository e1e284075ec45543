"""95% bootstrap intervals of headline scores, and the paired interval of a difference in `alm eval compare`."""

from __future__ import annotations

import math

import jiwer
import numpy as np
import pytest

from eval.compare import compare
from eval.metrics.intervals import bootstrap, clusters_of, headline_intervals, item_terms, paired_difference


def rows_of(system: str, **fields) -> list[dict]:
    n = len(next(iter(fields.values())))
    return [{"id": f"item-{i}", system: {k: v[i] for k, v in fields.items()}} for i in range(n)]


def test_an_accuracy_interval_is_as_wide_as_the_binomial_one():
    correct = [True] * 30 + [False] * 70
    rows = rows_of("model", correct=correct)
    out = headline_intervals("accuracy", [r["id"] for r in rows], rows, {"model": 0.3}, ("model",))
    low, high = out["ci95"]["model"]
    half = 1.96 * math.sqrt(0.3 * 0.7 / 100)  # the normal approximation: 0.090
    assert low < 0.3 < high
    assert abs((high - low) / 2 - half) < 0.2 * half


def test_wer_is_rebuilt_from_each_items_rate_and_reference_length():
    refs = ["the cat sat on the mat", "a dog", "one two three four five six seven eight"]
    hyps = ["the cat sat on mat", "a dog barks", "one two three for five six seven"]
    rows = rows_of("model", wer=[jiwer.wer(r, h) for r, h in zip(refs, hyps)], words=[len(r.split()) for r in refs])
    num, den = item_terms("wer", rows, "model")
    assert num.sum() / den.sum() == pytest.approx(jiwer.wer(refs, hyps))
    out = headline_intervals("wer", [r["id"] for r in rows], rows, {"model": jiwer.wer(refs, hyps)}, ("model",))
    low, high = out["ci95"]["model"]
    assert low <= jiwer.wer(refs, hyps) <= high


def test_a_score_the_items_do_not_rebuild_gets_no_interval_and_says_why():
    rows = rows_of("model", correct=[True, False, True, True])
    out = headline_intervals("accuracy", [r["id"] for r in rows], rows, {"model": 0.5, "no_audio": 0.25},
                             ("model", "no_audio"))
    assert out["ci95"] == {}
    assert "not the reported 0.5000" in out["ci95_unavailable"]["model"]
    assert "no per-item form" in out["ci95_unavailable"]["no_audio"]
    assert "map" not in headline_intervals("map", ["a", "b"], rows[:2], {"model": 0.4}, ("model",))["ci95"]


def test_the_reorderings_of_an_item_are_resampled_together():
    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    once = bootstrap(values, np.ones(5), clusters_of([f"q{i}" for i in range(5)]))
    ids = [f"q{i}#p{j}" for i in range(5) for j in range(3)]  # each item asked in three orders, alike
    thrice = bootstrap(np.repeat(values, 3), np.ones(15), clusters_of(ids))
    assert clusters_of(ids).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert thrice == once


def test_a_paired_difference_is_clear_only_where_the_items_show_it():
    rng = np.random.default_rng(1)
    a = rng.random(200) < 0.4
    same = paired_difference("accuracy", rows_of("model", correct=list(a)), rows_of("model", correct=list(a)))
    assert same["delta"] == 0 and same["ci95"] == [0.0, 0.0] and not same["clear"]
    better = a | (rng.random(200) < 0.5)  # B right wherever A is, and on about half the rest
    diff = paired_difference("accuracy", rows_of("model", correct=list(a)), rows_of("model", correct=list(better)))
    assert diff["delta"] == pytest.approx(better.mean() - a.mean()) and diff["clear"] and diff["ci95"][0] > 0
    one_flip = a.copy()
    one_flip[np.argmin(a)] = True  # one more item right of 200
    small = paired_difference("accuracy", rows_of("model", correct=list(a)), rows_of("model", correct=list(one_flip)))
    assert not small["clear"] and small["items"] == 200


def result(correct: list[bool]) -> dict:
    acc = sum(correct) / len(correct)
    return {"model": {"model": "m"}, "settings": {"limit": None}, "benchmarks": {"b": {
        "headline": {"metric": "accuracy", "model": acc}, "decoding": {}, "n_items": len(correct),
        "item_ids_hash": "h", "declaration": {}, "scores": {"model": {"accuracy": acc}},
        "items": rows_of("model", correct=correct)}}}


def test_compare_shows_the_paired_interval_and_bolds_a_clear_difference():
    a = [False] * 60 + [True] * 40
    b = [True] * 100
    text = compare(result(a), result(b))
    assert "B − A on shared items (95%)" in text
    assert "**+0.600** (" in text and "; 100 items)" in text
    assert "| +0.000 (+0.000 to +0.000; 100 items) |" in compare(result(a), result(a))
