"""The public benchmarks as declared (eval/benchmarks/*.yaml): items read from the fake published layouts
(tests/assets/eval_public) and every answering system scored by the authors' rules, with hand-computed
scores for the model, the no-audio and mismatched-audio answers, chance and majority; k orders of the
choices and their spread."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from eval import families
from eval.data import load_benchmark_data
from eval.registry import collect
from eval.runs import base_id, combine, item_runs
from eval.scored import CHANCE, MAJORITY, MISMATCHED, MODEL, NO_AUDIO

ROOT = Path(__file__).parent / "assets" / "eval_public"


@pytest.fixture(scope="module")
def benchmarks():
    return collect()


def _scored(bench, texts):
    """Scores by the authors' rules; every answering system's top-answer share (ours, tested in
    test_eval_floors.py) is checked for range and set aside so the authors' metrics compare exactly."""
    data = load_benchmark_data(bench, ROOT / bench.folder)
    scored = families.score(bench, data, texts, embedder=None)
    shares = [scored.scores[system].pop("top_answer_share") for system in texts]
    assert all(0 < share <= 1 for share in shares)
    return data, scored


def test_mmau_through_its_declaration(benchmarks):
    bench = benchmarks["mmau"]
    data, scored = _scored(bench, {MODEL: ["man", "It is a woman.", "violin"],   # all right
                                   NO_AUDIO: ["I cannot tell."] * 3,
                                   MISMATCHED: ["woman", "a child", "Piano"]})
    assert data.missing_audio == ["gone"] and data.release.startswith("unrecognised")
    s = scored.scores
    assert (s[MODEL]["accuracy"], s[NO_AUDIO]["accuracy"], s[MISMATCHED]["accuracy"]) == (1.0, 0.0, 0.0)
    assert s[CHANCE]["accuracy"] == pytest.approx((1 / 4 + 1 / 4 + 1 / 2) / 3)
    # right positions 0, 1, 1 -> always the second choice: "Woman" (wrong), "A woman", "Violin"
    assert s[MAJORITY]["accuracy"] == pytest.approx(2 / 3) and "choice 2" in scored.baselines[MAJORITY]
    assert scored.breakdown["per_group"][MODEL]["speech"] == {"accuracy": 1.0, "correct": 1, "n": 1}
    assert set(scored.breakdown["by"][MODEL]) == {"task", "difficulty", "sub-category"}
    head = families.headline(bench, scored)
    assert head["listens"] is True and head["beats_baselines"] is True


def test_air_bench_through_its_declaration(benchmarks):
    bench = benchmarks["air-bench-foundation"]
    _, scored = _scored(bench, {MODEL: ["B", "B", "A"], NO_AUDIO: ["A"] * 3,
                                   MISMATCHED: ["C", "Definitely B.", "I do not know"]})
    s = scored.scores
    assert s[MODEL] == {"accuracy": 1.0, "strict_accuracy": 1.0, "task_name_mean": 1.0, "unread": 0.0}
    assert s[NO_AUDIO]["accuracy"] == pytest.approx(1 / 3) and s[NO_AUDIO]["task_name_mean"] == 0.25
    # "Definitely B." reads D (first character); "I do not know" is a failure: out of accuracy, wrong in strict
    assert s[MISMATCHED]["accuracy"] == 0.0 and s[MISMATCHED]["unread"] == pytest.approx(1 / 3)
    assert s[CHANCE]["accuracy"] == pytest.approx(5 / 12) and s[CHANCE]["task_name_mean"] == pytest.approx(3 / 8)
    assert s[MAJORITY] == {"accuracy": pytest.approx(2 / 3), "strict_accuracy": pytest.approx(2 / 3),
                           "task_name_mean": 0.75}  # always B
    assert [row[MISMATCHED]["read"] for row in scored.items] == ["C", "D", None]


def test_kuan_pope_through_its_declaration(benchmarks):
    bench = benchmarks["audiocaps-pope"]
    data = load_benchmark_data(bench, ROOT / bench.folder)
    labels = [it.reference["answer"] for it in data.items]
    right = ["Yes" if lab == "yes" else "No" for lab in labels]
    scored = families.score(bench, data, {MODEL: right, NO_AUDIO: ["Yes"] * 8, MISMATCHED: ["No"] * 8}, None)
    s = scored.scores
    assert s[MODEL]["f1"] == 1.0 and s[MODEL]["yes_ratio"] == 0.5
    assert s[NO_AUDIO]["f1"] == 0.0 and s[NO_AUDIO]["yes_ratio"] == 1.0
    assert s[NO_AUDIO]["pope_f1"] == pytest.approx(2 / 3)
    assert s[MISMATCHED]["precision"] == 0.5 and s[MISMATCHED]["recall"] == 1.0
    assert s[MISMATCHED]["f1"] == pytest.approx(2 / 3)
    assert (s[CHANCE]["precision"], s[CHANCE]["f1"]) == (0.5, 0.5)
    assert "'Yes'" in scored.baselines[MAJORITY] and s[MAJORITY]["f1"] == 0.0
    assert list(scored.breakdown["per_mode"]["truth"]) == ["random", "adversarial"]
    spread = scored.breakdown["prompt_spread"][MODEL]
    assert spread["all"]["accuracy"] == {"mean": 1.0, "std": 0.0, "min": 1.0, "max": 1.0, "n": 4}
    assert set(spread) == {"all", "random", "adversarial"}
    assert families.headline(bench, scored)["listens"] is True  # f1 1.0 against 0.0 and 0.667


def test_cmm_through_its_declaration(benchmarks):
    bench = benchmarks["cmm"]
    data, scored = _scored(bench, {MODEL: ["Yes, a dog", "No.", "yes", "no"], NO_AUDIO: ["No"] * 4,
                                   MISMATCHED: ["No", "Yes", "No", "Yes"]})
    assert data.skipped == {"needs video": 1} and data.missing_audio == ["0005-gone"]
    s = scored.scores
    assert s[MODEL] == {"accuracy": 1.0, "perception_accuracy": 1.0, "hallucination_resistance": 1.0,
                        "yes_ratio": 0.5}
    assert s[NO_AUDIO] == {"accuracy": 0.5, "perception_accuracy": 0.0, "hallucination_resistance": 1.0,
                           "yes_ratio": 0.0}
    assert s[MISMATCHED]["accuracy"] == 0.0
    assert s[MAJORITY] == {"accuracy": 0.5, "perception_accuracy": 1.0, "hallucination_resistance": 0.0,
                           "yes_ratio": 1.0}
    assert scored.breakdown["per_granularity"][MODEL]["event-level"]["audio-language"]["accuracy"] == 1.0


def test_clotho_aqa_annotator_rows_through_its_declaration(benchmarks):
    bench = benchmarks["clotho-aqa"]
    data, scored = _scored(bench, {MODEL: ["Yes.", "Birds.", "No.", "An engine."],
                                   NO_AUDIO: ["I cannot tell."] * 4,      # "cannot" reads as no
                                   MISMATCHED: ["No", "An engine", "Yes", "Birds"]})
    assert data.missing_audio == ["gone.wav"]
    assert [it.reference["answers"] for it in data.items] == [["yes", "yes", "no"], ["birds", "bird", "birds"],
                                                              ["no", "no", "no"], ["engine", "engine", "motor"]]
    assert data.items[0].audio[0].end is None  # the whole clip, not the corpus adapters' 10 s
    s = scored.scores
    # rows right: 2 of 3, 2 of 3, 3 of 3, 2 of 3
    assert s[MODEL] == {"accuracy": 0.75, "binary_accuracy": pytest.approx(5 / 6),
                        "single_word_accuracy": pytest.approx(2 / 3)}
    assert s[NO_AUDIO]["accuracy"] == pytest.approx(4 / 12) and s[NO_AUDIO]["single_word_accuracy"] == 0.0
    assert s[MISMATCHED]["accuracy"] == pytest.approx(1 / 12)
    # chance: 1/2 on the 6 yes/no rows, 1/4 on the 6 word rows (bird, birds, engine, motor)
    assert s[CHANCE] == {"accuracy": 0.375, "binary_accuracy": 0.5, "single_word_accuracy": 0.25}
    # majority: "no" to yes/no questions, "birds" (tied with engine, first in order) to the others
    assert s[MAJORITY] == {"accuracy": 0.5, "binary_accuracy": pytest.approx(2 / 3),
                           "single_word_accuracy": pytest.approx(1 / 3)}
    assert [round(row[MODEL]["rows_right"], 3) for row in scored.items] == [0.667, 0.667, 1.0, 0.667]


def test_k_orders_of_the_choices_mean_and_spread(benchmarks):
    bench = benchmarks["mmau"]
    data = load_benchmark_data(bench, ROOT / bench.folder)
    runs = item_runs(bench, data, 3)
    assert len(runs) == 3 and [it.id for it in runs[1].items] == ["m1#p1", "m2#p1", "m3#p1"]
    assert [base_id(it.id) for it in runs[2].items] == ["m1", "m2", "m3"]
    assert runs[0].items[0].reference["choices"] == ["Man", "Woman", "Child", "Robot"]
    # a model that always gives the first listed choice: right where the answer was moved to the front
    scored = []
    for run in runs:
        first = [it.reference["choices"][0] for it in run.items]
        scored.append(families.score(bench, run, {MODEL: first, NO_AUDIO: ["?"] * 3, MISMATCHED: first}, None))
    per_run = [sum(it.reference["answer_index"] == 0 for it in run.items) / 3 for run in runs]
    combined = combine(scored)
    spread = combined.breakdown["permutations"]["spread"][MODEL]["accuracy"]
    assert combined.scores[MODEL]["accuracy"] == pytest.approx(sum(per_run) / 3) == pytest.approx(spread["mean"])
    assert (spread["min"], spread["max"], spread["n"]) == (min(per_run), max(per_run), 3)
    mean = sum(per_run) / 3
    assert spread["std"] == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in per_run) / 2))
    always = [all(run.items[i].reference["answer_index"] == 0 for run in runs) for i in range(3)]
    assert combined.breakdown["permutations"]["consistency"][MODEL] == pytest.approx(sum(always) / 3)
    assert len(combined.items) == 9 and combined.breakdown["permutations"]["k"] == 3
    assert item_runs(benchmarks["cmm"], data, 3) == [data]  # not multiple choice: one run
