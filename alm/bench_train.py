"""Training speed: samples/s and the share of step time spent waiting for the input pipeline.

    alm bench train                     # alm-tiny, a few LoRA + aligner steps on the offline corpus
    alm bench train --steps 20 --batch-size 64 --device cuda

Runs short stages (init_from the model, frozen encoder with the feature cache, no transcripts, no sound tags
(a tagger's pass over the corpus is setup, not step time), no validation or checkpoints) in turn: `full` is
the input path before issue 12 (every step loads the audio, renders and tokenizes each conversation,
computes log-mel and hashes windows, no loader workers), `stored` is the default now (token ids and cache
keys made once; loader workers chosen from the cores; pinned memory on CUDA). Each is run twice,
alternating, and the medians reported.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from alm.files import atomic_write_json


def stage_config(model: str, corpus: str, steps: int, batch_size: int, workers: int, out: Path, device: str):
    from training.config import config_from_dict

    data = {"root": corpus, "tasks": ["classification", "caption"], "max_samples": steps * batch_size,
            "eval_samples": 0, "sample_answers": 0, "num_workers": workers}
    return config_from_dict({
        "model": {"init_from": model, "speech_transcripts": False, "sound_tags": False}, "encoder": "frozen",
        "aligner": "train", "llm": "lora", "data": data, "batch_size": batch_size, "max_steps": steps, "output_dir": str(out),
        "checkpoint_every": 0, "eval_every": 0, "log_every": steps, "tensorboard": False,
        "precision": "bf16" if device != "mps" else "fp32", "max_length": 512, "overlong": "truncate"})


def one_run(config, stored: bool) -> dict:
    from training.recipe import StageRecipe

    recipe = StageRecipe(config, progress=False, name="bench")
    recipe.setup()
    if not stored:  # the per-step path of before: no stored ids or keys, no workers
        for ex in [*recipe.examples, *recipe.eval_examples]:
            ex.window_keys = None
        recipe.config.data.num_workers = 0
    start = time.perf_counter()
    recipe.train()
    wall = time.perf_counter() - start
    return {"samples": recipe.samples_this_call, "train_time_s": round(recipe.train_time, 3),
            "samples_per_s": round(recipe.samples_this_call / recipe.train_time, 3),
            "data_wait_share": round(recipe.data_wait / recipe.train_time, 4), "wall_s": round(wall, 2),
            "workers": recipe.config.data.num_workers}


def run(model: str = "alm-tiny", corpus: str = "data/offline-corpus", steps: int = 6, batch_size: int = 8,
        workers: list[int] | None = None, device: str = "auto", out: Path | None = None, rounds: int = 2) -> dict:
    from alm.devices import resolve_device
    from training.data import loader_workers

    device = resolve_device(device)
    if device != "cpu" and not torch.cuda.is_available():
        raise SystemExit("alm bench train runs on the CPU or a CUDA GPU")
    chosen = loader_workers(-1, device)
    report: dict = {"model": model, "device": device, "steps": steps, "batch_size": batch_size,
                    "default_workers": chosen, "cpu_count": os.cpu_count(), "load_avg_before": os.getloadavg(),
                    "runs": []}
    variants = [("full", False, 0)] + [("stored", True, w) for w in (workers or [chosen])]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name, stored, w in variants:
                config = stage_config(model, corpus, steps, batch_size, w, Path(tmp) / f"{name}-{w}-{r}", device)
                result = one_run(config, stored)
                result.update(variant=name, round=r)
                report["runs"].append(result)
                print(f"{name:<7} workers {result['workers']}: {result['samples_per_s']:.2f} samples/s, "
                      f"waiting for data {100 * result['data_wait_share']:.1f}% of step time", flush=True)
    summary = {}
    for name, _, w in variants:
        rows = [r for r in report["runs"] if r["variant"] == name and r["workers"] == w]
        summary[f"{name}-w{w}"] = {"samples_per_s": statistics.median(r["samples_per_s"] for r in rows),
                                   "data_wait_share": statistics.median(r["data_wait_share"] for r in rows)}
    report["summary"] = summary
    report["load_avg_after"] = os.getloadavg()
    print(f"# training, {model} on {device}, batch {batch_size}, {steps} steps; load average "
          f"{report['load_avg_before'][0]:.1f} -> {report['load_avg_after'][0]:.1f}; medians of {rounds}")
    for key, row in summary.items():
        print(f"{key:<14} {row['samples_per_s']:>8.2f} samples/s  {100 * row['data_wait_share']:>5.1f}% waiting")
    if out is not None:
        atomic_write_json(out, report)
    return report
