"""Multiple-choice robustness: deterministic permutations of the choices, and the spread of a
score over them; plus the anchors' numbers table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from eval.metrics import token_match
from eval.metrics.aggregate import accuracy_by, consistency, over_runs, spread
from eval.public import READERS, anchors, mmau
from eval.public.permute import permutation_runs, permute_choices

ASSETS = Path(__file__).parent / "assets" / "eval_public"


@pytest.fixture(scope="module")
def items():
    return mmau.load(ASSETS / "mmau").items  # m1: 4 choices (answer "Man"), m3: 2 choices (answer "Violin")


def test_permutations_are_distinct_deterministic_and_track_the_answer(items):
    m1 = items[0]
    perms = permute_choices(m1, 5, seed=0)
    assert [p.index for p in perms] == [0, 1, 2, 3, 4]
    assert perms[0].order == (0, 1, 2, 3) and perms[0].choices == m1.reference["choices"]
    assert len({p.order for p in perms}) == 5
    assert all(p.choices[p.answer_index] == "Man" and sorted(p.choices) == sorted(m1.reference["choices"])
               for p in perms)
    assert permute_choices(m1, 5, seed=0) == perms
    assert permute_choices(m1, 5, seed=1) != perms


def test_permutations_repeat_when_the_orders_run_out(items):
    m3 = items[2]
    perms = permute_choices(m3, 5, seed=0)
    assert [p.choices for p in perms] == [["Piano", "Violin"], ["Violin", "Piano"]] * 2 + [["Piano", "Violin"]]
    assert [p.answer_index for p in perms] == [1, 0, 1, 0, 1]


def test_permutation_runs_rerender_the_prompt(items):
    runs = permutation_runs(items, 3, seed=0, render=mmau.render)
    assert len(runs) == 3 and all(len(run) == len(items) for run in runs)
    second = runs[1][0]
    assert second.id == "m1#p1" and second.info["permutation"] == 1
    assert second.question.splitlines()[2:6] == second.reference["choices"]
    assert second.reference["choices"][second.reference["answer_index"]] == "Man"
    assert items[0].reference["choices"] == ["Man", "Woman", "Child", "Robot"]  # the original is untouched


def test_spread_over_permutations_of_a_model_that_always_picks_the_first_choice(items):
    runs = permutation_runs([items[2]], 2, seed=0, render=mmau.render)  # (Piano, Violin), then (Violin, Piano)
    firsts = [[it.reference["choices"][0] for it in run] for run in runs]
    scores = [token_match.score(run, answers) for run, answers in zip(runs, firsts)]
    assert [s["accuracy"] for s in scores] == [0.0, 1.0]
    summary = over_runs(scores)["accuracy"]
    assert summary == {"mean": 0.5, "std": pytest.approx(math.sqrt(0.5)), "min": 0.0, "max": 1.0, "n": 2}
    assert consistency([token_match.correct(run, a) for run, a in zip(runs, firsts)]) == 0.0


def test_spread_and_group_accuracy_by_hand():
    assert spread([0.5, 0.75, 1.0]) == {"mean": 0.75, "std": 0.25, "min": 0.5, "max": 1.0, "n": 3}
    assert spread([0.4, float("nan")]) == {"mean": 0.4, "std": 0.0, "min": 0.4, "max": 0.4, "n": 1}
    assert spread([])["n"] == 0 and math.isnan(spread([])["mean"])
    assert set(over_runs([{"accuracy": 0.5, "n": 4, "by": {}}, {"accuracy": 1.0, "n": 4}])) == {"accuracy", "n"}
    assert consistency([[True, True, False], [True, False, False]]) == pytest.approx(1 / 3)
    assert accuracy_by(["a", "b", "a"], [True, False, False]) == {
        "a": {"accuracy": 0.5, "correct": 1, "n": 2}, "b": {"accuracy": 0.0, "correct": 0, "n": 1}}
    with pytest.raises(ValueError):
        permute_choices(None, 0)


def test_anchor_table_and_readers():
    mmau_rows = {(a.system, a.value) for a in anchors.for_benchmark("mmau")}
    assert {("Audio Flamingo 3", 73.3), ("Qwen3-Omni-30B-A3B", 77.5)} <= mmau_rows
    pope = anchors.for_benchmark("audiocaps-pope")
    assert sorted(a.value for a in pope) == [45.0, 53.0, 73.0, 83.0] and all(a.approximate for a in pope)
    assert {a.benchmark for a in anchors.ANCHORS} <= {"mmau", "mmar", "cmm", "clotho-aqa", "audiocaps-pope",
                                                      "pope-style"}
    assert all(0 < a.value <= 100 and a.metric and a.source for a in anchors.ANCHORS)
    assert set(READERS) == {"mmau", "mmar", "cmm", "audiocaps_pope", "air_bench_foundation"}
