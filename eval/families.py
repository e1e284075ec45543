"""Scoring one benchmark: the model, the same LLM without audio and with another item's audio, and
chance / majority baselines.

Each family turns free-text answers into what its metrics need (a label, a yes/no, a word, a
caption), scores every answering system the same way and returns a `Scored`: scores per system, a
breakdown for the plots (per class, per sampling mode, per question group) and what was read
from each item's answers. The benchmark authors' own scorers (MMAU's token match, AIR-Bench's
letters, Kuan et al.'s POPE, CMM, Clotho-AQA's annotator rows) live in `eval.protocols`;
`score` dispatches on the declaration's `scorer`.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np

from eval import protocols
from eval.by_source import per_source
from eval.data import BenchmarkData
from eval.embed import LabelMapper
from eval.metrics.aggregate import accuracy_by
from eval.metrics.aqa import YES_NO, AqaReference, aqa_scores, majority, read_answer
from eval.metrics.captioning import CaptionScorer
from eval.metrics.classification import (accuracy, balanced_accuracy, confusion_matrix, mean_average_precision,
                                         per_class_accuracy)
from eval.metrics.collapse import distinct_answers, read_value, top_share, truth_value
from eval.metrics.hallucination import yes_no_scores
from eval.metrics.speech import item_scores, normalize_transcript, read_transcript, speech_scores
from eval.registry import Benchmark, lower_is_better
from eval.scored import ANSWERING, ASR, CHANCE, MAJORITY, MISMATCHED, MODEL, NO_AUDIO, PROBE, SYSTEMS, Scored
from eval.scored import per_item as _per_item
from eval.text import parse_pope

CONFUSION_MAX = 30              # true classes (rows) kept in the stored confusion matrix
EXTRA_COLUMNS = 5               # + the classes most often predicted outside them, + one "other" column
OTHER = "(other)"


# ------------------------------------------------------------------------------------ classification
def score_classification(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder) -> Scored:
    items = data.items
    truth = [it.reference["label"] for it in items]
    mapper = LabelMapper(data.labels, embedder)
    multi = LabelMapper(data.multi_labels, embedder) if data.multi_labels else None
    targets = (np.array([[lab in it.reference["labels"] for lab in data.multi_labels] for it in items])
               if multi else None)
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    per_class: dict[str, Any] = {}
    for system, answers in texts.items():
        predicted = mapper.map(answers)
        scores[system] = {"accuracy": accuracy(truth, predicted),
                          "balanced_accuracy": balanced_accuracy(truth, predicted)}
        fields[system] = {"label": predicted, "correct": [p == t for p, t in zip(predicted, truth)]}
        if multi is not None:
            sims = multi.scores(answers)
            top = [data.multi_labels[j] for j in sims.argmax(1)]
            scores[system]["hit_at_1"] = float(np.mean([t in it.reference["labels"] for t, it in zip(top, items)]))
            scores[system]["map"], _ = mean_average_precision(targets, sims)
        per_class[system] = per_class_accuracy(truth, predicted)
    support = Counter(truth)
    pool = data.pool or items  # the majority class is the benchmark's, not the subset's
    top_label = sorted(Counter(it.reference["label"] for it in pool).items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    scores[CHANCE] = {"accuracy": 1 / len(data.labels), "balanced_accuracy": 1 / len(data.labels)}
    scores[MAJORITY] = {"accuracy": truth.count(top_label) / len(items),
                        "balanced_accuracy": balanced_accuracy(truth, [top_label] * len(truth))}
    baselines = {CHANCE: f"a uniform guess among {len(data.labels)} classes",
                 MAJORITY: f"always the benchmark's most frequent class ({top_label!r})"}
    if multi is not None:
        prevalence = targets.mean(0)
        scores[CHANCE]["hit_at_1"] = float(np.mean(targets.sum(1) / targets.shape[1]))
        scores[CHANCE]["map"] = float(prevalence[prevalence > 0].mean())  # expected AP of a random ranking
        freq = Counter(lab for it in pool for lab in it.reference["labels"])
        top_any = sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        scores[MAJORITY]["hit_at_1"] = float(np.mean([top_any in it.reference["labels"] for it in items]))
    breakdown: dict[str, Any] = {"per_class": per_class}
    if MODEL in fields:
        rows = [label for label, _ in sorted(support.items(), key=lambda kv: (-kv[1], kv[0]))][:CONFUSION_MAX]
        guessed = Counter(p for p in fields[MODEL]["label"] if p not in rows)
        columns = rows + [label for label, _ in sorted(guessed.items(), key=lambda kv: (-kv[1], kv[0]))][:EXTRA_COLUMNS]
        breakdown["confusion"] = {"labels": rows, "columns": [*columns, OTHER],
                                  "matrix": confusion_matrix(truth, fields[MODEL]["label"], rows, columns, other=True)}
    return Scored(scores, baselines, breakdown, _per_item(texts, fields))


# ------------------------------------------------------------------------------------ captioning
def score_captioning(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder,
                     corenlp_dir=None, meteor: bool = True) -> Scored:
    refs = [it.reference["captions"] for it in data.items]
    systems = dict(texts)
    baselines = {}
    if len(refs) > 1:
        order = list(range(len(refs)))
        random.Random(bench.seed).shuffle(order)
        other = {order[k]: order[(k + 1) % len(order)] for k in range(len(order))}
        systems[CHANCE] = [refs[other[i]][0] for i in range(len(refs))]
        baselines[CHANCE] = "the first reference caption of another, randomly paired clip"
    counts = Counter(c for it in (data.pool or data.items) for c in it.reference["captions"])
    common = sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0][0]
    systems[MAJORITY] = [common] * len(refs)
    baselines[MAJORITY] = f"always the benchmark's most frequent reference caption ({common!r})"
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    with CaptionScorer(refs, meteor=meteor, embedder=embedder, corenlp_dir=corenlp_dir) as scorer:
        for system, captions in systems.items():
            scores[system], per_item = scorer.score(captions)
            if system in texts:
                fields[system] = {k: per_item[k] for k in ("cider_d", "embedding_similarity") if k in per_item}
    return Scored(scores, baselines, {}, _per_item(texts, fields))


# ------------------------------------------------------------------------------------ audio QA
def score_aqa(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder=None) -> Scored:
    refs = [AqaReference(it.reference["answers"], it.reference["kind"], it.reference["candidates"])
            for it in data.items]
    groups = [it.reference["group"] for it in data.items]
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    per_group: dict[str, dict[str, float]] = {}
    for system, answers in texts.items():
        read = [read_answer(a, r) for a, r in zip(answers, refs)]
        scores[system] = aqa_scores(refs, read)
        fields[system] = {"read": read, "correct": [p == r.majority for p, r in zip(read, refs)]}
        per_group[system] = dict(sorted(accuracy_by(groups, fields[system]["correct"]).items()))
    # chance: a uniform guess among the answers of the question's group (expected values)
    chance_ok = [(r.majority in r.candidates) / max(1, len(r.candidates)) for r in refs]
    chance_any = [len(set(r.answers) & set(r.candidates)) / max(1, len(r.candidates)) for r in refs]

    def mean(xs, mask=None):
        xs = [x for x, m in zip(xs, mask or [True] * len(xs)) if m]
        return float(np.mean(xs)) if xs else float("nan")

    yes_no = [r.kind == YES_NO for r in refs]
    scores[CHANCE] = {"accuracy": mean(chance_ok), "accuracy_any": mean(chance_any),
                      "yes_no_accuracy": mean(chance_ok, yes_no),
                      "word_accuracy": mean(chance_ok, [not y for y in yes_no])}
    # majority: the most frequent answer of each group, every time
    by_group: dict[str, Counter] = {}
    for it in data.pool or data.items:
        by_group.setdefault(it.reference["group"], Counter())[majority(it.reference["answers"])] += 1
    constant = {g: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for g, c in by_group.items()}
    scores[MAJORITY] = aqa_scores(refs, [constant[g] for g in groups])
    for key in ("n_yes_no", "n_word", "unreadable"):
        scores[MAJORITY].pop(key, None)
    baselines = {CHANCE: "a uniform guess among the answers to the same kind of question",
                 MAJORITY: "the benchmark's most frequent answer to each kind of question"}
    return Scored(scores, baselines, {"per_group": per_group}, _per_item(texts, fields))


# ------------------------------------------------------------------------------------ hallucination
def score_hallucination(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder=None) -> Scored:
    truth = [it.reference["answer"] for it in data.items]
    modes = [it.reference["mode"] for it in data.items]
    mode_names = [m for m in ("random", "popular", "adversarial") if m in modes] + \
        sorted(set(modes) - {"random", "popular", "adversarial"})
    scores: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    per_mode: dict[str, dict[str, dict[str, float]]] = {}

    def by_mode(preds: list[str | None]) -> dict[str, dict[str, float]]:
        return {m: yes_no_scores([t for t, mm in zip(truth, modes) if mm == m],
                                 [p for p, mm in zip(preds, modes) if mm == m]) for m in mode_names}

    for system, answers in texts.items():
        parsed = [parse_pope(a) for a in answers]
        read = [answer for answer, _ in parsed]
        scores[system] = yes_no_scores(truth, read)
        scores[system].pop("unparsed")
        # answers with neither a leading yes/no nor a negation: POPE reads them as yes
        scores[system]["implicit_yes"] = sum(not explicit for _, explicit in parsed) / len(parsed)
        fields[system] = {"read": read, "explicit": [e for _, e in parsed],
                          "correct": [p == t for p, t in zip(read, truth)]}
        per_mode[system] = by_mode(read)
    yes_share = truth.count("yes") / len(truth)
    f1 = 2 * yes_share * 0.5 / (yes_share + 0.5) if yes_share else 0.0
    scores[CHANCE] = {"accuracy": 0.5, "precision": yes_share, "recall": 0.5, "f1": f1, "yes_ratio": 0.5}
    pool = [it.reference["answer"] for it in data.pool or data.items]
    constant = "yes" if pool.count("yes") >= pool.count("no") else "no"
    scores[MAJORITY] = yes_no_scores(truth, [constant] * len(truth))
    scores[MAJORITY].pop("unparsed")
    per_mode["truth"] = {m: {"yes_ratio": sum(t == "yes" for t, mm in zip(truth, modes) if mm == m) /
                             max(1, modes.count(m))} for m in mode_names}
    baselines = {CHANCE: "a fair coin (expected values)", MAJORITY: f"always {constant!r}"}
    return Scored(scores, baselines, {"per_mode": per_mode}, _per_item(texts, fields))


# ------------------------------------------------------------------------------------ speech content
def score_speech(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder=None) -> Scored:
    refs = [normalize_transcript(it.reference["transcript"]) for it in data.items]
    languages = [it.reference.get("language") or "unknown" for it in data.items]
    systems: dict[str, list[str]] = {}
    fields: dict[str, dict[str, list[Any]]] = {}
    quoted: dict[str, float] = {}
    words = [len(r.split()) for r in refs]  # each reference's length: corpus WER = summed errors / summed words
    for system, answers in texts.items():
        read = [read_transcript(a) for a in answers]
        systems[system] = [text for text, _ in read]
        quoted[system] = sum(q for _, q in read) / len(read)
        per_item = [item_scores(r, h) for r, h in zip(refs, systems[system])]
        fields[system] = {"read": systems[system], "quoted": [q for _, q in read],
                          "wer": [p["wer"] for p in per_item], "words": words,
                          "correct": [bool(p["exact_match"]) for p in per_item]}
    baselines = {}
    if len(refs) > 1:
        order = list(range(len(refs)))
        random.Random(bench.seed).shuffle(order)
        other = {order[k]: order[(k + 1) % len(order)] for k in range(len(order))}
        systems[CHANCE] = [refs[other[i]] for i in range(len(refs))]
        baselines[CHANCE] = "the transcript of another, randomly paired clip"
    counts = Counter(normalize_transcript(it.reference["transcript"]) for it in data.pool or data.items)
    common = sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0][0]
    systems[MAJORITY] = [common] * len(refs)
    baselines[MAJORITY] = f"always the benchmark's most frequent transcript ({common!r})"
    scores = {system: speech_scores(refs, hyps) for system, hyps in systems.items()}
    for system, share in quoted.items():
        scores[system]["quoted"] = share  # share of answers read from a quotation
    breakdown = {"per_language": {system: group_scores(languages, refs, systems[system]) for system in texts}}
    origins = [it.info.get("origin") for it in data.items]
    if any(origins):  # offline corpus: per source (voice pack, speaker, synthetic accent)
        origins = [o or "unknown" for o in origins]
        breakdown["per_origin"] = {system: group_scores(origins, refs, systems[system]) for system in texts}
    return Scored(scores, baselines, breakdown, _per_item(texts, fields))


def group_scores(groups: list[str], refs: list[str], hyps: list[str]) -> dict[str, dict[str, float]]:
    """Corpus-level scores per group (spoken language, source), most frequent group first."""
    order = sorted(Counter(groups).items(), key=lambda kv: (-kv[1], kv[0]))
    out = {}
    for group, n in order:
        pairs = [(r, h) for r, h, g in zip(refs, hyps, groups) if g == group]
        out[group] = {**speech_scores([r for r, _ in pairs], [h for _, h in pairs]), "support": n}
    return out


SCORERS = {
    "nearest_label": score_classification,
    "caption_metrics": score_captioning,
    "majority_answer": score_aqa,
    "pope": score_hallucination,
    "transcript": score_speech,
    **protocols.SCORERS,
}


def score(bench: Benchmark, data: BenchmarkData, texts: dict[str, list[str]], embedder, corenlp_dir=None,
          meteor: bool = True) -> Scored:
    """Score the answering systems in `texts` (model, no_audio, mismatched_audio), add chance / majority,
    each system's top-answer share (`add_collapse`) and the headline per data source (`eval.by_source`)."""
    if bench.scorer == "caption_metrics":
        scored = score_captioning(bench, data, texts, embedder, corenlp_dir=corenlp_dir, meteor=meteor)
    else:
        scored = SCORERS[bench.scorer](bench, data, texts, embedder)
    add_collapse(bench, data, scored)
    if sources := per_source(bench.metric, data, scored):
        scored.breakdown["per_source"] = sources
    return scored


def add_collapse(bench: Benchmark, data: BenchmarkData, scored: Scored) -> None:
    """`top_answer_share` of every answering system (its most frequent answer as read, `eval.metrics.collapse`),
    and under `breakdown["collapse"]` those answers, the ground truth's own share and the flag threshold."""
    out: dict[str, Any] = {"threshold": bench.threshold, "systems": {}}
    for system in ANSWERING:
        if not scored.items or system not in scored.items[0]:
            continue
        rows = [row[system] for row in scored.items]
        value, share = top_share([read_value(row) for row in rows])
        scored.scores[system]["top_answer_share"] = share
        out["systems"][system] = {"answer": value, "share": share}
        if any(isinstance(row.get("label"), str) for row in rows):  # answers mapped onto a label set
            out["systems"][system]["distinct_answers"] = distinct_answers(rows, value)
    truths = [truth_value(it.reference) for it in data.items]
    if truths and None not in truths:
        value, share = top_share(truths)
        out["truth"] = {"answer": value, "share": share}
    scored.breakdown["collapse"] = out


def _number(value: Any) -> float | None:
    """A value as the report shows it (3 decimals): a difference the report cannot show is not a win."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not np.isnan(value):
        return round(float(value), 3)
    return None


def headline(bench: Benchmark, scored: Scored) -> dict[str, Any]:
    """The headline metric for every system, and whether the model beats each baseline.

    "Beats" follows the metric's direction: larger for scores, smaller for error rates (WER, CER).
    `listens` is True when the model beats both the no-audio and the mismatched-audio answers
    (proof that it used its own clip), False when it fails either, None when either is missing.
    """
    metric = bench.metric
    lower = lower_is_better(metric)
    values = {s: scored.scores.get(s, {}).get(metric) for s in SYSTEMS}
    numbers = {s: n for s, v in values.items() if (n := _number(v)) is not None}
    model = numbers.get(MODEL)
    baselines = [numbers[s] for s in (CHANCE, MAJORITY) if s in numbers]
    best_baseline = (min if lower else max)(baselines, default=None)

    def beats(other: float | None) -> bool | None:
        if model is None or other is None:
            return None
        return model < other if lower else model > other

    no_audio, mismatched = beats(numbers.get(NO_AUDIO)), beats(numbers.get(MISMATCHED))
    return {
        "metric": metric,
        "lower_is_better": lower,
        **values,
        "beats_no_audio": no_audio,
        "beats_mismatched": mismatched,
        "beats_baselines": beats(best_baseline),
        "listens": False if False in (no_audio, mismatched) else (None if None in (no_audio, mismatched) else True),
        "beats_probe": beats(numbers.get(PROBE)),
        "asr_ratio": _ratio(values.get(MODEL), values.get(ASR)) if lower else None,
        **_collapse(scored.breakdown.get("collapse", {})),
        **_non_speech(scored.breakdown.get("non_speech", {})),
    }


def _non_speech(non_speech: dict[str, Any]) -> dict[str, Any]:
    """The share of non-speech clips the model's transcriber gives words (as loaded; and gated, if measured)."""
    out = {}
    if "as_loaded" in non_speech:
        out["non_speech_transcribed"] = non_speech["as_loaded"]["rate"]
    if "gated" in non_speech:
        out["non_speech_transcribed_gated"] = non_speech["gated"]["rate"]
    return out


def _ratio(model: Any, reference: Any) -> float | None:
    """model / reference (an error rate relative to Whisper's own); None where either is missing or it is 0."""
    a, b = _number(model), _number(reference)
    return None if a is None or not b else float(model) / float(reference)


def _collapse(collapse: dict[str, Any]) -> dict[str, Any]:
    """The model's top answer, its share, the threshold and whether it is above (collapsed)."""
    top = collapse.get("systems", {}).get(MODEL)
    if not top:
        return {}
    share, threshold = top["share"], collapse["threshold"]
    return {"top_answer": top["answer"], "top_answer_share": share, "collapse_threshold": threshold,
            "top_answer_distinct": top.get("distinct_answers"),
            "truth_top_share": collapse.get("truth", {}).get("share"),
            "collapsed": bool(_number(share) is not None and share > threshold)}
