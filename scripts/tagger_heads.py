"""Compare sound-tagger heads on a corpus: each fit on the recipe's fitting clips (the same class-balanced draw a v3
stage 2 makes), scored by its first tag on held-out-source (test_ood) clips and in-domain test clips of the classes it
knows (at most 20 per class each). The table in training/README.md ("The head's form") came from this script.

    .venv/bin/python scripts/tagger_heads.py runs/alm-tiny-v3/stage1/model linear hidden:1024:0.3 linear+mixup

MODEL: any alm model folder with the recipe's Whisper (its encoder makes the six-layer stats; they are read from and
added to the training feature cache's `-layers6` stats, so after a v3 stage 2 only the test clips are encoded).
Heads: `linear` (the recipe's: lr 1e-2), `hidden:WIDTH:DROPOUT` (lr 2e-3), `linear+mixup` (Beta(0.4, 0.4) mixup of
the pooled features), `linear+dropout` (dropout 0.3 on the input). All: 600 full-batch AdamW steps, weight decay 1e-4,
label smoothing 0.1, seed 0. Prints one JSON line per head."""

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

from alm.model.modeling import AlmForConditionalGeneration  # noqa: E402
from alm.model.tagger import SoundTagger, TaggerSettings  # noqa: E402
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


def layer_stats(model_dir: str, paths: list[str], layers: int) -> torch.Tensor:
    """(A, K, 2C) pooled six-layer stats of the clips, through the training feature cache's stats."""
    model = AlmForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
    processor = AlmProcessor.from_pretrained(model_dir)
    cache = FeatureCache(default_cache_root(), encoder_identity(model), "float16").beside(f"-layers{layers}")
    clips: dict = {}
    precompute(cache, model, processor, paths, clips=clips, stats_layers=layers)
    cache.reload()
    return pooled_features(paths, clips, cache, processor.spec.window_seconds)


def fit_head(head: str, x: torch.Tensor, y: torch.Tensor, settings: TaggerSettings) -> SoundTagger:
    """A tagger fit with the head named `head` (see the module docstring)."""
    if head == "linear":
        return fit(x, y, settings, steps=STEPS, lr=1e-2, weight_decay=WEIGHT_DECAY, label_smoothing=SMOOTHING)
    if head.startswith("hidden:"):
        _, width, dropout = head.split(":")
        wide = replace(settings, hidden=int(width), dropout=float(dropout))
        return fit(x, y, wide, steps=STEPS, lr=2e-3, weight_decay=WEIGHT_DECAY, label_smoothing=SMOOTHING)
    if head not in ("linear+mixup", "linear+dropout"):
        raise SystemExit(f"unknown head {head!r}: linear, hidden:WIDTH:DROPOUT, linear+mixup or linear+dropout")
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
    ap.add_argument("heads", nargs="+", help="linear, hidden:WIDTH:DROPOUT, linear+mixup, linear+dropout")
    ap.add_argument("--corpus", default="data/corpus-v2")
    ap.add_argument("--per-label", type=int, default=60, help="fitting clips per label (the recipe's)")
    ap.add_argument("--layers", type=int, default=6)
    args = ap.parse_args()
    torch.manual_seed(0)
    fitting = balanced_subset(corpus_clips(args.corpus, "train"), args.per_label, 0)
    vocab = vocabulary(fitting.labels, 5, "softmax")
    held, test = corpus_clips(args.corpus, "test_ood"), corpus_clips(args.corpus, "test")
    held_i, test_i = known_clips(held, vocab), known_clips(test, vocab)
    paths = fitting.paths + [held.paths[i] for i in held_i] + [test.paths[i] for i in test_i]
    start = time.time()
    stats = layer_stats(args.model, paths, args.layers)  # A, K, 2C
    n, m = len(fitting.paths), len(held_i)
    print(json.dumps({"fitting_clips": n, "labels": len(vocab), "held_out_clips": m, "test_clips": len(test_i),
                      "stats_s": round(time.time() - start)}), flush=True)
    settings = TaggerSettings(labels=vocab, width=stats.shape[-1] // 2, kind="softmax", layers=stats.shape[1])
    y = targets(fitting.labels, vocab, "softmax")
    for head in args.heads:
        start = time.time()
        tagger = fit_head(head, stats[:n], y, settings)
        print(json.dumps({"head": head,
                          "held_out_sources": round(first_tag_right(tagger, stats[n:n + m],
                                                                    [held.labels[i] for i in held_i]), 3),
                          "in_domain": round(first_tag_right(tagger, stats[n + m:], [test.labels[i] for i in test_i]),
                                             3),
                          "fit_s": round(time.time() - start)}), flush=True)


if __name__ == "__main__":
    main()
