"""A trained alm model with a general-sound encoder for its tagger alone: the encoder's pooled frames become one more
block beside the Whisper layers the tagger reads (`AlmConfig.sound_to_aligner: false`, `alm.model.tagger.
with_sound_block`), the tagger is fit again by the recipe's tagger plan, and the aligner, LoRA and LLM stay as they
were trained. The LLM reads the new tagger's words in the notes it was trained on (` (sound tags: dog 0.62, ...;
asked: bird 0.03 unlikely)`), so a tagger that names more sounds of unheard sources can be tried in minutes, without
the 2 h 20 min retrain a sound encoder feeding the aligner takes.

    .venv/bin/python scripts/tagger_swap.py alm-tiny runs/alm-tiny-yamtags --sound-encoder builtin:yamnet

The fit follows `training.tagger.stage_tags` for a stage that fits a tagger (the recipe's `tagger:` plan: its class-
balanced draw of training clips, vocabulary, asked-sound names, ensemble, cross-fitting by source and the asked-sound
threshold picked on the cross-fitted probabilities), on the stats the model itself computes at inference
(`encode_windows`: each clip's windows through Whisper and the sound encoder, pooled by `pool_clips`), cached in
`--cache` (written every 500 clips, so a stopped run resumes). A stage trains such a model too (since session 47:
`alm train ... --set model.sound_encoder=builtin:yamnet --set model.sound_to_aligner=false`, its tagger reading the
encoder's block from a stats cache of its own, `training.tagger.stage_tags`). A model whose aligner already reads that encoder (`alm train alm-tiny --set
model.sound_encoder=builtin:yamnet`) keeps it as it is, and only its tagger is fit again. `--set KEY=VALUE` overrides
the recipe as `alm train --set` does (session 41: `--set tagger.steps=2400`, ten heads fit four times longer, named
fewer held-out items; training/README.md, "Session 41"). How the model then reads its tagger (one tag or three, the
speech gate) is `scripts/tagger_reading.py`'s to set, with no fit."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alm.audio.io import load_audio  # noqa: E402
from alm.checkpoints import resolve_checkpoint  # noqa: E402
from alm.errors import AlmError  # noqa: E402
from alm.model import AlmForConditionalGeneration  # noqa: E402
from alm.model.tagger import SoundTagger, TaggerSettings, pool_clips  # noqa: E402
from alm.processor import AlmProcessor  # noqa: E402
from training.config import load_config  # noqa: E402
from training.engine import add_tagger_sound_encoder  # noqa: E402
from training.tagger import (asked_threshold, balanced_subset, corpus_clips, held_out_by_scheme,  # noqa: E402
                             mixed_held_out, scheme_groups, sound_names, tag_top1, targets, top1_accuracy, vocabulary)

SAVE_EVERY = 500
RECORD = "training_record.json"


def recipe_draw(stage):
    """The stage's tagger fit as `training.tagger.stage_tags` draws it: (fitting clips, vocabulary, (A, L) targets,
    the fit's keyword arguments)."""
    plan = stage.tagger
    fit_data = balanced_subset(corpus_clips(stage.data.root, "train"), plan.clips_per_label, stage.seed,
                               by_source=plan.balance == "source")
    vocab = [label for label in vocabulary(fit_data.labels, plan.min_clips, plan.kind) if label not in plan.exclude]
    fit_kwargs = {"steps": plan.steps, "lr": plan.lr, "weight_decay": plan.weight_decay,
                  "label_smoothing": plan.label_smoothing, "batch_size": plan.batch_size}
    return fit_data, vocab, targets(fit_data.labels, vocab, plan.kind), fit_kwargs


def stats_file(cache: str | Path, sound_encoder: str) -> Path:
    """Where `clip_stats` keeps the fitting clips' stats for a sound encoder."""
    return Path(cache) / f"{sound_encoder.replace(':', '-').replace('/', '-')}.pt"


@torch.no_grad()
def clip_stats(model, processor, paths: list[str], cache_file: Path, layers: int) -> torch.Tensor:
    """(A, K + 1, 2W) pooled stats of each clip as the model's tagger reads them (K Whisper layers, the sound block)."""
    cache: dict[str, torch.Tensor] = torch.load(cache_file) if cache_file.exists() else {}
    missing = [p for p in dict.fromkeys(paths) if p not in cache]
    placeholder = TaggerSettings(labels=["_"], width=1, kind="softmax", layers=layers, sound_block=True)
    kept, model.tagger = model.tagger, SoundTagger(placeholder)  # only its settings are read by encode_windows
    try:
        for i, path in enumerate(tqdm(missing, desc="tagger stats", unit="clip", dynamic_ncols=True)):
            feats = processor.audio_features([load_audio(path)])
            _, lengths, stats = model.encode_windows(feats["audio_mel"], feats["audio_mel_lengths"],
                                                     feats["sound_features"], feats["sound_lengths"], tag_stats=True)
            cache[path] = pool_clips(stats.float(), lengths, feats["audio_num_windows"].tolist())[0].half()
            if (i + 1) % SAVE_EVERY == 0 or i + 1 == len(missing):
                tmp = cache_file.with_suffix(".tmp")
                torch.save(cache, tmp)
                tmp.replace(cache_file)
    finally:
        model.tagger = kept
    return torch.stack([cache[p] for p in paths]).float()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a trained alm model with a sound tagger (a folder, or alm-tiny)")
    ap.add_argument("out", help="the new model's folder")
    ap.add_argument("--sound-encoder", default="builtin:yamnet")
    ap.add_argument("--recipe", default="training/recipes/alm-tiny/stage2.yaml",
                    help="the stage whose tagger plan, corpus and seed fit the tagger")
    ap.add_argument("--cache", default="runs/tagger-swap", help="where the clips' stats are kept")
    ap.add_argument("--layers-only", type=int, default=5,
                    help="heads on the Whisper layers alone averaged in beside the plan's heads reading the sound "
                         "block (0: none; `alm.model.tagger`, layers_only)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key of the recipe, as `alm train --set` (e.g. --set tagger.steps=2400)")
    ap.add_argument("--tagger-dtype", choices=["float16", "float32"], default="float16",
                    help="how the tagger's weights are stored (float16: half the file; on the 5,624 fitting clips of "
                         "alm-tiny's swap its probabilities were within 1.2e-4 of float32's, the same first tag on all)")
    args = ap.parse_args()
    try:
        stage = load_config(args.recipe, args.overrides)
    except AlmError as exc:
        raise SystemExit(str(exc)) from None  # it names the stage file
    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out}: exists; give a new folder")
    start = time.time()
    model = AlmForConditionalGeneration.from_pretrained(args.model)
    processor = AlmProcessor.from_pretrained(args.model)
    old = model.tagger
    if old is None:
        raise SystemExit(f"{args.model}: no sound tagger to fit again")
    if model.config.sound_encoder != args.sound_encoder:  # a model that has it (feeding its aligner too) keeps it
        try:
            add_tagger_sound_encoder(model, processor, args.sound_encoder)
        except AlmError as exc:
            raise SystemExit(str(exc)) from None
    plan, seed = stage.tagger, stage.seed
    fit_data, vocab, y, fit_kwargs = recipe_draw(stage)
    cache_file = stats_file(args.cache, args.sound_encoder)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    x = clip_stats(model, processor, fit_data.paths, cache_file, old.settings.layers)  # A, K + 1, 2W
    names = sound_names(fit_data.labels, vocab, plan.min_clips, plan.kind) if plan.asked else {}
    settings = TaggerSettings(labels=vocab, width=x.shape[-1] // 2, top_k=plan.top_k, threshold=plan.threshold,
                              kind=plan.kind, layers=old.settings.layers, names=names, asked_limit=plan.asked_limit,
                              hidden=plan.hidden, dropout=plan.dropout, sound_block=True, ensemble=plan.ensemble,
                              layers_only=args.layers_only, layers_width=model.config.audio_config.d_model,
                              speech_gate=plan.speech_gate, speech_gate_words=plan.speech_gate_words,
                              speech_gate_floor=plan.speech_gate_floor)
    tagger, held, _ = held_out_by_scheme(x, y, settings, plan, scheme_groups(fit_data.origins, plan.folds), {}, seed,
                                         fit_kwargs)
    held_out = mixed_held_out(held, seed)
    stats = {"sound_encoder": args.sound_encoder, "fitted_on": len(fit_data.paths), "labels": len(vocab),
             "steps": plan.steps, "label_smoothing": plan.label_smoothing, "top_k": plan.top_k,
             "speech_gate": plan.speech_gate, "speech_gate_words": plan.speech_gate_words,
             "speech_gate_floor": plan.speech_gate_floor,
             "asked_names": len(names), "train_top1": round(top1_accuracy(tagger, x, fit_data.labels), 4),
             "cross_fit_top1": round(tag_top1(tagger.top_tags(held_out), fit_data.labels), 4)}
    if names and plan.asked_verdict:
        tagger.settings.asked_top = plan.asked_top
        tagger.settings.asked_threshold, score = asked_threshold(held_out, fit_data.labels, tagger)
        stats.update(asked_threshold=tagger.settings.asked_threshold, asked_score=score, asked_top=plan.asked_top)
    model.tagger = tagger.requires_grad_(False)
    model.save_pretrained(out, processor=processor)
    tagger.to(getattr(torch, args.tagger_dtype)).save(out)  # the tagger's files again, in the dtype asked
    record_file = resolve_checkpoint(args.model) / RECORD  # a folder, or a packaged name like alm-tiny
    if record_file.is_file():
        record = json.loads(record_file.read_text())
        record["tagger_swap"] = {**stats, "from": str(args.model), "recipe": args.recipe,
                                 "wall_s": round(time.time() - start)}
        (out / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({**stats, "out": str(out), "wall_s": round(time.time() - start)}))


if __name__ == "__main__":
    main()
