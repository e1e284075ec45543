"""Would a third group of tagger heads reading YAMNet's own AudioSet logits (mean and max over its frames, 1,042-d)
name more sounds of unheard sources? Five linear heads fit as the recipe fits its heads (`training/recipes/alm-tiny/
stage2.yaml`'s draw: 60 clips per label of corpus v4's training split, 600 minibatch steps, label smoothing 0.1), their
probabilities averaged in at weight 1/3 beside the shipped tagger's (its two groups, 2/3). Scored without the LLM: the
first label on class items, and the shipped verdict rule (asked probability >= its threshold, or the asked sound covers
the first label) on "is there X?" items, each against an `alm eval` run's items:

    .venv/bin/python scripts/audioset_heads_probe.py fit --items R.json ...  # YAMNet logits of the draw and items; heads
    .venv/bin/python scripts/audioset_heads_probe.py score class-ood=runs/eval-alm-tiny/class-ood/results.json ...

Session 46 (training/README.md): the held-out split said "no gain" (0.464 -> 0.470 first label right of 330), and the
group was not wired into the model."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

SAVE_EVERY = 1000


def clip_path(item: dict) -> str:
    """An `alm eval` item's first clip (a path, or a dict holding one)."""
    clip = item["audio"][0]
    return clip if isinstance(clip, str) else clip["path"]


def item_paths(results: str) -> list[str]:
    """Each item's first clip in an `alm eval` results.json."""
    return [clip_path(item) for bench in json.loads(Path(results).read_text())["benchmarks"].values()
            for item in bench["items"]]


@torch.no_grad()
def fit_heads(args) -> None:
    from alm.audio.io import load_audio
    from alm.audio.sound_features import yamnet_log_mel
    from alm.model.sound_encoder import load_sound_encoder
    from alm.model.tagger import TaggerSettings
    from tagger_swap import recipe_draw
    from training.config import load_config
    from training.tagger import fit

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stage = load_config(args.recipe, [])
    draw, vocab, y, fit_kwargs = recipe_draw(stage)
    paths = list(dict.fromkeys(draw.paths + [p for results in args.items for p in item_paths(results)]))
    file = out / "logits.pt"
    cache: dict[str, torch.Tensor] = torch.load(file) if file.exists() else {}
    yamnet = load_sound_encoder("builtin:yamnet")
    missing = [p for p in paths if p not in cache]
    for i, path in enumerate(tqdm(missing, desc="yamnet logits", unit="clip", mininterval=10)):
        spec = torch.from_numpy(yamnet_log_mel(load_audio(path)))[None]  # 1, 64, S
        frames, lengths = yamnet(spec, torch.tensor([spec.shape[2]]))  # 1, S', 1024
        logits = yamnet.classify(frames[0, : int(lengths[0])])  # S', 521
        cache[path] = torch.cat([logits.mean(0), logits.max(0).values]).half()  # 1042
        if (i + 1) % SAVE_EVERY == 0 or i + 1 == len(missing):
            torch.save(cache, file.with_suffix(".tmp"))
            file.with_suffix(".tmp").replace(file)
    x = torch.stack([cache[p] for p in draw.paths]).float()[:, None]  # A, 1, 1042
    settings = TaggerSettings(labels=vocab, width=x.shape[-1] // 2, kind="softmax", layers=1, ensemble=5)
    start = time.time()
    with torch.enable_grad():
        heads = fit(x, y, settings, seed=stage.seed, **fit_kwargs)
    torch.save({"state": heads.state_dict(), "labels": vocab}, out / "heads.pt")
    print(json.dumps({"fitting_clips": len(draw.paths), "labels": len(vocab), "fit_s": round(time.time() - start)}))


@torch.no_grad()
def score(args) -> None:
    from alm.audio.io import load_audio
    from alm.inference import Assistant
    from alm.model.tagger import SoundTagger, TaggerSettings

    out = Path(args.out)
    assistant = Assistant.load(args.model, device="cpu", speech_transcripts=False)
    tagger = assistant.model.tagger
    saved = torch.load(out / "heads.pt")
    if saved["labels"] != tagger.settings.labels:
        raise SystemExit(f"{args.model}: its tagger's labels are not the heads' (fit them on its recipe's draw)")
    heads = SoundTagger(TaggerSettings(labels=saved["labels"], width=521, kind="softmax", layers=1, ensemble=5))
    heads.load_state_dict(saved["state"])
    heads.eval()
    logits = torch.load(out / "logits.pt")

    @functools.cache  # a clip is asked about in several items (six "is there X?" questions each)
    def probabilities(path: str) -> dict[str, torch.Tensor]:  # each (L,)
        shipped = assistant._clip_probabilities([load_audio(path)])[0]
        audioset = heads.clip_probabilities(logits[path].float()[None, None])[0]
        return {"shipped": shipped, "audioset": audioset, "mix": (2 * shipped + audioset) / 3}

    threshold = tagger.settings.asked_threshold
    for spec in args.runs:
        name, results = spec.split("=", 1)
        for bench_name, bench in json.loads(Path(results).read_text())["benchmarks"].items():
            right: dict[str, int] = {"shipped": 0, "audioset": 0, "mix": 0}
            yes = dict.fromkeys(right, 0)
            n = 0
            for item in bench["items"]:
                if bench["family"] == "classification":
                    n += 1
                    for arm, p in probabilities(clip_path(item)).items():
                        right[arm] += tagger.settings.labels[int(p.argmax())] == item["reference"]["label"]
                elif bench["family"] == "hallucination":
                    asked = tagger.asked_names(item["question"])[:1]
                    if not asked:
                        continue
                    n += 1
                    truth = item["reference"]["answer"] == "yes"
                    for arm, p in probabilities(clip_path(item)).items():
                        p_asked = tagger.asked_probabilities(p[None], asked)[0, 0].item()
                        verdict = p_asked >= threshold or bool(tagger.asked_cover_top(p[None], asked)[0, 0])
                        right[arm] += verdict == truth
                        yes[arm] += verdict
            if n:
                row = {"run": name, "benchmark": bench_name, "items": n, "llm": round(bench["headline"]["model"], 3),
                       "right": {arm: round(v / n, 3) for arm, v in right.items()}}
                if bench["family"] == "hallucination":
                    row["yes_ratio"] = {arm: round(v / n, 2) for arm, v in yes.items()}
                print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["fit", "score"])
    ap.add_argument("runs", nargs="*", metavar="NAME=RESULTS", help="score: alm eval results.json files to score on")
    ap.add_argument("--items", nargs="*", default=[], metavar="RESULTS",
                    help="fit: results.json files whose clips get their logits extracted too")
    ap.add_argument("--recipe", default="training/recipes/alm-tiny/stage2.yaml")
    ap.add_argument("--model", default="alm-tiny", help="score: the model whose tagger is mixed with the heads")
    ap.add_argument("--out", default="runs/audioset-heads")
    args = ap.parse_args()
    if args.step == "fit":
        fit_heads(args)
    else:
        if not args.runs:
            raise SystemExit("score: give NAME=RESULTS (an alm eval results.json) at least once")
        score(args)


if __name__ == "__main__":
    main()
