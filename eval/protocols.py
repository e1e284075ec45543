"""Scoring with the benchmark authors' own rules (`eval.metrics.token_match`, `air_bench`,
`kuan_pope`, `cmm`, `clotho_aqa`), shaped like the families' scoring: every answering system
(model, no audio, mismatched audio) read and scored the same way, into a `Scored`, plus chance and
majority baselines. A majority baseline is the authors' scorer applied to a constant answer (the
most frequent right choice position, "Yes" or "No" ...), so it is exact; chance is the expected
score of a uniform guess.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from eval.data import BenchmarkData, Item
from eval.metrics import air_bench, clotho_aqa, cmm, kuan_pope, token_match
from eval.registry import Benchmark
from eval.scored import CHANCE, MAJORITY, Scored, per_item

MODES = ("random", "popular", "adversarial")
KUAN_KEYS = ("accuracy", "precision", "recall", "f1", "yes_ratio", "unread", "pope_precision", "pope_recall",
             "pope_f1")
CMM_KEYS = ("accuracy", "perception_accuracy", "hallucination_resistance", "yes_ratio")
ROW_KEYS = ("accuracy", "binary_accuracy", "single_word_accuracy")


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def _top(counts: Counter) -> Any:
    """The most frequent key (ties: the smallest)."""
    return min(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[0]


def _pick(scores: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: scores[k] for k in keys if k in scores}


# ------------------------------------------------------------------------------------ multiple choice
def _majority_position(data: BenchmarkData) -> int:
    return _top(Counter(it.reference["answer_index"] for it in data.pool or data.items))


def _chance(items: Sequence[Item]) -> float:
    return _mean([1 / len(it.reference["choices"]) for it in items])


def score_token_match(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder=None) -> Scored:
    """MMAU / MMAR: the authors' token-set match; accuracy overall and per `breakdown` field."""
    items = data.items
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    by: dict[str, Any] = {}
    for system, answers in texts.items():
        s = token_match.score(items, answers, bench.breakdown)
        scores[system], by[system] = {"accuracy": s["accuracy"]}, s["by"]
        fields[system] = {"correct": token_match.correct(items, answers)}
    p = _majority_position(data)
    constant = [it.reference["choices"][p] if p < len(it.reference["choices"]) else "" for it in items]
    scores[CHANCE] = {"accuracy": _chance(items)}
    scores[MAJORITY] = {"accuracy": token_match.score(items, constant)["accuracy"]}
    breakdown: dict[str, Any] = {"by": by}
    if bench.breakdown:
        breakdown["per_group"] = {s: v[bench.breakdown[0]] for s, v in by.items()}
    baselines = {CHANCE: "a uniform guess among each item's choices (expected accuracy)",
                 MAJORITY: f"always the text of choice {p + 1}, the benchmark's most frequent right position"}
    notes = [("read by the authors' token-set match: right when the answer holds every word of the right choice "
              "and no word that only a wrong choice has; a bare letter is wrong")]
    return Scored(scores, baselines, breakdown, per_item(texts, fields), notes)


def score_air_bench(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder=None) -> Scored:
    """AIR-Bench Foundation: the authors' letter reading; failures left out of `accuracy`, wrong in `strict`."""
    items = data.items
    truth = [air_bench.LETTERS[it.reference["answer_index"]] for it in items]
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    per_task: dict[str, Any] = {}
    for system, answers in texts.items():
        s = air_bench.score(items, answers)
        scores[system] = {**_pick(s, ("accuracy", "strict_accuracy", "task_name_mean")),
                          "unread": s["failed"] / len(items)}
        per_task[system] = s["per_task_name"]
        fields[system] = {"read": s["letters"], "correct": [x == t for x, t in zip(s["letters"], truth)]}
    p = _majority_position(data)
    by_name: dict[str, list[float]] = {}
    for it in items:
        by_name.setdefault(it.info["task_name"], []).append(1 / len(it.reference["choices"]))
    chance = _chance(items)
    scores[CHANCE] = {"accuracy": chance, "strict_accuracy": chance,
                      "task_name_mean": _mean([_mean(v) for v in by_name.values()])}
    scores[MAJORITY] = _pick(air_bench.score(items, [air_bench.LETTERS[p]] * len(items)),
                             ("accuracy", "strict_accuracy", "task_name_mean"))
    baselines = {CHANCE: "a uniform guess among each item's choices (expected accuracy)",
                 MAJORITY: f"always {air_bench.LETTERS[p]}, the benchmark's most frequent right letter"}
    notes = [("read as the authors' score_foundation.py: the answer's first character, else its second-to-last, "
              "must be A-D; other answers are failures, left out of `accuracy` (as the authors) and wrong in "
              "`strict_accuracy`; `unread` is their share")]
    return Scored(scores, baselines, {"per_task": per_task, "per_group": per_task}, per_item(texts, fields), notes)


# ------------------------------------------------------------------------------------ yes/no probes
def _modes_in(items: Sequence[Item]) -> list[str]:
    present = list(dict.fromkeys(it.reference["mode"] for it in items))
    return [m for m in MODES if m in present] + [m for m in present if m not in MODES]


def score_kuan_pope(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder=None) -> Scored:
    """POPE-style (Kuan et al. 2024): their answer reading; precision, recall and F1 of "no"; per mode and prompt."""
    items = data.items
    labels = [str(it.reference["answer"]).lower() for it in items]
    modes = _modes_in(items)
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    per_mode: dict[str, Any] = {}
    spread: dict[str, Any] = {}
    per_prompt: dict[str, Any] = {}
    for system, answers in texts.items():
        s = kuan_pope.score(items, answers)
        scores[system] = _pick(s, KUAN_KEYS)
        per_mode[system] = {m: _pick(s["per_mode"][m], KUAN_KEYS) for m in modes}
        spread[system] = {"all": s["prompt_spread"], **{m: s["per_mode"][m]["prompt_spread"] for m in modes}}
        per_prompt[system] = {str(p): _pick(v, KUAN_KEYS) for p, v in s["per_prompt"].items()}
        fields[system] = {"read": s["read"], "correct": [r == lab for r, lab in zip(s["read"], labels)]}
    per_mode["truth"] = {m: {"yes_ratio": _mean([lab == "yes" for lab, it in zip(labels, items)
                                                 if it.reference["mode"] == m])} for m in modes}
    negatives = labels.count("no") / len(labels)
    yes = 1 - negatives
    scores[CHANCE] = {"accuracy": 0.5, "precision": negatives, "recall": 0.5,
                      "f1": 2 * negatives * 0.5 / (negatives + 0.5) if negatives else 0.0, "yes_ratio": 0.5,
                      "pope_precision": yes, "pope_recall": 0.5, "pope_f1": 2 * yes * 0.5 / (yes + 0.5) if yes else 0.0}
    pool = [str(it.reference["answer"]).lower() for it in data.pool or items]
    constant = "Yes" if pool.count("yes") * 2 >= len(pool) else "No"
    scores[MAJORITY] = _pick(kuan_pope.score(items, [constant] * len(items)), KUAN_KEYS)
    scores[MAJORITY].pop("unread", None)
    baselines = {CHANCE: "a fair coin (expected values)", MAJORITY: f"always {constant!r}"}
    notes = [('read by the authors\' evaluation.py (case-sensitive substrings: "Yes"/"yes" anywhere means yes); '
              'precision, recall and f1 take "no" as the positive class as their script does; pope_* take "yes" '
              "(POPE's convention); `unread` answers count as wrong")]
    breakdown = {"per_mode": per_mode, "prompt_spread": spread, "per_prompt": per_prompt}
    return Scored(scores, baselines, breakdown, per_item(texts, fields), notes)


def score_cmm(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder=None) -> Scored:
    """CMM: perception accuracy (yes probes), hallucination resistance (no probes), accuracy."""
    items = data.items
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    per_sub: dict[str, Any] = {}
    per_granularity: dict[str, Any] = {}
    for system, answers in texts.items():
        s = cmm.score(items, answers)
        scores[system] = _pick(s, CMM_KEYS)
        per_sub[system], per_granularity[system] = s["per_sub_category"], s["per_granularity"]
        fields[system] = {"correct": cmm.correct(items, answers)}
    scores[CHANCE] = {"accuracy": 0.5, "perception_accuracy": 0.5, "hallucination_resistance": 0.5, "yes_ratio": 0.5}
    pool = [str(it.reference["answer"]).strip().lower() for it in data.pool or items]
    constant = "yes" if pool.count("yes") * 2 >= len(pool) else "no"
    scores[MAJORITY] = _pick(cmm.score(items, [constant] * len(items)), CMM_KEYS)
    baselines = {CHANCE: "a fair coin (expected values)", MAJORITY: f"always {constant!r}"}
    notes = [("read as the authors' calculate_score.py: right when the reference word is in the answer's first "
              "five characters (lower-cased); perception accuracy on yes probes, hallucination resistance on no "
              "probes")]
    breakdown = {"per_sub_category": per_sub, "per_granularity": per_granularity}
    return Scored(scores, baselines, breakdown, per_item(texts, fields), notes)


# ------------------------------------------------------------------------------------ Clotho-AQA rows
def score_annotator_rows(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]],
                         embedder=None) -> Scored:
    """Clotho-AQA's protocol: every annotator's row is an example; binary and single-word accuracy."""
    items = data.items
    words = clotho_aqa.vocabulary(data.pool or items)
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    for system, answers in texts.items():
        scores[system] = _pick(clotho_aqa.score(items, answers, words), ROW_KEYS)
        hits = clotho_aqa.rows(items, answers, words)
        fields[system] = {"rows_right": [_mean([ok for _, ok in r]) for r in hits],
                          "correct": [bool(r) and all(ok for _, ok in r) for r in hits]}
    rows = [a for it in items for a in it.reference["answers"]]
    binary = [a in clotho_aqa.YES_NO for a in rows]
    per_row = [0.5 if b else 1 / len(words) for b in binary]
    scores[CHANCE] = {"accuracy": _mean(per_row), "binary_accuracy": 0.5 if any(binary) else float("nan"),
                      "single_word_accuracy": 1 / len(words) if words and not all(binary) else float("nan")}
    pool_rows = [a for it in data.pool or items for a in it.reference["answers"]]
    top_binary = _top(Counter(a for a in pool_rows if a in clotho_aqa.YES_NO) or Counter(["yes"]))
    top_word = _top(Counter(a for a in pool_rows if a not in clotho_aqa.YES_NO) or Counter([""]))
    constant = [top_binary if it.reference.get("kind") == "yes_no" else top_word for it in items]
    scores[MAJORITY] = _pick(clotho_aqa.score(items, constant, words), ROW_KEYS)
    baselines = {CHANCE: f"a uniform guess: yes/no on binary rows, one of the {len(words)} word answers on the others",
                 MAJORITY: f"always {top_binary!r} to yes/no questions and {top_word!r} to the others"}
    notes = [("Clotho-AQA's protocol: every annotator's answer is a test row (a question counts three times); "
              "yes/no read by eval.text.parse_yes_no, words matched against every word answer of the split")]
    return Scored(scores, baselines, {}, per_item(texts, fields), notes)


SCORERS = {
    "token_match": score_token_match,
    "air_bench": score_air_bench,
    "kuan_pope": score_kuan_pope,
    "cmm": score_cmm,
    "annotator_rows": score_annotator_rows,
}
