"""Does the context Whisper's encoder sees around a short clip change held-out sound tags? alm runs Whisper at each
window's own length (`alm.model.audio_encoder`: a 2 s clip is 100 frames), where Whisper was trained on 30 s windows
and CLAP-style taggers repeat a short clip to fill their input ("repeatpad"). Per context, the recipe's six-layer
stats of each clip (mean and max of each layer's frames over the clip's windows, `alm.model.tagger.pool_clips`), then
the recipe's heads fit on them (the same fitting draw as `scripts/tagger_heads.py`), scored by the first tag on
held-out-source and in-domain test clips of the classes they know:

- `own`: each window at its own length, as alm runs Whisper (what a stage's tagger reads today);
- `loop:S`: a clip shorter than S seconds repeated (whole copies, then a part) to fill S seconds first;
- `pad:S`: a clip shorter than S seconds zero-padded to S seconds (Whisper's own input), its stats taken over the
  frames of the clip alone (the padding attended to, not pooled).

    .venv/bin/python scripts/tagger_window_context.py alm/pretrained/alm-tiny own loop:10
    .venv/bin/python scripts/tagger_window_context.py alm/pretrained/alm-tiny own loop:10 pad:30 --per-label 10 \
        --test-per-class 5

(the table in training/README.md, "Whisper's context around a short clip"; its figures came from these commands).

Stats are kept per context in `--cache` (one file each, written every 500 clips, so a stopped run resumes).
Prints one JSON line per context and head: linear (600 full-batch steps, lr 1e-2), minibatch (the recipe's: 600
steps of 32, lr 3e-3) and minibatch x5 (the recipe's ensemble of five seeds)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alm.audio.io import load_audio  # noqa: E402
from alm.errors import AlmError  # noqa: E402
from alm.model.audio_encoder import window_stats  # noqa: E402
from alm.model.audio_tokens import SAMPLE_RATE, encoder_frames, split_windows  # noqa: E402
from alm.model.tagger import TaggerSettings, pool_clips  # noqa: E402
from tagger_heads import first_tag_right, fit_head, head_draw, known_clips, tagger_model  # noqa: E402
from training.tagger import targets  # noqa: E402

LAYERS, SAVE_EVERY = 6, 500
# printed name -> (`tagger_heads.fit_head`'s head, heads in the ensemble)
HEADS = {"linear": ("linear", 1), "minibatch": ("linear+minibatch", 1), "minibatch x5": ("linear+minibatch", 5)}


def context_seconds(context: str) -> float | None:
    """The seconds a context fills (None for `own`); exits with a one-line error on anything else."""
    if context == "own":
        return None
    kind, _, seconds = context.partition(":")
    try:
        value = float(seconds)
    except ValueError:
        value = 0.0
    if kind not in ("loop", "pad") or not 0 < value <= 30:
        raise SystemExit(f"unknown context {context!r}: own, loop:SECONDS or pad:SECONDS (up to Whisper's 30 s)")
    return value


def context_wave(wave: np.ndarray, context: str) -> tuple[np.ndarray, int]:
    """The waveform the encoder reads in this context, and how many of its samples are the clip's own (pooled)."""
    seconds = context_seconds(context)
    if seconds is None:
        return wave, len(wave)
    target = int(seconds * SAMPLE_RATE)
    if len(wave) >= target:
        return wave, len(wave)
    if context.startswith("loop:"):
        return np.tile(wave, -(-target // len(wave)))[:target], target
    return np.concatenate([wave, np.zeros(target - len(wave), wave.dtype)]), len(wave)


@torch.no_grad()
def clip_stats(encoder, processor, path: str, context: str) -> torch.Tensor:
    """(K, 2C) pooled six-layer stats of one clip in `context`."""
    wave, own = context_wave(load_audio(path), context)
    windows = split_windows(wave, processor.spec.window_seconds)
    batch = processor.audio_features(windows)
    x, lengths = encoder.embed(batch["audio_mel"], batch["audio_mel_lengths"])  # W, T, C
    pooled_lengths = lengths.clone()
    if own < len(wave):  # pad:S: pool over the clip's own frames only (one window: S <= Whisper's 30 s)
        pooled_lengths[0] = min(int(lengths[0]), encoder_frames(own * 100 // SAMPLE_RATE))
    stats = []
    n = len(encoder.encoder.layers)
    for k in range(n):
        x, _ = encoder.run_layers(x, lengths, start=k, stop=k + 1)  # after the last layer, its layer norm too
        if k >= n - LAYERS:
            stats.append(window_stats(x, pooled_lengths))  # W, 2C
    return pool_clips(torch.stack(stats, 1), pooled_lengths, [len(windows)])[0]  # K, 2C


def cached_stats(model, processor, paths: list[str], context: str, cache_dir: Path) -> torch.Tensor:
    """(A, K, 2C) stats of `paths` in `context`, computed once and kept in `cache_dir`."""
    file = cache_dir / f"{context.replace(':', '-')}.pt"
    cache: dict[str, torch.Tensor] = torch.load(file) if file.exists() else {}
    missing = [p for p in dict.fromkeys(paths) if p not in cache]
    for i, path in enumerate(tqdm(missing, desc=f"stats ({context})", unit="clip", dynamic_ncols=True)):
        cache[path] = clip_stats(model.audio_encoder, processor, path, context).to(torch.float16)
        if (i + 1) % SAVE_EVERY == 0 or i + 1 == len(missing):
            tmp = file.with_suffix(".tmp")
            torch.save(cache, tmp)
            tmp.replace(file)
    return torch.stack([cache[p] for p in paths]).float()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="an alm model folder (its Whisper encoder makes the stats)")
    ap.add_argument("contexts", nargs="+", help="own, loop:SECONDS, pad:SECONDS")
    ap.add_argument("--corpus", default="data/corpus-v4")
    ap.add_argument("--per-label", type=int, default=60, help="fitting clips per label (the recipe's)")
    ap.add_argument("--test-per-class", type=int, default=10, help="in-domain test clips per class (at most)")
    ap.add_argument("--cache", default="runs/tagger-context", help="where each context's stats are kept")
    args = ap.parse_args()
    for context in args.contexts:
        context_seconds(context)
    cache_dir = Path(args.cache)
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        fitting, vocab, held, test, *_ = head_draw(args.corpus, args.per_label, None)
    except AlmError as e:
        raise SystemExit(str(e)) from None
    vocab = [label for label in vocab if label != "music"]  # the recipe's `exclude: [music]`
    held_i, test_i = known_clips(held, vocab), known_clips(test, vocab, args.test_per_class)
    paths = fitting.paths + [held.paths[i] for i in held_i] + [test.paths[i] for i in test_i]
    n, m = len(fitting.paths), len(held_i)
    model, processor = tagger_model(args.model)
    y = targets(fitting.labels, vocab, "softmax")
    for context in args.contexts:
        start = time.time()
        stats = cached_stats(model, processor, paths, context, cache_dir)  # A, K, 2C
        print(json.dumps({"context": context, "fitting_clips": n, "labels": len(vocab), "held_out_clips": m,
                          "test_clips": len(test_i), "stats_s": round(time.time() - start)}), flush=True)
        for head, (kind, ensemble) in HEADS.items():
            settings = TaggerSettings(labels=vocab, width=stats.shape[-1] // 2, kind="softmax", layers=LAYERS,
                                      ensemble=ensemble)
            tagger = fit_head(kind, stats[:n], y, settings)
            print(json.dumps({"context": context, "head": head,
                              "held_out_sources": round(first_tag_right(tagger, stats[n:n + m],
                                                                        [held.labels[i] for i in held_i]), 3),
                              "in_domain": round(first_tag_right(tagger, stats[n + m:],
                                                                 [test.labels[i] for i in test_i]), 3)}), flush=True)


if __name__ == "__main__":
    main()
