"""Compare sound-tagger heads on a corpus: each fit on the recipe's fitting clips (the same class-balanced draw a v3
stage 2 makes), scored by its first tag on held-out-source (test_ood) clips and in-domain test clips of the classes it
knows (at most 20 per class each). The table in training/README.md ("The head's form") came from this script.

    .venv/bin/python scripts/tagger_heads.py runs/alm-tiny/stage1/model linear hidden:1024:0.3 linear+mixup

MODEL: any alm model folder with the recipe's Whisper (its encoder makes the six-layer stats; they are read from and
added to the training feature cache's `-layers6` stats, so after a v3 stage 2 only the test clips are encoded).
`--layers 1`: the pooled frames the model's aligner reads (Whisper's final layer, and its general-sound encoder's
beside them), through the training feature cache, as a one-layer tagger in a stage is fit on them.
`--sound-encoder NAME` gives the model that encoder (`builtin:aisfx`, or by Hub id an AST, CLAP or waveform model:
`alm.model.hub_sound_encoders`): its pooled frames join the Whisper layers read as one more block (with `--layers
1`, beside Whisper's final frames, normalised apart), as a stage's tagger reads them; `--sound-only` keeps only that
encoder's pooled frames. Without the option a model's own sound encoder is read the same way, whether it feeds the
aligner or only the tagger (alm-tiny v5y's YAMNet); `--sound-encoder none` reads Whisper's layers alone, the baseline
beside it. So the held-out ceiling of a sound-event encoder is one command, before any training:

    .venv/bin/python scripts/tagger_heads.py runs/alm-tiny/stage1/model linear \
        --sound-encoder MIT/ast-finetuned-audioset-10-10-0.4593 --sound-only
Heads: `linear` (the recipe's: lr 1e-2), `hidden:WIDTH:DROPOUT` (lr 2e-3), `linear+mixup` (Beta(0.4, 0.4) mixup of
the pooled features), `linear+dropout` (dropout 0.3 on the input): 600 full-batch AdamW steps; `linear+minibatch`:
600 steps of 32 clips, lr 3e-3 warmed up and decayed linearly (`training.tagger.fit`'s `batch_size`). All: weight
decay 1e-4, label smoothing 0.1, seed 0. `--benchmark-results` (an `alm eval` results.json of the held-out class
benchmark) also counts its items whose reference label is the head's first tag, as `scripts/tagger_vs_answers.py`
counts a model's tagger. Prints one JSON line per head."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alm.model.configuration import AlmConfig  # noqa: E402
from alm.model.modeling import AlmForConditionalGeneration  # noqa: E402
from alm.model.tagger import SoundTagger, TaggerSettings, split_sound, with_sound_block  # noqa: E402
from alm.processor import AlmProcessor  # noqa: E402
from training.feature_cache import FeatureCache, default_cache_root, encoder_identity, precompute  # noqa: E402
from training.tagger import (IGNORE, TaggerData, balanced_subset, corpus_clips, fit, pooled_features,  # noqa: E402
                             targets, vocabulary)

STEPS, WEIGHT_DECAY, SMOOTHING = 600, 1e-4, 0.1


def known_clips(data: TaggerData, vocab: list[str], per_class: int = 20, seed: int = 0) -> list[int]:
    """Indices of at most `per_class` clips of each class the tagger knows (seeded draw)."""
    order = [i for i, labels in enumerate(data.labels) if labels and labels[0] in vocab]
    random.Random(seed).shuffle(order)
    taken: Counter = Counter()
    keep = []
    for i in order:
        if taken[data.labels[i][0]] < per_class:
            taken[data.labels[i][0]] += 1
            keep.append(i)
    return sorted(keep)


def answered_items(results: str, benchmark: str) -> list[dict]:
    """The items of `benchmark` in an `alm eval` results.json that the model answered."""
    benchmarks = json.loads(Path(results).read_text())["benchmarks"]
    if benchmark not in benchmarks:
        raise SystemExit(f"{results}: no {benchmark!r} in it (it has {', '.join(benchmarks)})")
    return [it for it in benchmarks[benchmark]["items"] if it.get("model")]


def head_draw(corpus: str, per_label: int, benchmark_results: str | None):
    """What heads are fit and scored on: the fitting clips (the recipe's class-balanced draw) and their labels'
    vocabulary, the held-out-source and in-domain test splits with `known_clips` of each, and the answered items of
    the held-out class benchmark in `benchmark_results` (none without)."""
    fitting = balanced_subset(corpus_clips(corpus, "train"), per_label, 0)
    vocab = vocabulary(fitting.labels, 5, "softmax")
    if not vocab:
        raise SystemExit(f"no label has 5 fitting clips among {len(fitting.paths)}: raise --per-label")
    held, test = corpus_clips(corpus, "test_ood"), corpus_clips(corpus, "test")
    items = answered_items(benchmark_results, "offline-classification-ood") if benchmark_results else []
    return fitting, vocab, held, test, known_clips(held, vocab), known_clips(test, vocab), items


def tagger_model(model_dir: str, sound_encoder: str | None = None):
    """(model, processor) of the alm model folder, or of its bases (untrained aligner and LoRA: only the encoders are
    read) with the general-sound encoder `sound_encoder` ("none": Whisper alone) or, for a model whose sound encoder
    feeds only its tagger (`sound_to_aligner: false`, as alm-tiny v5y's YAMNet), with that one: its frames then sit
    beside Whisper's in the pooled frames, as `layer_stats` reads them."""
    config = AlmConfig.from_pretrained(model_dir)
    tagger_only = bool(config.sound_encoder) and not config.sound_to_aligner
    if not sound_encoder and not tagger_only:
        model = AlmForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
        return model.eval(), AlmProcessor.from_pretrained(model_dir)
    config.resolve_relative_bases(model_dir)
    if sound_encoder:
        config.sound_encoder = None if sound_encoder == "none" else sound_encoder
    config.sound_width = None
    config.sound_to_aligner = True
    processor = AlmProcessor.from_config(config)
    return AlmForConditionalGeneration.from_bases(config, lora=False).eval(), processor


def layer_stats(model, processor, paths: list[str], layers: int) -> torch.Tensor:
    """(A, K, 2C) pooled stats of the clips, as a stage's tagger reading `layers` layers is fit on them: with one
    layer the model's frames (Whisper's, and its sound encoder's beside them) through the training feature cache;
    with more, Whisper's layer stats through the cache's stats, and a model's sound encoder's pooled frames as one
    more block ((A, K + 1, 2W), `alm.model.tagger.with_sound_block`)."""
    cache = FeatureCache(default_cache_root(), encoder_identity(model), "float16")
    clips: dict = {}
    if layers == 1 or model.sound_encoder is not None:
        precompute(cache, model, processor, paths, clips=clips)
        cache.reload()
        frames = pooled_features(paths, clips, cache)  # A, 1, 2 (C + E)
        if layers == 1:
            return frames
    stats_cache = cache.beside(f"-layers{layers}")
    precompute(stats_cache, model, processor, paths, clips=clips, stats_layers=layers)
    stats_cache.reload()
    stats = pooled_features(paths, clips, stats_cache, processor.spec.window_seconds)  # A, K, 2C
    if model.sound_encoder is None:
        return stats
    return with_sound_block(stats, split_sound(frames, model.config.sound_width)[1])  # A, K + 1, 2W


def fit_head(head: str, x: torch.Tensor, y: torch.Tensor, settings: TaggerSettings) -> SoundTagger:
    """A tagger fit with the head named `head` (see the module docstring)."""
    if head == "linear":
        return fit(x, y, settings, steps=STEPS, lr=1e-2, weight_decay=WEIGHT_DECAY, label_smoothing=SMOOTHING)
    if head == "linear+minibatch":
        return fit(x, y, settings, steps=STEPS, lr=3e-3, weight_decay=WEIGHT_DECAY, label_smoothing=SMOOTHING,
                   batch_size=32)
    if head.startswith("hidden:"):
        _, width, dropout = head.split(":")
        wide = replace(settings, hidden=int(width), dropout=float(dropout))
        return fit(x, y, wide, steps=STEPS, lr=2e-3, weight_decay=WEIGHT_DECAY, label_smoothing=SMOOTHING)
    if head not in ("linear+mixup", "linear+dropout") or settings.ensemble > 1:
        raise SystemExit(f"unknown head {head!r}: linear, linear+minibatch, hidden:WIDTH:DROPOUT, linear+mixup or "
                         "linear+dropout (the last two without --ensemble)")
    torch.manual_seed(0)
    tagger = SoundTagger(settings)
    optimizer = torch.optim.AdamW(tagger.parameters(), lr=1e-2, weight_decay=WEIGHT_DECAY)
    keep = y != IGNORE
    xs = x[keep]  # A, K, 2C
    soft = F.one_hot(y[keep], len(settings.labels)).float() * (1 - SMOOTHING) + SMOOTHING / len(settings.labels)
    tagger.train()
    for _ in range(STEPS):
        optimizer.zero_grad()
        inputs, target = xs, soft
        if head == "linear+mixup":
            lam = torch.distributions.Beta(0.4, 0.4).sample((len(xs), 1))  # A, 1
            mate = torch.randperm(len(xs))
            inputs = lam[:, :, None] * xs + (1 - lam[:, :, None]) * xs[mate]
            target = lam * soft + (1 - lam) * soft[mate]
        else:
            inputs = F.dropout(xs, 0.3, training=True)
        loss = -(target * tagger(inputs).log_softmax(-1)).sum(-1).mean()
        loss.backward()
        optimizer.step()
    return tagger.eval()


def first_tag_right(tagger: SoundTagger, x: torch.Tensor, labels: list[list[str]]) -> float:
    best = tagger.clip_probabilities(x).argmax(1).tolist()
    return sum(tagger.settings.labels[b] == clip[0] for b, clip in zip(best, labels)) / max(1, len(labels))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="an alm model folder (its Whisper encoder makes the stats)")
    ap.add_argument("heads", nargs="+", help="linear, linear+minibatch, hidden:WIDTH:DROPOUT, linear+mixup, "
                    "linear+dropout")
    ap.add_argument("--corpus", default="data/corpus-v2")
    ap.add_argument("--per-label", type=int, default=60, help="fitting clips per label (the recipe's)")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--sound-encoder", help="give the model this general-sound encoder (\"none\": Whisper's layers "
                    "alone; without it, the model's own, if it has one, whether it feeds the aligner or the tagger)")
    ap.add_argument("--sound-only", action="store_true",
                    help="the sound encoder's pooled frames alone (--sound-encoder's, or the model's own)")
    ap.add_argument("--benchmark-results", help="an alm eval results.json with offline-classification-ood items")
    ap.add_argument("--ensemble", type=int, default=1, help="heads fit from this many seeds, probabilities averaged "
                    "(heads fit by training.tagger.fit: linear, linear+minibatch, hidden)")
    ap.add_argument("--per-item", help="write each held-out clip's label and first tag per head to this JSONL (audio "
                    "relative to the corpus, so two corpora's heads compare on the clips both hold out)")
    args = ap.parse_args()
    if args.sound_only and args.sound_encoder == "none":
        raise SystemExit("--sound-only needs a sound encoder: --sound-encoder NAME, or a model with one")
    layers = 1 if args.sound_only else args.layers
    torch.manual_seed(0)
    fitting, vocab, held, test, held_i, test_i, items = head_draw(args.corpus, args.per_label, args.benchmark_results)
    paths = (fitting.paths + [held.paths[i] for i in held_i] + [test.paths[i] for i in test_i]
             + [it["audio"][0] for it in items])
    start = time.time()
    model, processor = tagger_model(args.model, args.sound_encoder)
    if args.sound_only and model.sound_encoder is None:
        raise SystemExit(f"--sound-only: {args.model} has no sound encoder; give one with --sound-encoder NAME")
    stats = layer_stats(model, processor, paths, layers)  # A, K, 2C
    if args.sound_only:
        stats = split_sound(stats, model.config.sound_width)[1]  # A, 1, 2E
    n, m, t = len(fitting.paths), len(held_i), len(test_i)
    print(json.dumps({"fitting_clips": n, "labels": len(vocab), "held_out_clips": m, "test_clips": len(test_i),
                      "stats_s": round(time.time() - start)}), flush=True)
    sound = model.sound_encoder is not None and not args.sound_only  # read beside Whisper's, as a stage fits it
    settings = TaggerSettings(labels=vocab, width=stats.shape[-1] // 2, kind="softmax", layers=layers,
                              sound_width=model.config.sound_width if sound and layers == 1 else 0,
                              sound_block=sound and layers > 1, ensemble=args.ensemble)
    y = targets(fitting.labels, vocab, "softmax")
    for head in args.heads:
        start = time.time()
        tagger = fit_head(head, stats[:n], y, settings)
        print(json.dumps({"head": head,
                          "held_out_sources": round(first_tag_right(tagger, stats[n:n + m],
                                                                    [held.labels[i] for i in held_i]), 3),
                          "in_domain": round(first_tag_right(tagger, stats[n + m:n + m + t],
                                                             [test.labels[i] for i in test_i]), 3),
                          **({"benchmark_items": len(items), "benchmark_first_tag_right": round(first_tag_right(
                              tagger, stats[n + m + t:], [[it["reference"]["label"]] for it in items]), 3)}
                             if items else {}),
                          "fit_s": round(time.time() - start)}), flush=True)
        if args.per_item:
            write_per_item(args.per_item, head, tagger, stats[n:n + m], [held.paths[i] for i in held_i],
                           [held.labels[i] for i in held_i], args.corpus)


def write_per_item(out: str, head: str, tagger: SoundTagger, x: torch.Tensor, paths: list[str],
                   labels: list[list[str]], corpus: str) -> None:
    """Append one line per held-out clip: the head, the clip's audio below the corpus, its label and first tag."""
    probs = tagger.clip_probabilities(x)  # A, L
    root = Path(corpus).resolve()
    with open(out, "a", encoding="utf-8") as fh:
        for path, clip, p in zip(paths, labels, probs):
            best = int(p.argmax())
            fh.write(json.dumps({"head": head, "audio": str(Path(path).resolve().relative_to(root)),
                                 "label": clip[0], "first_tag": tagger.settings.labels[best],
                                 "p": round(float(p[best]), 3)}) + "\n")


if __name__ == "__main__":
    main()
