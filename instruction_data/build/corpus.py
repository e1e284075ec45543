"""`alm data build`: plan clips, split by source, render audio, generate records, write files.

Output (under `cfg.out`): `audio/<dataset>/<clip>.wav` (16 kHz mono, <= 10 s),
`{train,validation,test}.jsonl` (records, OpenAQA form + our fields), `clips.jsonl` (one line
per clip with its split and metadata) and `manifest.json` (counts, hours, licences, settings).
Every file is written atomically; a rerun reuses rendered audio and, when the settings are
unchanged, returns at once.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from tqdm import tqdm

from alm.errors import AlmError
from alm.files import atomic_write_json, atomic_write_text
from instruction_data.adapters import DEBIAN, load_source, packages_for
from instruction_data.adapters.common import MAX_SECONDS
from instruction_data.build import packages
from instruction_data.build.config import BuildConfig
from instruction_data.build.manifest import summarize
from instruction_data.build.render import RenderContext, render
from instruction_data.build.splits import FRACTIONS, OOD, SPLITS, assign, check_disjoint, keep_seen_classes
from instruction_data.clips import Clip
from instruction_data.errors import DataError
from instruction_data.files import write_records
from instruction_data.generate.endpoint import EndpointGenerator
from instruction_data.generate.llm_client import EndpointConfig
from instruction_data.generate.multi_clip import multi_clip_records
from instruction_data.generate.negatives import LabelSampler
from instruction_data.generate.perception import dialogue, perception_records
from instruction_data.generate.reasoning import template_records
from instruction_data.schema import Record
from instruction_data.synth import derive
from instruction_data.synth import piper
from instruction_data.synth.gm import plan_gm
from instruction_data.synth.speech import plan_piper, plan_speech
from instruction_data.synth.tones import plan_tones

MANIFEST_VERSION = 1
CUT_TOLERANCE = 0.01  # s: a clip this close to MAX_SECONDS was cut mid-sound (a 16-bit wav of 10 s reads 9.999-10.0)


def _rng(cfg: BuildConfig, *parts: str) -> random.Random:
    """A generator seeded by the build seed and a purpose: independent of processing order."""
    return random.Random(":".join([str(cfg.seed), *parts]))


# ---- 1. sources ------------------------------------------------------------------------
def collect_sources(cfg: BuildConfig, console: Console) -> list[Clip]:
    """Clips of every configured source (Debian packages installed first when needed)."""
    needed = packages_for(cfg.sources)
    missing = set(packages.ensure(needed, console, cfg.install)) if needed else set()
    clips: list[Clip] = []
    for source in cfg.sources:
        if set(packages_for([source])) & missing:
            continue
        if source == "speech":
            found = plan_speech(cfg.seed, cfg.n("n_sentences"), cfg.n("n_commands"), cfg.n("n_foreign"),
                                n_long=cfg.n("n_long"), n_passages=cfg.n("n_passages"), held_out=cfg.ood)
        elif source == "tones":
            found = plan_tones(cfg.n("n_tones"), cfg.seed)
        elif source == "gm":
            found = plan_gm(cfg.seed, cfg.n("gm_per_program"), cfg.n("gm_per_drum"))
        elif source == "piper":
            found = plan_piper(cfg.seed, cfg.n("n_piper")) if piper.ensure(console, cfg.install) else []
        elif source in DEBIAN:
            found = load_source(source)
        else:
            raise DataError(f"unknown default source {source!r}; public sets go in --source KIND=PATH")
        clips += found[: cfg.limit] if cfg.limit is not None else found
    for kind, path in cfg.extra:
        clips += load_source(kind, Path(path), limit=cfg.limit)
    ids = Counter(c.id for c in clips)
    if dup := [i for i, n in ids.items() if n > 1]:
        raise DataError(f"duplicate clip ids across sources: {', '.join(sorted(dup)[:5])}")
    return sorted(clips, key=lambda c: c.id)


# ---- 2. audio ----------------------------------------------------------------------------
def render_all(clips: list[Clip], ctx: RenderContext, cfg: BuildConfig, desc: str,
               failures: Counter, progress: bool) -> list[Clip]:
    """Render clips in a thread pool; the ones that fail are counted by dataset and dropped."""
    def one(clip: Clip) -> Clip | None:
        try:
            return render(clip, ctx)
        except (AlmError, subprocess.SubprocessError, OSError, RuntimeError, ValueError):
            return None

    with ThreadPoolExecutor(max_workers=max(1, cfg.workers)) as pool:
        done = list(tqdm(pool.map(one, clips), total=len(clips), desc=desc, unit="clip", disable=not progress))
    for clip, result in zip(clips, done):
        if result is None:
            failures[clip.dataset] += 1
    return [c for c in done if c is not None]


def drop_cut_speech(clips: list[Clip], failures: Counter) -> list[Clip]:
    """The clips but transcribed speech that the clip limit cut mid-sound (`MAX_SECONDS` long after trimming the
    silence at its ends): its transcript would name words the clip no longer holds. Counted by dataset as
    `<dataset> (cut speech)` in the manifest's failed clips."""
    kept = []
    for clip in clips:
        if clip.transcript and clip.duration >= MAX_SECONDS - CUT_TOLERANCE:
            failures[f"{clip.dataset} (cut speech)"] += 1
        else:
            kept.append(clip)
    return kept


def plan_derived(split: str, clips: list[Clip], cfg: BuildConfig) -> tuple[list[Clip], list[Clip]]:
    """(new clips, of which the edited copies for change questions) for one split (none for test_ood:
    it holds the held-out sources' own recordings only)."""
    if split == OOD:
        return [], []
    share = FRACTIONS[split]
    seed = _rng(cfg, "derive", split).randrange(2**31)

    def n(name: str) -> int:
        return max(1, round(cfg.n(name) * share)) if cfg.n(name) else 0

    new = (derive.plan_sequences(clips, n("n_sequences"), seed + 1, split)
           + derive.plan_repeats(clips, n("n_repeats"), seed + 2, split)
           + derive.plan_speech_scenes(clips, n("n_scenes"), seed + 3, split)
           + derive.plan_background_mixes(clips, n("n_mixes"), seed + 6, split)
           + derive.plan_phone_speech(clips, n("n_phone"), seed + 7, split))
    if split == "train" and cfg.min_per_class:
        new += derive.plan_augmentations(clips, cfg.min_per_class, seed + 4, split)
    changes = derive.plan_changes(clips, n("n_changes"), seed + 5, split)
    return new + changes, changes


# ---- 3. records --------------------------------------------------------------------------
def reasoning_generator(cfg: BuildConfig) -> tuple[str, EndpointGenerator | None]:
    """('templates' | 'endpoint:<model>', generator or None) for the configured mode."""
    endpoint = EndpointConfig.from_env(base_url=cfg.llm_base_url, model=cfg.llm_model, api_key=cfg.llm_api_key,
                                       workers=cfg.llm_workers)
    if cfg.reasoning == "endpoint" and endpoint is None:
        raise DataError("--reasoning endpoint needs --llm-base-url (or ALM_LLM_BASE_URL)")
    if cfg.reasoning == "templates" or endpoint is None:
        return "templates", None
    generator = EndpointGenerator(endpoint, cfg.out / "cache" / "llm", n_pairs=cfg.open_ended_per_clip)
    return generator.name, generator


def split_records(split: str, clips: list[Clip], changed: list[Clip], cfg: BuildConfig, sampler: LabelSampler,
                  endpoint: EndpointGenerator | None, progress: bool) -> list[Record]:
    changed_ids = {c.id for c in changed}
    out: list[Record] = []
    reasoning_clips = []
    for clip in tqdm(clips, desc=f"records ({split})", unit="clip", disable=not progress):
        rng = _rng(cfg, "records", clip.id)
        closed = perception_records(clip, rng, sampler)
        out += closed
        if rng.random() < cfg.dialogue_share and (turns := dialogue(clip, closed, rng)):
            out.append(turns)
        if clip.id not in changed_ids and not clip.recipe.get("op") == "augment":
            reasoning_clips.append(clip)
            if endpoint is None:
                out += template_records(clip, rng, cfg.open_ended_per_clip)
    if endpoint is not None:
        out += endpoint.generate(reasoning_clips, progress=progress)
    out += multi_clip_records(clips, changed, max(1, round(cfg.n("n_pairs") * FRACTIONS.get(split, 0.1))),
                              _rng(cfg, "pairs", split))
    return _unique_ids(out)


def _unique_ids(records: list[Record]) -> list[Record]:
    seen: Counter = Counter()
    for r in records:
        seen[r.id] += 1
        if seen[r.id] > 1:
            r.id = f"{r.id}#{seen[r.id] - 1}"
    return records


# ---- 4. the whole build -----------------------------------------------------------------
def _up_to_date(cfg: BuildConfig) -> dict[str, Any] | None:
    path = cfg.out / "manifest.json"
    if cfg.force or not path.is_file():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    files = [cfg.out / f"{s}.jsonl" for s in SPLITS] + [cfg.out / "clips.jsonl"]
    if manifest.get("fingerprint") == cfg.fingerprint() and all(f.is_file() for f in files):
        return manifest
    return None


def _prune_audio(out: Path, keep: set[str]) -> int:
    """Delete wavs under out/audio that no clip of this build uses (left by older settings)."""
    removed = 0
    for wav in sorted((out / "audio").rglob("*.wav")):
        if wav.relative_to(out).as_posix() not in keep:
            wav.unlink()
            removed += 1
    return removed


def build(cfg: BuildConfig, console: Console | None = None, progress: bool = True) -> dict[str, Any]:
    """Build (or confirm) the corpus at cfg.out; returns the manifest."""
    console = console or Console(stderr=True)
    if manifest := _up_to_date(cfg):
        console.print(f"{cfg.out}: up to date (same settings); use --force to rebuild")
        return manifest
    start = time.monotonic()
    mode, endpoint = reasoning_generator(cfg)
    sources = collect_sources(cfg, console)
    if not sources:
        raise DataError("no source clips: run as root so the build can install its Debian packages "
                        "(or apt-get install those `instruction_data.adapters.packages_for` lists), or add --source")
    by_split = assign(sources, cfg.seed, cfg.ood, cfg.min_split_groups)
    every = {c.id: c for c in sources}
    ctx = RenderContext(cfg.out, every)
    failures: Counter = Counter()
    clips: dict[str, list[Clip]] = {}
    changed: dict[str, list[Clip]] = {}
    unseen: list[Clip] = []
    for split in SPLITS:
        todo = by_split[split]
        if split == OOD:  # only classes that training sees from other sources
            todo, unseen = keep_seen_classes(todo, [c for c in clips["train"] if not c.sources])
        rendered = render_all(todo, ctx, cfg, f"audio ({split}, sources)", failures, progress)
        if cfg.whole_speech:
            rendered = drop_cut_speech(rendered, failures)
        new, changes = plan_derived(split, rendered, cfg)
        every.update({c.id: c for c in new})
        made = render_all(new, ctx, cfg, f"audio ({split}, derived)", failures, progress)
        made_ids = {c.id for c in made}
        clips[split] = rendered + made
        changed[split] = [c for c in changes if c.id in made_ids]
    check_disjoint(clips, cfg.ood)
    sampler = LabelSampler([c for cs in clips.values() for c in cs], balance=True)
    records = {}
    for split in SPLITS:
        recs = split_records(split, clips[split], changed[split], cfg, sampler, endpoint, progress)
        _rng(cfg, "shuffle", split).shuffle(recs)
        records[split] = recs
        write_records(cfg.out / f"{split}.jsonl", recs)
    lines = [json.dumps({"split": s, "audio": c.audio, "licence": c.licence, "recipe": c.recipe, **c.metadata()},
                        ensure_ascii=False) for s in SPLITS for c in clips[s]]
    atomic_write_text(cfg.out / "clips.jsonl", "\n".join(lines) + "\n")
    pruned = _prune_audio(cfg.out, {c.audio for cs in clips.values() for c in cs})
    manifest = {
        "version": MANIFEST_VERSION,
        "fingerprint": cfg.fingerprint(),
        "seed": cfg.seed,
        "reasoning_generator": mode,
        "reasoning_note": ("open-ended answers from deterministic templates (no LLM endpoint configured)"
                           if mode == "templates" else f"open-ended answers written by {mode}"),
        **summarize(clips, records),
        "test_ood": {"held_out_sources": list(cfg.ood),
                     "note": "whole sources held out; only classes that training sees from other sources are kept",
                     "dropped_unseen_class_clips": len(unseen),
                     "dropped_unseen_classes": sorted({c.label for c in unseen})},
        "failed_clips_per_source": dict(sorted(failures.items())),
        "endpoint": endpoint.stats.as_dict() if endpoint else None,
        "files": {"records": [f"{s}.jsonl" for s in SPLITS], "clips": "clips.jsonl", "audio": "audio/"},
        "pruned_stale_audio": pruned,
        "build_seconds": round(time.monotonic() - start, 1),
        "settings": {k: v for k, v in vars(cfg).items() if k not in ("out", "llm_api_key")},
    }
    atomic_write_json(cfg.out / "manifest.json", json.loads(json.dumps(manifest, default=str)))
    return manifest
