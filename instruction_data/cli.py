"""`alm data ...`: build the offline corpus, validate and convert record files, show stats."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from rich.console import Console

from instruction_data.build.config import (DEFAULT_OOD, DEFAULT_SOURCES, OPTIONAL_SOURCES, REASONING, BuildConfig,
                                           default_out)
from instruction_data.errors import DataError


def _source(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError("expected KIND=PATH, e.g. esc50=/data/ESC-50")
    kind, path = text.split("=", 1)
    return kind.strip(), path.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    b = sub.add_parser("build", help="build the offline instruction corpus (train/validation/test + audio)",
                       description="Build train/validation/test JSONL, 16 kHz audio and manifest.json from the "
                                   "Debian packages of labelled audio, espeak-ng speech and synthesized tones, "
                                   "plus any public set you add with --source. A rerun reuses finished audio.")
    b.add_argument("--out", type=Path, default=None,
                   help=f"corpus folder (default: $ALM_HOME/data/offline-corpus, else ./data/offline-corpus; "
                        f"now {default_out()})")
    b.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    b.add_argument("--sources", default=",".join(DEFAULT_SOURCES),
                   help="comma-separated built-in sources (default: " + ", ".join(DEFAULT_SOURCES)
                        + ("; also available: " + ", ".join(OPTIONAL_SOURCES) if OPTIONAL_SOURCES else "") + ")")
    b.add_argument("--source", action="append", type=_source, default=[], metavar="KIND=PATH",
                   help="add a dataset on disk: folder, csv, esc50, urbansound8k, audiocaps, clotho, clotho_aqa, "
                        "fsd50k, vggsound, speech_commands (layouts in instruction_data/README.md); repeatable")
    b.add_argument("--ood", default=",".join(DEFAULT_OOD),
                   help="comma-separated sources held out whole as the test_ood split: a dataset (gcompris) or one "
                        "unit of it (hedgewars:Classic, synth_speech:en-029); '' for none. Default: "
                        + ",".join(DEFAULT_OOD))
    b.add_argument("--min-split-groups", type=int, default=3,
                   help="a class recorded in fewer source groups than this (outside the held-out sources) goes "
                        "whole to train, so training has every class it can (default 3, as alm-tiny's corpus v3; 0 splits "
                        "every group by hash, as corpus v2 did)")
    b.add_argument("--passages", type=int, default=0, metavar="N",
                   help="espeak-ng passages of 2-3 sentences (12-22 words) spoken by voices not held out, so the "
                        "LLM learns to copy what is said past the first full stop (default 0, as corpus v4)")
    b.add_argument("--phone-speech", type=int, default=0, metavar="N",
                   help="telephone-line copies (300-3400 Hz, 8-bit mu-law) of N transcribed speech clips, spread "
                        "over the train, validation and test splits as the derived clips are (default 0, as corpus v4)")
    b.add_argument("--whole-speech", action="store_true",
                   help="drop transcribed speech that the 10 s clip limit cuts short (its transcript names words the "
                        "clip no longer holds; 48 clips of corpus v4, which keeps them)")
    b.add_argument("--limit", type=int, default=None, help="at most N clips per source (quick builds)")
    b.add_argument("--scale", type=float, default=1.0, help="multiply synthesized and derived clip counts")
    b.add_argument("--reasoning", choices=REASONING, default="auto",
                   help="open-ended generator: auto (endpoint if configured, else templates), templates, "
                        "endpoint (any OpenAI-compatible server, e.g. a local LLM under vLLM or llama.cpp)")
    b.add_argument("--llm-base-url", default="", help="OpenAI-compatible base URL (or ALM_LLM_BASE_URL)")
    b.add_argument("--llm-model", default="", help="model name (or ALM_LLM_MODEL)")
    b.add_argument("--llm-api-key", default="", help="API key (or ALM_LLM_API_KEY / OPENAI_API_KEY)")
    b.add_argument("--llm-workers", type=int, default=4, help="concurrent endpoint requests (default 4)")
    b.add_argument("--workers", type=int, default=2, help="audio rendering threads (default 2)")
    b.add_argument("--no-install", action="store_true", help="do not apt-get missing Debian packages")
    b.add_argument("--force", action="store_true", help="rebuild records even if the settings are unchanged")
    b.add_argument("--quiet", action="store_true", help="no progress bars")

    v = sub.add_parser("validate", help="check a record file (.json list or .jsonl, OpenAQA or conversation form)")
    v.add_argument("file", type=Path)
    v.add_argument("--skip-invalid", action="store_true",
                   help="report every bad record and count them instead of stopping at the first")
    v.add_argument("--audio-root", type=Path, default=None, help="also check the audio files exist under this folder")

    c = sub.add_parser("convert", help="rewrite a record file in another form (openaqa | conversation)")
    c.add_argument("file", type=Path)
    c.add_argument("out", type=Path, help=".json (a list) or .jsonl")
    c.add_argument("--to", choices=("openaqa", "conversation"), default="conversation")

    s = sub.add_parser("stats", help="print a corpus manifest's counts")
    s.add_argument("--out", type=Path, default=None, help="corpus folder (default as for build)")


def _build(args: argparse.Namespace) -> int:
    from alm.paths import check_output_folder
    from instruction_data.build.corpus import build

    out = check_output_folder(args.out or default_out(), "--out")  # before a minute of building, not after
    cfg = BuildConfig(out=out, seed=args.seed,
                      sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),
                      extra=tuple(args.source), limit=args.limit, scale=args.scale, reasoning=args.reasoning,
                      llm_base_url=args.llm_base_url, llm_model=args.llm_model, llm_api_key=args.llm_api_key,
                      llm_workers=args.llm_workers, workers=args.workers, install=not args.no_install,
                      force=args.force, ood=tuple(s.strip() for s in args.ood.split(",") if s.strip()),
                      min_split_groups=args.min_split_groups, n_passages=args.passages, n_phone=args.phone_speech,
                      whole_speech=args.whole_speech)
    try:
        manifest = build(cfg, progress=not args.quiet)
    except PermissionError as exc:  # e.g. the folder's permissions changed while building
        raise DataError(f"{exc.filename or cfg.out}: no permission to write there") from None
    _print_summary(manifest, cfg.out)
    return 0


def _print_summary(manifest: dict, out: Path) -> None:
    console = Console()
    t = manifest["totals"]
    console.print(f"corpus at {out}: {t['clips']} clips, {t['hours']:.2f} h, {t['records']} records "
                  f"(open-ended: {manifest['reasoning_generator']}); built in {manifest['build_seconds']} s")
    for split, s in manifest["splits"].items():
        console.print(f"  {split}: {s['clips']} clips, {s['hours']:.2f} h, {s['records']} records")
    console.print("  per task: " + ", ".join(f"{k} {v}" for k, v in t["records_per_task"].items()))
    console.print("  per stage: " + ", ".join(f"{k} {v}" for k, v in t["records_per_stage"].items()))
    if classes := manifest.get("classes"):
        console.print(f"  classes: {classes['classes']} ({classes['classes_with_3plus_sources']} with 3+ sources); "
                      f"clips by provenance: " + ", ".join(f"{k} {v}" for k, v in t["clips_per_provenance"].items()))


def _validate(args: argparse.Namespace) -> int:
    from instruction_data.validate import validate_file

    result = validate_file(args.file, skip_invalid=args.skip_invalid, check_audio_root=args.audio_root)
    for problem in result.problems:
        print(problem)
    tasks = Counter(r.task for r in result.records)
    print(f"{args.file}: {len(result.records)} valid records, {result.skipped} skipped"
          + (f" ({', '.join(f'{k} {v}' for k, v in sorted(tasks.items()))})" if tasks else ""))
    return 1 if result.skipped else 0


def _convert(args: argparse.Namespace) -> int:
    from instruction_data.files import read_records, write_records

    n = write_records(args.out, read_records(args.file), form=args.to)
    print(f"wrote {n} records to {args.out} ({args.to} form)")
    return 0


def _stats(args: argparse.Namespace) -> int:
    out = args.out or default_out()
    path = out / "manifest.json"
    if not path.is_file():
        raise DataError(f"{path}: no manifest; run `alm data build` first")
    _print_summary(json.loads(path.read_text(encoding="utf-8")), out)
    return 0


def run(args: argparse.Namespace) -> int:
    return {"build": _build, "validate": _validate, "convert": _convert, "stats": _stats}[args.data_command](args)
