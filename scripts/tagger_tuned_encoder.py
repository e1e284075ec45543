"""Does tuning Whisper's top layers lift held-out sound tags? The recipe's six-layer linear tagger, trained with the
encoder's last `--tune-layers` layers on the same fitting clips as `scripts/tagger_heads.py` (the class-balanced
draw a v3 stage 2 makes), scored by its first tag on the same held-out-source and in-domain clips after each epoch.

    .venv/bin/python scripts/tagger_tuned_encoder.py runs/alm-tiny/stage1/model --tune-layers 2

The layers below the tuned ones run once per clip (their outputs and pooled stats stay in memory: about 0.1 MB a
clip for corpus v2's ~2 s clips); then each epoch runs the tuned layers, pools all six layers' stats per clip as a
stage's tagger does (`alm.model.tagger.pool_clips`), and steps AdamW on the label-smoothed cross-entropy (linear
decay after a 5% warm-up). `--tune-layers 0` trains the head alone the same way: the baseline for the same loop.
With `--benchmark-results` (an `alm eval` results.json of the held-out class benchmark) each epoch also counts the
items whose reference label is the first tag, as `scripts/tagger_vs_answers.py` counts a model's tagger.
Prints one JSON line per epoch. The epoch count is fixed in advance: picking the epoch by the held-out score would
fit the held-out split."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alm.audio.io import load_audio  # noqa: E402
from alm.model.audio_tokens import split_windows  # noqa: E402
from alm.model.tagger import SoundTagger, TaggerSettings, pool_clips  # noqa: E402
from tagger_heads import first_tag_right, head_draw, tagger_model  # noqa: E402
from training.tagger import IGNORE, targets, warm_then_decay  # noqa: E402

LAYERS, SMOOTHING = 6, 0.1


class Clip:
    """One clip below the tuned layers: per window the frames entering the first tuned layer (T, C) and the stats
    of the layers below that the tagger reads (K - tuned, 2C)."""

    def __init__(self, frames: list[torch.Tensor], lower: torch.Tensor):
        self.frames, self.lower = frames, lower


@torch.no_grad()
def encode_below(encoder, processor, paths: list[str], first_tuned: int) -> list[Clip]:
    clips = []
    for path in tqdm(paths, desc="layers below", unit="clip", dynamic_ncols=True):
        windows = split_windows(load_audio(path), processor.spec.window_seconds)
        batch = processor.audio_features(windows)
        x, lengths = encoder.embed(batch["audio_mel"], batch["audio_mel_lengths"])  # W, T, C
        x, stats = encoder.run_layers(x, lengths, stop=first_tuned, stats_layers=LAYERS)
        lower = torch.stack(stats, 1) if stats else x.new_zeros(len(windows), 0, 2 * x.shape[-1])  # W, K', 2C
        clips.append(Clip([f[:n].to(torch.bfloat16) for f, n in zip(x, lengths.tolist())], lower))
    return clips


def clip_stats(encoder, clips: list[Clip], first_tuned: int) -> torch.Tensor:
    """(A, K, 2C) pooled stats of `clips`, the tuned layers run on their cached inputs (with grad if enabled)."""
    frames = [f for clip in clips for f in clip.frames]
    lengths = torch.tensor([f.shape[0] for f in frames])
    lower = torch.cat([clip.lower for clip in clips])  # W, K', 2C
    if first_tuned == len(encoder.encoder.layers):  # nothing tuned: the stats below are all six
        return pool_clips(lower, lengths, [len(clip.frames) for clip in clips])
    x = torch.zeros(len(frames), int(lengths.max()), frames[0].shape[1])  # W, T, C
    for i, f in enumerate(frames):
        x[i, : f.shape[0]] = f.float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, stats = encoder.run_layers(x, lengths, start=first_tuned, stats_layers=LAYERS)
    window = torch.cat([lower, torch.stack(stats, 1).float()], 1)  # W, K, 2C
    return pool_clips(window, lengths, [len(clip.frames) for clip in clips])


def scored(tagger, encoder, clips: list[Clip], labels: list[list[str]], first_tuned: int) -> float:
    """`tagger_heads.first_tag_right` on `clips`, their stats made 64 clips at a time."""
    with torch.no_grad():
        stats = torch.cat([clip_stats(encoder, clips[start:start + 64], first_tuned)
                           for start in range(0, len(clips), 64)])  # A, K, 2C
    return round(first_tag_right(tagger, stats, labels), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="an alm model folder with the recipe's Whisper")
    ap.add_argument("--tune-layers", type=int, default=2, help="Whisper's last layers trained with the head (0-6)")
    ap.add_argument("--corpus", default="data/corpus-v2")
    ap.add_argument("--per-label", type=int, default=60, help="fitting clips per label (the recipe's)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--head-lr", type=float, default=3e-3)
    ap.add_argument("--encoder-lr", type=float, default=3e-5)
    ap.add_argument("--benchmark-results", help="an alm eval results.json with offline-classification-ood items")
    args = ap.parse_args()
    if not 0 <= args.tune_layers <= LAYERS:
        raise SystemExit(f"--tune-layers {args.tune_layers}: expected 0 to {LAYERS}")
    torch.manual_seed(0)
    fitting, vocab, held, test, held_i, test_i, items = head_draw(args.corpus, args.per_label, args.benchmark_results)
    model, processor = tagger_model(args.model)
    encoder = model.audio_encoder.float()
    first_tuned = len(encoder.encoder.layers) - args.tune_layers
    start = time.time()
    fit_clips = encode_below(encoder, processor, fitting.paths, first_tuned)
    held_clips = encode_below(encoder, processor, [held.paths[i] for i in held_i], first_tuned)
    test_clips = encode_below(encoder, processor, [test.paths[i] for i in test_i], first_tuned)
    held_labels, test_labels = [held.labels[i] for i in held_i], [test.labels[i] for i in test_i]
    item_clips = encode_below(encoder, processor, [it["audio"][0] for it in items], first_tuned)
    item_labels = [[it["reference"]["label"]] for it in items]
    y = targets(fitting.labels, vocab, "softmax")
    order = [i for i in range(len(fit_clips)) if y[i] != IGNORE]
    print(json.dumps({"fitting_clips": len(order), "labels": len(vocab), "held_out_clips": len(held_i),
                      "test_clips": len(test_i), "tune_layers": args.tune_layers,
                      "below_s": round(time.time() - start)}), flush=True)

    settings = TaggerSettings(labels=vocab, width=encoder.width, kind="softmax", layers=LAYERS)
    tagger = SoundTagger(settings)
    tuned = [p for layer in encoder.encoder.layers[first_tuned:] for p in layer.parameters()]
    tuned += list(encoder.encoder.layer_norm.parameters()) if args.tune_layers else []
    for p in encoder.parameters():
        p.requires_grad_(False)
    for p in tuned:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW([{"params": tagger.parameters(), "lr": args.head_lr, "weight_decay": 1e-4},
                                   {"params": tuned, "lr": args.encoder_lr, "weight_decay": 1e-2}])
    steps = args.epochs * -(-len(order) // args.batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warm_then_decay(steps))
    rng = random.Random(0)
    for epoch in range(1, args.epochs + 1):
        start = time.time()
        encoder.train(), tagger.train()
        rng.shuffle(order)
        losses = []
        for b in tqdm(range(0, len(order), args.batch), desc=f"epoch {epoch}", unit="batch", dynamic_ncols=True):
            idx = order[b:b + args.batch]
            logits = tagger(clip_stats(encoder, [fit_clips[i] for i in idx], first_tuned))  # A, L
            loss = F.cross_entropy(logits, y[idx], label_smoothing=SMOOTHING)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        encoder.eval(), tagger.eval()
        print(json.dumps({"epoch": epoch, "loss": round(sum(losses) / len(losses), 3),
                          "held_out_sources": scored(tagger, encoder, held_clips, held_labels, first_tuned),
                          "in_domain": scored(tagger, encoder, test_clips, test_labels, first_tuned),
                          **({"benchmark_items": len(items),
                              "benchmark_first_tag_right": scored(tagger, encoder, item_clips, item_labels,
                                                                  first_tuned)} if items else {}),
                          "epoch_s": round(time.time() - start)}), flush=True)


if __name__ == "__main__":
    main()
