"""`alm bench`: how fast alm is where it runs, printed as tables and written as JSON.

    alm bench answer        # the parts of one answer, decode tokens/s against the memory-bandwidth bound
    alm bench transcripts   # WER and speed of each transcriber backend; the no-speech gate's error rates
    alm bench train         # training samples/s and the share of step time spent waiting for data
    alm bench serve         # API latency and throughput at 1/4/16/64 concurrent requests, per engine
    alm bench all           # answer, train and serve, one after another

Numbers come from one run on one machine: compare the ratios printed beside them when the machine is
shared (the load average is recorded). The README's performance section quotes these commands' output.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from alm.checkpoints import DEFAULT_MODEL

PARTS = ("answer", "transcripts", "train", "serve", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("part", choices=PARTS, help="what to measure")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, ...")
    parser.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for the JSON results")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch and CTranslate2 (default: "
                        "the cores this process may use)")
    g = parser.add_argument_group("answer")
    g.add_argument("--clip", default=None, help="audio file, or 'chord' (default: examples/announcement.flac)")
    g.add_argument("--reps", type=int, default=5, help="measurements per configuration (medians are reported)")
    g.add_argument("--decode-tokens", type=int, default=32, help="new tokens timed for decode tokens/s")
    g.add_argument("--only", choices=["reference", "fast"], default=None, help="measure one configuration")
    g = parser.add_argument_group("transcripts")
    g.add_argument("--corpus", default="data/offline-corpus")
    g.add_argument("--split", default="test")
    g.add_argument("--limit", type=int, default=None, help="at most this many speech and non-speech clips each")
    g = parser.add_argument_group("train")
    g.add_argument("--steps", type=int, default=6, help="optimizer steps per measured run")
    g.add_argument("--batch-size", type=int, default=8)
    g.add_argument("--workers", type=int, nargs="+", default=None,
                   help="loader worker counts to compare (default: 0, the former default, and the new default)")
    g = parser.add_argument_group("serve")
    g.add_argument("--engine", choices=["transformers", "vllm", "both"], default="both")
    g.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    g.add_argument("--max-tokens", type=int, default=32)
    g.add_argument("--distinct", action="store_true", help="a distinct clip per request (no cache or shared prompt)")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from alm.logs import silence_transformers

    silence_transformers()
    if args.threads:
        import torch

        os.environ["ALM_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)
    parts = ("answer", "train", "serve") if args.part == "all" else (args.part,)
    for part in parts:
        if part == "answer":
            from alm import bench

            configs = (args.only,) if args.only else ("reference", "fast")
            name = "answer" + ("" if args.clip is None else "-" + Path(args.clip).stem) + \
                (f"-t{args.threads}" if args.threads else "")
            bench.run(args.model, args.clip, args.reps, args.decode_tokens, configs, args.device,
                      args.out / f"{name}.json")
        elif part == "transcripts":
            from alm import bench_transcripts

            bench_transcripts.run(args.corpus, args.split, limit=args.limit, out=args.out / "transcripts.json")
        elif part == "train":
            from alm import bench_train

            bench_train.run(args.model, args.corpus, args.steps, args.batch_size, args.workers, args.device,
                            args.out / "train.json")
        elif part == "serve":
            from serve import bench as serve_bench

            serve_bench.run_levels(args.engine, args.model, args.concurrency, args.max_tokens,
                                   args.out / ("serve-distinct.json" if args.distinct else "serve.json"),
                                   distinct=args.distinct)
    return 0
