"""`alm eval`: run benchmarks on a local model or an OpenAI-compatible endpoint; list; compare.

    alm eval --model alm-tiny --suite offline --out DIR [--limit N]
    alm eval --endpoint http://127.0.0.1:8000/v1 --api-key KEY --model NAME --suite offline --out DIR
    alm eval --benchmark esc50 --data esc50=/data/ESC-50 --out DIR
    alm eval --suite public --data-root /data/public --out DIR [--permutations 3]
    alm eval list
    alm eval compare A/results.json B/results.json [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from alm.checkpoints import DEFAULT_MODEL
from alm.errors import AlmError
from eval.scored import DEFAULT_WHISPER


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run declared benchmarks (classification, captioning, audio QA, hallucination, speech, multiple choice) "
        "on a local alm model or an OpenAI-compatible endpoint; every report carries the same LLM without audio "
        "and with another item's audio (mismatched), and chance/majority baselines. Subcommands: `list` "
        "(benchmarks and suites), `compare A.json B.json`."
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="{list,compare}")
    lst = sub.add_parser("list", help="list benchmarks and suites")
    lst.add_argument("--benchmarks", type=Path, default=None, help="an extra folder of benchmark declarations")
    cmp = sub.add_parser("compare", help="compare two results.json files")
    cmp.add_argument("a", type=Path, help="results.json (or its folder) of run A")
    cmp.add_argument("b", type=Path, help="results.json (or its folder) of run B")
    cmp.add_argument("--out", type=Path, default=None, help="also write the Markdown comparison here")

    what = parser.add_argument_group("what to run")
    what.add_argument("--suite", action="append", default=[], help="a suite, e.g. offline or public (repeatable)")
    what.add_argument("--benchmark", action="append", default=[], help="one benchmark by name (repeatable)")
    what.add_argument("--benchmarks", type=Path, default=None,
                      help="an extra folder of benchmark declarations (YAML/JSON; same name replaces a built-in)")
    what.add_argument("--limit", type=int, default=None, help="at most N items per benchmark (seeded, stratified)")
    what.add_argument("--out", type=Path, default=None, help="output folder (results.json, report.md, plots/)")

    model = parser.add_argument_group("model")
    model.add_argument("--model", default=None,
                       help=f"local: packaged name, checkpoint folder or HF id (default {DEFAULT_MODEL}); "
                            "with --endpoint: the model name sent to the server")
    model.add_argument("--endpoint", default=None, help="an OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    model.add_argument("--api-key", default=None, help="endpoint API key (default: $ALM_EVAL_API_KEY, $OPENAI_API_KEY)")
    model.add_argument("--concurrency", type=int, default=4, help="parallel endpoint requests (default 4)")
    model.add_argument("--timeout", type=float, default=120.0, help="seconds per endpoint request (default 120)")
    model.add_argument("--retries", type=int, default=4, help="retries on 429/5xx/connection errors (default 4)")
    model.add_argument("--batch-size", type=int, default=8, help="local: questions per generate call (default 8)")
    model.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                       help="local: the model's dtype (auto: bfloat16 where the device runs it natively, else float32; "
                       "greedy answers can differ between dtypes, and in bfloat16 with the batch they share)")
    model.add_argument("--device", default="auto", help="local: auto (cuda, then mps, then cpu; default), cpu, cuda, "
                       "cuda:1 ...")

    dec = parser.add_argument_group("decoding (recorded in the results)")
    dec.add_argument("--max-new-tokens", type=int, default=None, help="override every benchmark's own limit")
    dec.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    dec.add_argument("--top-p", type=float, default=1.0)
    dec.add_argument("--seed", type=int, default=0)

    data = parser.add_argument_group("data and metrics")
    data.add_argument("--corpus", type=Path, default=None,
                      help="the offline corpus folder (default: $ALM_HOME/data/offline-corpus, else "
                           "./data/offline-corpus)")
    data.add_argument("--data", action="append", default=[], metavar="SOURCE=PATH",
                      help="folder of a public set, e.g. esc50=/data/ESC-50 or mmau=/data/MMAU (repeatable)")
    data.add_argument("--data-root", type=Path, default=None, metavar="DIR",
                      help="a folder holding public sets by name (DIR/mmau, DIR/esc50 ...; see `alm eval list`); "
                           "suite members without a folder are listed as not run, with where to get them")
    data.add_argument("--permutations", type=int, default=None, metavar="K",
                      help="ask every multiple-choice item with K orders of its choices (mean and spread)")
    data.add_argument("--corenlp", type=Path, default=None,
                      help="folder holding stanford-corenlp-3.6.0.jar and -models.jar: enables SPICE and SPIDEr")
    data.add_argument("--no-meteor", action="store_true", help="skip METEOR (it starts a Java process)")
    data.add_argument("--no-plots", action="store_true")
    data.add_argument("--no-progress", action="store_true", help="no progress bars")
    data.add_argument("--fresh", action="store_true",
                      help="ask again instead of reusing OUT/cache/answers.jsonl (new answers replace old)")

    floors = parser.add_argument_group("floors made without the LLM (cached under OUT/cache)")
    floors.add_argument("--probe-encoder", default=None, metavar="BASE",
                        help="classification: fit a linear probe (and nearest class centroid) on this Whisper "
                             "encoder's mean-pooled features of the corpus's training clips (default: a local "
                             f"model's audio_base, else {DEFAULT_WHISPER})")
    floors.add_argument("--probe-per-class", type=int, default=40, metavar="N",
                        help="training clips per class for the probe, at most (default 40)")
    floors.add_argument("--no-probe", action="store_true", help="skip the encoder probe")
    floors.add_argument("--asr", default=DEFAULT_WHISPER, metavar="BASE",
                        help="speech: score this Whisper's own transcripts of the same clips "
                             f"(default {DEFAULT_WHISPER})")
    floors.add_argument("--no-asr", action="store_true",
                        help="skip Whisper's transcripts (the speech floor, the non-speech transcript rate and "
                             "whether the answers copy the transcripts the model read)")

    judge = parser.add_argument_group("LLM judge (optional; open-ended answers, beside the string metrics)")
    judge.add_argument("--judge-endpoint", default=None, help="an OpenAI-compatible base URL for the judge")
    judge.add_argument("--judge-model", default=None, help="the judge's model name (required with --judge-endpoint)")
    judge.add_argument("--judge-api-key", default=None, help="the judge's API key (default: $ALM_JUDGE_API_KEY)")
    judge.add_argument("--judge-temperature", type=float, default=0.0, help="the judge's temperature (default 0)")
    judge.add_argument("--judge-max-tokens", type=int, default=8, help="the judge's reply limit (default 8)")


def _results_path(path: Path) -> Path:
    path = path.expanduser()
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise AlmError(f"{path}: no such results file")
    return path


def _load_results(path: Path) -> dict:
    from eval.harness import RESULTS_FORMAT

    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AlmError(f"{path}: not a results JSON ({exc})") from None
    if obj.get("format") != RESULTS_FORMAT:
        raise AlmError(f"{path}: not an `alm eval` results file (format {obj.get('format')!r})")
    return obj


def _compare(args: argparse.Namespace) -> int:
    from eval.compare import compare

    a, b = _results_path(args.a), _results_path(args.b)
    text = compare(_load_results(a), _load_results(b), "A", "B")
    if args.out:
        from alm.files import atomic_write_text

        atomic_write_text(args.out, text)
    print(f"A = {a}\nB = {b}\n")
    print(text, end="")
    return 0


def _list(args: argparse.Namespace) -> int:
    from eval.registry import collect, suites

    benchmarks = collect(args.benchmarks)
    width = max(len(n) for n in benchmarks)
    for name, b in benchmarks.items():
        source = b.data.source if b.folder == b.data.source else f"{b.data.source} (DATA_ROOT/{b.folder})"
        if b.data.source == "offline":
            source = f"offline ({b.data.split})"
        print(f"{name:<{width}}  {b.family:<15} {b.scorer:<15} {b.metric:<9} {source:<22} "
              f"suites: {', '.join(b.suites) or '-'}")
    print("\na public set is read from DATA_ROOT/<source> (--data-root DATA_ROOT) or --data SOURCE=PATH;"
          " its layout and where to get it: eval/README.md")
    print()
    for suite, names in sorted(suites(benchmarks).items()):
        print(f"suite {suite}: {', '.join(names)}")
    return 0


def _data_roots(pairs: list[str]) -> dict[str, Path]:
    from eval.public import READERS
    from instruction_data.adapters import PUBLIC

    roots = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise AlmError(f"--data expects SOURCE=PATH, got {pair!r}")
        if name not in PUBLIC and name not in READERS:
            raise AlmError(f"--data {name}: unknown source; known: {', '.join([*PUBLIC, *READERS])}")
        if not Path(path).expanduser().exists():
            raise AlmError(f"--data {name}: {path} does not exist")
        roots[name] = Path(path).expanduser()
    return roots


def _command(args: argparse.Namespace) -> dict:
    """The options of this run as JSON-able values; the API key is never recorded."""
    out = {}
    for key, value in vars(args).items():
        if key.startswith("_") or key in ("eval_command", "command"):
            continue
        if key in ("api_key", "judge_api_key"):
            value = "(given)" if value else None
        out[key] = [str(v) for v in value] if isinstance(value, list) else (
            str(value) if isinstance(value, Path) else value)
    return out


def _quiet() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from alm.logs import silence_transformers

    silence_transformers()


def run(args: argparse.Namespace) -> int:
    if args.eval_command == "compare":
        return _compare(args)
    if args.eval_command == "list":
        return _list(args)
    if args.out is None:
        raise AlmError("--out DIR is required (results.json, report.md and plots/ go there)")
    if args.limit is not None and args.limit < 1:
        raise AlmError("--limit must be at least 1")
    from alm.devices import resolve_device
    from eval.harness import Options, evaluate
    from eval.registry import collect, select

    args.device = resolve_device(args.device)

    benchmarks = collect(args.benchmarks)
    chosen = select(benchmarks, args.suite, args.benchmark)
    roots = _data_roots(args.data)
    optional = {b.name for b in chosen if b.name not in args.benchmark}  # suite members may be skipped
    if args.corenlp is not None and not args.corenlp.expanduser().is_dir():
        raise AlmError(f"--corenlp {args.corenlp}: no such folder")
    if args.data_root is not None and not args.data_root.expanduser().is_dir():
        raise AlmError(f"--data-root {args.data_root}: no such folder")
    if args.permutations is not None and args.permutations < 1:
        raise AlmError("--permutations must be at least 1")
    out = args.out.expanduser()
    options = Options(out=out, limit=args.limit, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                      top_p=args.top_p, seed=args.seed, corpus=args.corpus, data_roots=roots,
                      data_root=args.data_root.expanduser() if args.data_root else None,
                      permutations=args.permutations, judge=_judge(args),
                      corenlp=args.corenlp, meteor=not args.no_meteor, plots=not args.no_plots,
                      progress=not args.no_progress and sys.stderr.isatty(), command=_command(args),
                      fresh=args.fresh)
    _quiet()
    from eval.runners import EndpointRunner, LocalRunner

    if args.endpoint:
        key = args.api_key or os.environ.get("ALM_EVAL_API_KEY") or os.environ.get("OPENAI_API_KEY")
        runner = EndpointRunner(args.endpoint, args.model or DEFAULT_MODEL, key, concurrency=args.concurrency,
                                timeout_s=args.timeout, retries=args.retries)
    else:
        runner = LocalRunner(args.model or DEFAULT_MODEL, device=args.device, batch_size=args.batch_size,
                             dtype=args.dtype)
        if not runner.identity["trained"]:
            print(f"note: {args.model or DEFAULT_MODEL} has an untrained aligner; expect scores near the no-audio "
                  "baseline", file=sys.stderr)
    options.floors = _floors(args, runner)
    results = evaluate(runner, chosen, options, optional=optional)
    _print_summary(results, out)
    return 0


def _floors(args: argparse.Namespace, runner):
    """The encoder probe (on the model's own Whisper where known) and Whisper's transcripts, unless skipped."""
    from eval.floors import FloorSettings
    from eval.probe import ProbeSettings

    if args.probe_per_class < 1:
        raise AlmError("--probe-per-class must be at least 1")
    probe = None
    if not args.no_probe:
        probe = ProbeSettings(args.probe_encoder or runner.audio_base or DEFAULT_WHISPER, args.probe_per_class,
                              device=args.device)
    return FloorSettings(probe=probe, asr=None if args.no_asr else args.asr, non_speech=not args.no_asr,
                         copying=not args.no_asr, device=args.device)


def _judge(args: argparse.Namespace):
    if not args.judge_endpoint:
        if args.judge_model:
            raise AlmError("--judge-model needs --judge-endpoint URL")
        return None
    if not args.judge_model:
        raise AlmError("--judge-endpoint needs --judge-model NAME (the judge's model, recorded in the results)")
    from eval.judge import JudgeSettings

    key = args.judge_api_key or os.environ.get("ALM_JUDGE_API_KEY")
    return JudgeSettings(args.judge_endpoint, args.judge_model, key,
                         temperature=args.judge_temperature, max_tokens=args.judge_max_tokens,
                         concurrency=args.concurrency, timeout_s=args.timeout, retries=args.retries)


def _print_summary(results: dict, out: Path) -> None:
    from eval.report import fmt, present, verdict
    from eval.report_domains import domains_section, top_answer
    from eval.scored import SYSTEMS

    names = {"mismatched_audio": "mismatched"}
    systems = present(SYSTEMS, *(b["headline"] for b in results["benchmarks"].values()))
    print(f"{'benchmark':<32} {'metric':<9} " + " ".join(f"{names.get(s, s):>10}" for s in systems)
          + f"  {'top answer':<24}  flag")
    for name, b in results["benchmarks"].items():
        head = b["headline"]
        print(f"{name:<32} {head['metric']:<9} " + " ".join(f"{fmt(head.get(s)):>10}" for s in systems)
              + f"  {top_answer(head):<24}  {verdict(head)}")
    for name, why in results.get("skipped", {}).items():
        print(f"not run: {name}: {why['reason']}; get it: {why['obtain']}")
    domains = [line for line in domains_section(results) if not line.startswith("![")]
    if domains:
        print("\n" + "\n".join(domains).rstrip())
    print(f"\nreport: {out / 'report.md'}\nresults: {out / 'results.json'}\nplots: {out / 'plots'}")
