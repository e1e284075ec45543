"""Would musicnn's music-tagging CNNs, beside Whisper-base's six layers, tag held-out sounds better? A probe before any
port: `musicnn==0.1.0` (ISC) ships four TensorFlow 1 checkpoints in its wheel (MTT_musicnn, MSD_musicnn and two VGG
baselines, trained to tag music with 50 tags), so it loads offline, but only under TensorFlow. Three steps:

    .venv/bin/python scripts/musicnn_probe.py draw --corpus data/corpus-v3 --out /tmp/mprobe
    python3.11 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.15.1 soundfile "numpy<2" librosa \
        && /tmp/tfvenv/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tfvenv/bin/python scripts/musicnn_probe.py extract --out /tmp/mprobe --model MTT_musicnn   # ~10 min here
    .venv/bin/python scripts/musicnn_probe.py heads --out /tmp/mprobe --model MTT_musicnn --exclude music

`draw`: `scripts/tagger_heads.py`'s fitting clips (60 per label), held-out-source and in-domain draws, plus the items
of the held-out class benchmark in `--benchmark-results`, with their six-layer Whisper stats (draw.pt, paths.json).
`extract` (TensorFlow's interpreter): each clip's log-mel as musicnn computes it (16 kHz, 512-point FFT every 256
samples, 96 mel bands, log10(1 + 10^4 x)), repeat-padded to one 3 s patch when shorter, cut into 3 s patches; per clip
the mean and the max over patches of each patch's pooled frames (753-d; their mean over time and max over time) and of
its 200-d penultimate layer (NPZ). `heads`: five-head ensembles of the recipe's minibatch linear head (600 steps of 32,
lr 3e-3) from two seeds, on Whisper's six layers alone and with musicnn's pooled frames or penultimate layer as one
more block (`alm.model.tagger.with_sound_block`); the first tag right on the held-out draw, in domain and on the
benchmark items. training/README.md ("The v5 candidate") has the figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_FRAMES = 187  # musicnn's 3 s patch: 1 + 3 * 16000 // 256 frames


def draw(args) -> None:
    import torch

    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    from tagger_heads import head_draw, layer_stats, tagger_model

    fitting, vocab, held, test, held_i, test_i, items = head_draw(args.corpus, 60, args.benchmark_results)
    paths = (fitting.paths + [held.paths[i] for i in held_i] + [test.paths[i] for i in test_i]
             + [it["audio"][0] for it in items])
    labels = (fitting.labels + [held.labels[i] for i in held_i] + [test.labels[i] for i in test_i]
              + [[it["reference"]["label"]] for it in items])
    model, processor = tagger_model(args.model_dir)
    stats = layer_stats(model, processor, paths, 6)  # A, 6, 2C
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({"labels": labels, "vocab": vocab, "n": [len(fitting.paths), len(held_i), len(test_i), len(items)],
                "whisper": stats.half()}, out / "draw.pt")
    (out / "paths.json").write_text(json.dumps([str(Path(p).resolve()) for p in paths]))


def extract(args) -> None:
    import os

    import librosa
    import numpy as np
    import soundfile as sf
    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, 96])
    training = tf.compat.v1.placeholder(tf.bool)
    _, _, _, _, _, _, mean_pool, max_pool, penultimate = models.define_model(x, training, args.model, 50)
    session = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(session, os.path.dirname(models.__file__) + f"/{args.model}/")

    def patches(path):
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        audio = librosa.resample(audio.mean(1), orig_sr=rate, target_sr=16000) if rate != 16000 else audio.mean(1)
        mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96).T  # S, 96
        mel = np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)
        if len(mel) < N_FRAMES:  # repeat-pad, as musicnn was trained
            mel = np.tile(mel, (-(-N_FRAMES // max(1, len(mel))), 1))[:N_FRAMES]
        return np.stack([mel[s:s + N_FRAMES] for s in range(0, len(mel) - N_FRAMES + 1, N_FRAMES)][:40])

    out = {"frames": [], "penultimate": []}
    paths = json.loads((Path(args.out) / "paths.json").read_text())
    for i, path in enumerate(paths):
        mean, peak, pen = session.run([mean_pool, max_pool, penultimate], {x: patches(path), training: False})
        out["frames"].append(np.concatenate([mean.mean(0), peak.max(0)]))  # mean and max over all frames: 2 x 753
        out["penultimate"].append(np.concatenate([pen.mean(0), pen.max(0)]))  # 2 x 200
        if i % 500 == 0:
            print(f"{i}/{len(paths)}", flush=True)
    np.savez(Path(args.out) / f"{args.model}.npz", **{k: np.stack(v) for k, v in out.items()})


def heads(args) -> None:
    import numpy as np
    import torch

    sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
    from alm.model.tagger import TaggerSettings, with_sound_block
    from training.tagger import fit, targets

    d = torch.load(Path(args.out) / "draw.pt")
    n, m, t, _ = d["n"]
    labels, whisper = d["labels"], d["whisper"].float()  # A, 6, 2C
    vocab = [v for v in d["vocab"] if v not in args.exclude]
    y = targets(labels[:n], vocab, "softmax")
    z = np.load(Path(args.out) / f"{args.model}.npz")
    arms = {"whisper6": whisper}
    for key in ("frames", "penultimate"):
        arms[f"whisper6 + {args.model} {key}"] = with_sound_block(whisper, torch.tensor(z[key]).float()[:, None])
    for name, x in arms.items():
        for seed in (0, 10):
            settings = TaggerSettings(labels=vocab, width=x.shape[-1] // 2, kind="softmax", layers=6,
                                      sound_block=x.shape[1] == 7, ensemble=5)
            tagger = fit(x[:n], y, settings, steps=600, lr=3e-3, weight_decay=1e-4, label_smoothing=0.1,
                         batch_size=32, seed=seed)
            best = tagger.clip_probabilities(x[n:]).argmax(1).tolist()
            right = [vocab[b] == clip[0] for b, clip in zip(best, labels[n:])]
            print(json.dumps({"features": name, "seed": seed, "held_out": round(float(np.mean(right[:m])), 3),
                              "in_domain": round(float(np.mean(right[m:m + t])), 3),
                              "benchmark_items_right": int(sum(right[m + t:])), "benchmark_items": len(right) - m - t}),
                  flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["draw", "extract", "heads"])
    ap.add_argument("--out", required=True, help="folder the steps share")
    ap.add_argument("--corpus", default="data/corpus-v3")
    ap.add_argument("--model-dir", default="alm/pretrained/alm-tiny", help="draw: the alm model whose Whisper reads")
    ap.add_argument("--benchmark-results", default="runs/eval-c3/v4-class-ood/results.json")
    ap.add_argument("--model", default="MTT_musicnn", choices=["MTT_musicnn", "MSD_musicnn"])
    ap.add_argument("--exclude", nargs="*", default=[], help="heads: labels left out of the vocabulary")
    args = ap.parse_args()
    {"draw": draw, "extract": extract, "heads": heads}[args.step](args)


if __name__ == "__main__":
    main()
