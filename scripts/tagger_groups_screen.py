"""Which groups of tagger heads, averaged, name the most sounds of sources they never heard? A screen that leaves the
test splits alone: each group (five heads, the recipe's fit) is cross-fitted over the recipe's folds of recording
sources on its fitting clips, and every average of one to three groups is scored by its first tag on those clips.
The first tag of the groups fit on every fitting clip, on the items of a held-out class benchmark run, is printed
beside it for information only (pick on the cross-fitted score, then measure).

    .venv/bin/python scripts/tagger_groups_screen.py alm-tiny --results runs/eval-v5y/class-ood/results.json

Groups, on the stats `scripts/tagger_swap.py` caches (the six Whisper layers and the sound encoder's block):
`block` the six layers and the block (v5y's heads reading it), `layers` the six layers alone (v5y's `layers_only`),
`sound` the block alone, `early` / `late` Whisper's first / last three layers and the block, `smoothed` as `block`
with label smoothing 0.3. (A 1,024-wide hidden head does not fit at the recipe's minibatch rate, 3e-3: training top-1
0.04 after 300 steps, 0.19 at 1e-3; it is left out.) Session 42's figures are in training/README.md ("Session 42")."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from alm.errors import AlmError  # noqa: E402
from alm.model import AlmForConditionalGeneration  # noqa: E402
from alm.model.tagger import TaggerSettings, whisper_blocks  # noqa: E402
from alm.processor import AlmProcessor  # noqa: E402
from tagger_heads import answered_items  # noqa: E402
from tagger_swap import clip_stats, recipe_draw, stats_file  # noqa: E402
from training.config import load_config  # noqa: E402
from training.tagger import cross_fit_probabilities, fit  # noqa: E402

GROUPS = ("block", "layers", "sound", "early", "late", "smoothed")


def group_views(vocab: list[str], width: int, whisper_width: int, heads: int) -> dict:
    """name -> (settings, view of the (A, 7, 2W) stats, extra fit arguments)."""
    softmax = dict(labels=vocab, kind="softmax", ensemble=heads)
    block = TaggerSettings(width=width, layers=6, sound_block=True, **softmax)
    split = TaggerSettings(width=width, layers=6, sound_block=True, layers_only=heads, layers_width=whisper_width,
                           **softmax)
    three = TaggerSettings(width=width, layers=3, sound_block=True, **softmax)
    return {"block": (block, lambda f: f, {}),
            "layers": (TaggerSettings(width=whisper_width, layers=6, **softmax), lambda f: whisper_blocks(f, split), {}),
            "sound": (TaggerSettings(width=width, layers=1, **softmax), lambda f: f[:, -1:], {}),
            "early": (three, lambda f: f[:, [0, 1, 2, 6]], {}),
            "late": (three, lambda f: f[:, [3, 4, 5, 6]], {}),
            "smoothed": (block, lambda f: f, {"label_smoothing": 0.3})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a trained model whose tagger reads Whisper's six layers and a sound block (v5y)")
    ap.add_argument("--recipe", default="training/recipes/alm-tiny/stage2.yaml", help="the stage whose tagger plan fits")
    ap.add_argument("--results", default=None, help="a held-out class benchmark run's results.json (for information)")
    ap.add_argument("--benchmark", default="offline-classification-ood")
    ap.add_argument("--groups", nargs="+", default=list(GROUPS), choices=GROUPS)
    ap.add_argument("--cache", default="runs/tagger-swap", help="where the clips' stats are kept (tagger_swap's)")
    ap.add_argument("--out", default="runs/tagger-groups", help="the groups' probabilities (a rerun reuses them)")
    args = ap.parse_args()
    if args.results and not Path(args.results).is_file():
        raise SystemExit(f"--results {args.results}: no such file (an `alm eval` run's results.json)")
    try:
        stage = load_config(args.recipe)
        model = AlmForConditionalGeneration.from_pretrained(args.model)
        processor = AlmProcessor.from_pretrained(args.model)
    except AlmError as exc:
        raise SystemExit(str(exc)) from None
    plan, seed = stage.tagger, stage.seed
    if model.sound_encoder is None:
        raise SystemExit(f"{args.model}: no sound encoder; the groups read its block")
    fit_data, vocab, y, fit_kwargs = recipe_draw(stage)
    x = clip_stats(model, processor, fit_data.paths, stats_file(args.cache, model.config.sound_encoder), 6)  # A, 7, 2W
    items = answered_items(args.results, args.benchmark) if args.results else []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    xb = clip_stats(model, processor, [it["audio"][0] for it in items],
                    stats_file(out, f"items-{model.config.sound_encoder}"), 6) if items else None
    views = group_views(vocab, x.shape[-1] // 2, model.config.audio_config.d_model, plan.ensemble)
    file = out / "probabilities.pt"
    probs = torch.load(file) if file.exists() else {}
    for name in args.groups:
        if name in probs:
            continue
        settings, view, extra = views[name]
        start = time.time()
        kwargs = {**fit_kwargs, **extra}  # a group's own fit arguments replace the recipe's
        held = cross_fit_probabilities(view(x), y, settings, plan.folds, seed, groups=fit_data.origins, **kwargs)
        full = fit(view(x), y, settings, seed=seed, **kwargs)
        probs[name] = {"cross_fit": held, "items": full.clip_probabilities(view(xb)) if items else None}
        torch.save(probs, file.with_suffix(".tmp"))
        file.with_suffix(".tmp").replace(file)
        print(json.dumps({"group": name, "fit_s": round(time.time() - start)}), flush=True)
    refs = [it["reference"]["label"] for it in items]
    rows = []
    for r in (1, 2, 3):
        for combo in itertools.combinations(args.groups, r):
            held = sum(probs[g]["cross_fit"] for g in combo) / r
            first = held.argmax(1).tolist()
            row = {"groups": "+".join(combo),
                   "cross_fit_first_tag": round(sum(vocab[f] in labels for f, labels in zip(first, fit_data.labels))
                                                / len(first), 4)}
            if items:
                named = (sum(probs[g]["items"] for g in combo) / r).argmax(1).tolist()
                row["items_first_tag_right"] = f"{sum(vocab[f] == ref for f, ref in zip(named, refs))}/{len(refs)}"
            rows.append(row)
    for row in sorted(rows, key=lambda r: -r["cross_fit_first_tag"]):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
