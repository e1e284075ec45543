"""Asking and scoring one benchmark.

Every item is asked three ways: with its own clip(s) (the model), without audio (what the LLM
guesses from the words), and with another item's clip(s) (`eval.mismatch`: what any audio gives,
heard or not). A multiple-choice benchmark with permutations is asked once per order of its
choices (`eval.runs`). The answers are scored by the family's or the authors' scorer, the floors
made without the LLM are added (`eval.floors`: the encoder probe, Whisper's own transcripts), the
optional LLM judge rates open-ended ones, and the result entry carries the headline with its flags,
the anchors' published numbers beside ours, plots and every item's answers.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval import families, plots
from eval.anchor_table import anchor_rows
from eval.data import BenchmarkData
from eval.judge import JUDGED_FAMILIES
from eval.metrics.intervals import headline_intervals
from eval.mismatch import pair_clips
from eval.registry import Benchmark
from eval.runners import AUDIO, MISMATCHED, NO_AUDIO, AnswerCache, Decoding, Query, Runner, answer_all
from eval.runs import base_id, combine, item_runs
from eval.scored import ANSWERING, FLOORS, Scored

SHOWN_MISSING = 20  # ids of items without audio listed in results (all are counted)


def decoding_for(bench: Benchmark, options) -> Decoding:
    return Decoding(max_new_tokens=options.max_new_tokens or bench.max_new_tokens, temperature=options.temperature,
                    top_p=options.top_p, seed=options.seed)


def permutations_for(bench: Benchmark, options) -> int:
    """k orders of the choices: --permutations for every multiple-choice benchmark, else its declaration's."""
    if bench.family != "multiple_choice":
        return 1
    return options.permutations or bench.permutations


def queries_for(items: list, pairing: dict[str, Any], decoding: Decoding) -> dict[str, list[Query]]:
    """system -> one query per item: its own clips, none, another item's clips (when every item has a pair)."""
    out = {families.MODEL: [Query(AUDIO, it.question, tuple(it.audio), decoding) for it in items],
           families.NO_AUDIO: [Query(NO_AUDIO, it.question, (), decoding) for it in items]}
    donors = [pairing.get(it.id, pairing.get(base_id(it.id))) for it in items]  # a reordering keeps its item's
    if all(d is not None for d in donors):
        out[families.MISMATCHED] = [Query(MISMATCHED, it.question, d, decoding) for it, d in zip(items, donors)]
    return out


def _ask(runner: Runner, queries: dict[str, list[Query]], cache: AnswerCache, name: str,
         progress: bool) -> tuple[dict[str, list[str]], dict[str, list[str | None]], dict[str, Any]]:
    """Texts and errors per system and item, and what answering took."""
    texts, errors, info = {}, {}, {"errors": {}, "first_error": {}, "answering": {}}
    for system, qs in queries.items():
        replies, stats = answer_all(runner, qs, cache, desc=f"{name} [{system.replace('_', ' ')}]", progress=progress)
        texts[system] = [replies[q].text for q in qs]
        errors[system] = [replies[q].error for q in qs]
        info["errors"][system] = sum(e is not None for e in errors[system])
        if stats.errors:
            info["first_error"][system] = stats.errors[0]
        seconds = [replies[q].seconds for q in qs if replies[q].seconds]
        info["answering"][system] = {"unique_questions": stats.asked, "from_cache": stats.cached,
                                     "seconds_per_answer": round(sum(seconds) / len(seconds), 3) if seconds else None}
    return texts, errors, info


def _score(bench: Benchmark, runs: list[BenchmarkData], texts: dict[str, list[str]], embedder, options) -> Scored:
    scored, offset = [], 0
    for run in runs:
        n = len(run.items)
        part = {s: t[offset: offset + n] for s, t in texts.items()}
        scored.append(families.score(bench, run, part, embedder, corenlp_dir=options.corenlp, meteor=options.meteor))
        offset += n
    return combine(scored)


def run_benchmark(runner: Runner, bench: Benchmark, data: BenchmarkData, options, cache: AnswerCache, embedder,
                  out: Path, judge=None, floors=None) -> dict[str, Any]:
    decoding = decoding_for(bench, options)
    runs = item_runs(bench, data, permutations_for(bench, options))
    asked = [it for run in runs for it in run.items]
    pairing = pair_clips(data.items, data.pool, bench.seed)
    queries = queries_for(asked, pairing, decoding)
    unavailable = {}
    if families.MISMATCHED not in queries:
        alone = [i for i, clips in pairing.items() if clips is None]
        unavailable[families.MISMATCHED] = (f"{len(alone)} item(s) have no other item's clip to be asked with "
                                            f"(first: {alone[0]})")
    texts, item_errors, answering = _ask(runner, queries, cache, bench.name, options.progress)
    scored = _score(bench, runs, texts, embedder, options)
    if floors is not None and len(runs) == 1:  # the encoder probe, Whisper's own transcripts (`eval.floors`)
        unavailable.update(floors.add(bench, data, scored))
    ratings: dict[str, list[int | None]] = {}
    if judge is not None and bench.family in JUDGED_FAMILIES:
        judged, ratings = judge.rate(asked, texts, desc=f"{bench.name} [judge]")
        for system, values in judged.items():
            scored.scores[system].update(values)
    head = families.headline(bench, scored)
    head.update(headline_intervals(bench.metric, [it.id for it in asked], scored.items, head, (*ANSWERING, *FLOORS)))
    plot_files: list[str] = []
    if options.plots:
        plot_files = plots.plot_benchmark(out / "plots", bench.name, bench.family, scored.scores, scored.breakdown)
    per_item = []
    for k, it in enumerate(asked):
        row = it.to_dict()
        row.pop("stratum", None)
        for system in FLOORS:  # the encoder probe's class, Whisper's transcript
            if system in scored.items[k]:
                row[system] = scored.items[k][system]
        for system in texts:
            row[system] = scored.items[k][system]
            if item_errors[system][k]:
                row[system]["error"] = item_errors[system][k]
            if system in ratings:
                row[system]["judge"] = ratings[system][k]
        if families.MISMATCHED in texts:
            row[families.MISMATCHED]["audio"] = [a.to_json() for a in queries[families.MISMATCHED][k].audio]
        per_item.append(row)
    result = {
        "family": bench.family,
        "scorer": bench.scorer,
        "description": bench.description,
        "declaration": bench.to_dict(),
        "data_source": data.source,
        "release": data.release,
        "missing_audio": {"count": len(data.missing_audio), "ids": data.missing_audio[:SHOWN_MISSING]}
        if data.missing_audio else None,
        "skipped_items": data.skipped,
        "n_items": len(data.items),
        "n_total": data.total,
        "n_asked": len(asked),
        "permutations": len(runs),
        "item_ids_hash": hashlib.sha256("\n".join(it.id for it in data.items).encode()).hexdigest()[:16],
        "decoding": asdict(decoding),
        "labels": data.labels,
        "headline": head,
        "scores": scored.scores,
        "baselines": scored.baselines,
        "unavailable": unavailable,
        "notes": scored.notes,
        "breakdown": scored.breakdown,
        **answering,
        "plots": plot_files,
        "items": per_item,
    }
    result["anchors"] = anchor_rows(bench.name, result)
    return result
