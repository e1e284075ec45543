"""Training the sound tagger (`alm.model.tagger`) on the corpus's clip labels, and tagging the training clips.

The head learns from each clip's frozen-encoder frames pooled over time, read from the feature cache,
so fitting it takes seconds. The tags the LLM reads while it trains come from taggers that never saw
those clips (k-fold cross-fitting): it learns how far tags of unheard recordings can be trusted,
not that tags are always right. The tagger shipped with the model is fit on every training clip.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from alm.errors import AlmError
from alm.model.audio_encoder import window_stats
from alm.model.audio_tokens import encoder_frames, mel_frames, window_lengths
from alm.model.tagger import (SPEECH, SoundTagger, TaggerKind, TaggerSettings, pool_clips, split_sound,
                              whisper_blocks, with_sound_block)
from alm.processor import asked_text
from training.tagger_cache import fit_key, load_fit, save_fit

IGNORE = -100  # a softmax target the loss skips (F.cross_entropy's ignore_index)


@dataclass
class TaggerData:
    paths: list[str]  # absolute audio paths, one per clip
    labels: list[list[str]]  # each clip's labels, parents included
    origins: list[str]  # each clip's recording source (clips.jsonl `origin`, else its dataset)


def corpus_clips(root: str | Path, split: str = "train") -> TaggerData:
    """The labelled clips of one split of a corpus built by `alm data build` (its clips.jsonl)."""
    root = Path(root)
    listing = root / "clips.jsonl"
    if not listing.is_file():
        raise AlmError(f"{listing}: no clip list; the tagger trains on a corpus built by `alm data build`")
    paths, labels, origins = [], [], []
    with listing.open(encoding="utf-8") as fh:
        for line in fh:
            clip = json.loads(line)
            if clip.get("split") == split and clip.get("labels"):
                paths.append(str(root / clip["audio"]))
                labels.append(list(clip["labels"]))
                origins.append(str(clip.get("origin") or clip.get("dataset") or ""))
    return TaggerData(paths, labels, origins)


def vocabulary(labels: list[list[str]], min_clips: int, kind: TaggerKind = "softmax") -> list[str]:
    """The labels a tagger of `kind` tells apart, those of at least `min_clips` clips, most frequent first (ties by
    name): softmax taggers the most specific labels (a clip's first), sigmoid taggers every label."""
    counts = Counter(clip[0] for clip in labels if clip) if kind == "softmax" else \
        Counter(label for clip in labels for label in set(clip))
    return [label for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_clips]


def targets(labels: list[list[str]], vocab: list[str], kind: TaggerKind = "softmax") -> torch.Tensor:
    """softmax: (A,) index of each clip's most specific label, IGNORE where the vocabulary lacks it;
    sigmoid: (A, L) multi-hot."""
    index = {label: i for i, label in enumerate(vocab)}
    if kind == "softmax":
        return torch.tensor([index.get(clip[0], IGNORE) if clip else IGNORE for clip in labels], dtype=torch.long)
    out = torch.zeros(len(labels), len(vocab))
    for row, clip in enumerate(labels):
        for label in clip:
            if label in index:
                out[row, index[label]] = 1.0
    return out


def pooled_features(paths: list[str], clip_keys: dict[str, tuple[int, list[str]]], cache,
                    layer_stats_window_seconds: float | None = None) -> torch.Tensor:
    """(A, K, 2C) pooled frames per clip (`alm.model.tagger.pool_clips`) from `cache`: the feature cache's frames
    (K = 1), or, with `layer_stats_window_seconds`, a layer-stats cache's window stats, each window's frame count
    following from its length. `clip_keys`: path -> (samples, window keys), as the precompute pass reports them."""
    rows = []
    for path in paths:
        samples, keys = clip_keys[path]
        entries = [cache.get(key) for key in keys]
        if any(e is None for e in entries):
            raise AlmError(f"{path}: its encoder frames are not in the feature cache")
        if layer_stats_window_seconds is None:  # the final frames' stats
            lengths = torch.tensor([f.shape[0] for f in entries])
            padded = torch.zeros(len(entries), int(lengths.max()), entries[0].shape[1])  # W, T, C
            for i, f in enumerate(entries):
                padded[i, : f.shape[0]] = f
            window = window_stats(padded, lengths)[:, None]  # W, 1, 2C
        else:
            lengths = torch.tensor([encoder_frames(mel_frames(n))
                                    for n in window_lengths(samples, layer_stats_window_seconds)])
            window = torch.stack(entries)  # W, K, 2C
        rows.append(pool_clips(window, lengths, [len(keys)])[0])  # K, 2C
    return torch.stack(rows)


def warm_then_decay(steps: int):
    """A LambdaLR factor over `steps`: linear warm-up over the first 5%, then linear decay towards 0."""
    warm = max(1, steps // 20)
    return lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))


def fit(features: torch.Tensor, target: torch.Tensor, settings: TaggerSettings, steps: int = 300,
        lr: float = 1e-2, weight_decay: float = 1e-4, label_smoothing: float = 0.0, seed: int = 0,
        batch_size: int = 0, bar=None) -> SoundTagger:
    """AdamW on features (A, K, 2C) and `targets` of the tagger's kind: cross-entropy over the labels (softmax,
    label-smoothed) or binary cross-entropy per label (sigmoid). `batch_size` 0: every step on all clips at a
    constant `lr`; else each step on the next `batch_size` clips of a seeded shuffle (reshuffled each pass), the
    rate warmed up over the first 5% of the steps, then decayed linearly to 0 (on the held-out draw of
    `scripts/tagger_heads.py` this named more held-out sounds than full-batch steps: training/README.md). `bar`
    (a tqdm) advances a step a step."""
    if settings.layers_only:  # the heads reading the sound block and those reading Whisper's layers alone, each an
        tagger = SoundTagger(settings)  # ensemble fit from the same seeds
        with_block, alone = tagger.members
        for group, x in ((with_block, features), (alone, whisper_blocks(features, settings))):
            group.load_state_dict(fit(x, target, group.settings, steps, lr, weight_decay, label_smoothing, seed,
                                      batch_size, bar).state_dict())
        return tagger.eval()
    if settings.ensemble > 1:  # each member fit alone from its own seed, then gathered
        ensemble = SoundTagger(settings)
        for k, member in enumerate(ensemble.members):
            member.load_state_dict(fit(features, target, member.settings, steps, lr, weight_decay, label_smoothing,
                                       seed + k, batch_size, bar).state_dict())
        return ensemble.eval()
    with torch.random.fork_rng():  # seeds the head's init, a hidden head's dropout masks and the batches
        torch.manual_seed(seed)
        tagger = SoundTagger(settings)
        optimizer = torch.optim.AdamW(tagger.parameters(), lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warm_then_decay(steps)) if batch_size else None
        order, position = torch.randperm(len(features)) if batch_size else None, 0
        tagger.train()
        for _ in range(steps):
            x, y = features, target
            if batch_size:
                if position >= len(features):  # a pass is done: a new shuffle
                    order, position = torch.randperm(len(features)), 0
                idx = order[position:position + batch_size]
                position += batch_size
                x, y = features[idx], target[idx]
            optimizer.zero_grad()
            logits = tagger(x)  # A, L
            if settings.kind == "softmax":
                loss = F.cross_entropy(logits, y, ignore_index=IGNORE, label_smoothing=label_smoothing)
            else:
                loss = F.binary_cross_entropy_with_logits(logits, y)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            if bar is not None:
                bar.update()
    return tagger.eval()


def fold_of_groups(groups: list[str], folds: int, seed: int = 0) -> list[int]:
    """A fold per clip such that clips of one group (a recording source) share a fold: groups in a seeded order,
    largest first, each to the fold holding the fewest clips so far (folds of about equal size)."""
    sizes = Counter(groups)
    order = sorted(sizes, key=lambda g: (-sizes[g], random.Random(f"{seed}:{g}").random()))
    load, fold = [0] * folds, {}
    for g in order:
        k = min(range(folds), key=lambda j: (load[j], j))
        fold[g] = k
        load[k] += sizes[g]
    return [fold[g] for g in groups]


def cross_fit_tags(features: torch.Tensor, target: torch.Tensor, settings: TaggerSettings, folds: int,
                   seed: int = 0, groups: list[str] | None = None, **fit_kwargs) -> list[list[tuple[str, float]]]:
    """Top tags of every clip from a tagger fit on the other folds (`cross_fit_probabilities`)."""
    return SoundTagger(settings).top_tags(cross_fit_probabilities(features, target, settings, folds, seed, groups,
                                                                  **fit_kwargs))


def cross_fit_probabilities(features: torch.Tensor, target: torch.Tensor, settings: TaggerSettings, folds: int,
                            seed: int = 0, groups: list[str] | None = None, **fit_kwargs) -> torch.Tensor:
    """(A, L) label probabilities of every clip from a tagger fit on the other folds: folds of clips drawn at random,
    or with `groups` (one per clip) folds of whole groups, so no clip is tagged by a tagger that heard its group."""
    n = features.shape[0]
    if groups is None:
        order = list(range(n))
        random.Random(seed).shuffle(order)
        fold = [0] * n
        for position, i in enumerate(order):
            fold[i] = position % folds
    else:
        fold = fold_of_groups(groups, folds, seed)
    probs = torch.zeros(n, len(settings.labels))
    for k in range(folds):
        held = [i for i in range(n) if fold[i] == k]
        keep = [i for i in range(n) if fold[i] != k]
        if not held:
            continue
        tagger = fit(features[keep], target[keep], settings, seed=seed + k, **fit_kwargs)
        probs[held] = tagger.clip_probabilities(features[held])
    return probs


FOLD_SCHEMES = {"clip": ("clip",), "source": ("source",), "both": ("source", "clip")}  # `TaggerPlan.fold_by`


def scheme_groups(origins: list[str], folds: int) -> dict[str, list[str] | None]:
    """The fold groups of each scheme a fit can be cross-fitted by: none (clips) and, with `folds` or more recording
    sources, each clip's source."""
    groups: dict[str, list[str] | None] = {"clip": None}
    if len(set(origins)) >= folds:
        groups["source"] = origins
    return groups


def mixed_held_out(held: dict[str, torch.Tensor], seed: int) -> torch.Tensor:
    """(A, L): each clip's cross-fitted probabilities from one scheme of `held` (scheme -> (A, L)), the clips dealt to
    the schemes in turn in a seeded order, so each scheme tags an equal share of them."""
    schemes = list(held)
    if len(schemes) == 1:
        return held[schemes[0]]
    first = held[schemes[0]]
    order = list(range(first.shape[0]))
    random.Random(f"{seed}:fold-mix").shuffle(order)
    mixed = torch.empty_like(first)
    for position, i in enumerate(order):
        mixed[i] = held[schemes[position % len(schemes)]][i]
    return mixed


def held_out_by_scheme(x: torch.Tensor, y: torch.Tensor, settings: TaggerSettings, plan: "TaggerPlan",
                       groups: dict[str, list[str] | None], found: dict[str, tuple[SoundTagger, torch.Tensor] | None],
                       seed: int, fit_kwargs: dict, tagger: SoundTagger | None = None, progress: bool = True
                       ) -> tuple[SoundTagger, dict[str, torch.Tensor], list[str]]:
    """(tagger, scheme -> (A, L) cross-fitted probabilities, schemes fit here) for the plan's fold schemes: those in
    `found` (the tagger cache's fits) are reused, the others cross-fitted now; the tagger is `tagger`, else a found
    fit's, else fit here on every clip (the fit on every clip does not depend on the folds)."""
    schemes = FOLD_SCHEMES[plan.fold_by]
    missing = [s for s in schemes if found.get(s) is None]
    if tagger is None:
        tagger = next((f[0] for f in found.values() if f is not None), None)
    held = {s: found[s][1] for s in schemes if s not in missing}
    fits = len(missing) * plan.folds + (tagger is None)
    if fits:
        heads = plan.ensemble + settings.layers_only
        with tqdm(total=fits * plan.steps * heads, desc="tagger fit", unit="step", disable=not progress,
                  dynamic_ncols=True) as bar:
            for s in missing:
                held[s] = cross_fit_probabilities(x, y, settings, plan.folds, seed, groups=groups[s], bar=bar,
                                                  **fit_kwargs)
            if tagger is None:
                tagger = fit(x, y, settings, seed=seed, bar=bar, **fit_kwargs)
    return tagger, {s: held[s] for s in schemes}, missing


def sound_names(labels: list[list[str]], vocab: list[str], min_clips: int, kind: TaggerKind = "softmax",
                share: float = 0.5) -> dict[str, list[str]]:
    """The names a tagger's notes give asked sounds for (`TaggerSettings.names`): softmax taggers every label of at
    least `min_clips` clips, covering the labels of `vocab` that are it or whose clips carry it (at least `share` of
    them: a label's usual parents, not the background of a few mixed clips); sigmoid taggers each label, itself."""
    if kind != "softmax":
        return {label: [label] for label in vocab}
    clips, carried = Counter(), Counter()
    for clip in labels:
        if clip and clip[0] in vocab:
            clips[clip[0]] += 1
            carried.update((clip[0], name) for name in set(clip[1:]) - {clip[0]})
    names: dict[str, list[str]] = {label: [label] for label in vocab}
    counts = Counter(name for clip in labels for name in set(clip))
    for (label, name), k in sorted(carried.items()):
        if counts[name] >= min_clips and k >= share * clips[label]:
            names.setdefault(name, [])
            if label not in names[name]:
                names[name].append(label)
    return dict(sorted(names.items()))


def asked_threshold(probs: torch.Tensor, labels: list[list[str]], tagger: SoundTagger,
                    popular: int = 10) -> tuple[float, float]:
    """The asked-sound probability from which a sound is called likely, and its score: over every clip and every
    name the tagger has, the mean of the share of present sounds at or above it and of the shares of absent sounds
    below it, absent sounds drawn as "is there X?" benchmarks draw them (POPE's three modes): any absent name
    (random), the `popular` names present in the most clips when absent (popular), and per clip as many absent names
    as it has present ones, those the tagger gives the most probability (adversarial: the sounds it confuses with
    the clip's own). `probs` (A, L) are cross-fitted, so the threshold is set on clips of sources their tagger never
    heard, as a new recording's are. A name is present in a clip that carries it as a label or whose most specific
    label it covers. A tagger with `asked_top` calls a name that covers the clip's most likely label likely at any
    threshold (`SoundTagger.likely`)."""
    names = sorted(tagger.settings.names)
    scores = torch.tensor([[p for _, p, *_ in clip] for clip in tagger.asked_tags(probs, names)])  # A, N
    covers_top = tagger.asked_cover_top(probs, names)  # A, N
    present = torch.tensor([[name in set(clip) or (bool(clip) and clip[0] in tagger.settings.names[name])
                             for name in names] for clip in labels])  # A, N
    absent = ~present
    frequent = torch.zeros_like(present)
    frequent[:, present.sum(0).argsort(descending=True, stable=True)[:popular]] = True
    confused = torch.zeros_like(present)
    for row in range(len(labels)):
        k = max(1, int(present[row].sum()))
        confused[row, scores[row].masked_fill(present[row], -1.0).topk(min(k, len(names))).indices] = True
    grid = torch.arange(1, 100) / 100  # G
    said = tagger.likely(scores[None], covers_top[None], grid[:, None, None])  # G, A, N
    hit = (said & present).sum((1, 2)) / present.sum().clamp(min=1)  # G
    rejected = [(~said & negatives).sum((1, 2)) / negatives.sum().clamp(min=1)
                for negatives in (absent, absent & frequent, absent & confused)]  # each G
    score = (hit + sum(rejected) / len(rejected)) / 2  # G
    best = int(score.argmax())
    return round(float(grid[best]), 2), float(score[best])


@dataclass
class StageTags:
    """The sound tags of a stage's clips: each clip's label probabilities (cross-fitted for the clips that fit the
    tagger, else from the stage's tagger), and that tagger, which turns them into the notes' tags and asked sounds."""

    tagger: SoundTagger
    probs: dict[str, torch.Tensor]  # path -> (L,)
    system_prompt: str | None  # the model's, left out of the text asked sounds are found in

    def hears_speech(self, paths: list[str]) -> list[bool | None]:
        """Whether each clip may have a transcript (`SoundTagger.hears_speech`)."""
        return self.tagger.hears_speech(torch.stack([self.probs[p] for p in paths])) if paths else []

    def top(self, path: str) -> list[tuple[str, float]]:
        return self.tagger.top_tags(self.probs[path][None])[0]

    def asked(self, paths: list[str], prompt: str) -> list[list[tuple[str, float]]] | None:
        """Each clip's probability of every sound the rendered `prompt` names (None: the tagger has no names or the
        prompt names none of them), as `alm.inference.Assistant.with_notes` gives them."""
        names = self.tagger.asked_names(asked_text(prompt, self.system_prompt))
        if not names:
            return None
        return self.tagger.asked_tags(torch.stack([self.probs[p] for p in paths]), names)


def top1_accuracy(tagger: SoundTagger, features: torch.Tensor, labels: list[list[str]]) -> float:
    """Share of clips whose most likely tag is one of their labels (a quick check of the head)."""
    with torch.no_grad():
        best = tagger(features).argmax(1).tolist()
    hits = [tagger.settings.labels[b] in set(clip) for b, clip in zip(best, labels)]
    return sum(hits) / max(1, len(hits))


def tag_top1(tags: list[list[tuple[str, float]]], labels: list[list[str]]) -> float:
    """Share of clips whose first (most likely) tag is one of their labels (a clip with no tag misses)."""
    hits = [bool(clip_tags) and clip_tags[0][0] in set(clip) for clip_tags, clip in zip(tags, labels)]
    return sum(hits) / max(1, len(hits))


def balanced_subset(data: TaggerData, per_label: int, seed: int, by_source: bool = False) -> TaggerData:
    """At most `per_label` clips of each most-specific label (the first of a clip's labels), seeded: drawn at random,
    or with `by_source` in turn from each of the label's recording sources (a source with few clips gives all it has,
    the others share the rest), so one large source does not make up the label."""
    rng = random.Random(seed)
    order = list(range(len(data.paths)))
    rng.shuffle(order)
    if by_source:  # the i-th clip of each source of a label comes before any source's (i+1)-th
        turn: Counter = Counter()
        rank = {}
        for i in order:
            key = (data.labels[i][0], data.origins[i])
            rank[i] = turn[key]
            turn[key] += 1
        order.sort(key=lambda i: rank[i])  # stable: sources interleave in the seeded order
    taken: Counter = Counter()
    keep = []
    for i in order:
        label = data.labels[i][0]
        if taken[label] < per_label:
            taken[label] += 1
            keep.append(i)
    keep.sort()
    return TaggerData([data.paths[i] for i in keep], [data.labels[i] for i in keep], [data.origins[i] for i in keep])


@dataclass
class TaggerPlan:
    """How a stage with `model.sound_tags` fits the tagger (from the recipe's `tagger:` section)."""

    kind: TaggerKind = "softmax"  # softmax over the most specific labels, or sigmoid per label
    clips_per_label: int = 60  # training clips per most-specific label (class balance; bounds the feature pass)
    min_clips: int = 5  # labels with fewer training clips are not told apart
    exclude: list[str] = field(default_factory=list)  # labels not told apart, e.g. [music]: a category as a class
    # (the first label of pieces no instrument names), a first tag that names no clip's class (corpus v3's held-out
    # instruments tagged 'music'); its clips stay out of the loss, and it is still a name asked sounds cover ("is there
    # music?" sums the instruments under it); training/README.md, "The v5 candidate"
    balance: Literal["label", "source"] = "label"  # clips of a label drawn at random, or in turn from its sources
    folds: int = 3  # cross-fitting: the tags the LLM reads on a training clip come from a tagger that never saw it
    fold_by: Literal["clip", "source", "both"] = "clip"  # folds of clips, or of whole recording sources (a training
    # clip's tags then come from a tagger that never heard its source, as a recording of a new source is tagged), or
    # both, each on half the clips (seeded): tags as right as a new recording of a heard source's and as an unheard
    # one's, in equal shares (`mixed_held_out`). A later stage may change it: the kept tagger's fitting clips are
    # cross-fitted again by the new schemes.
    steps: int = 300  # AdamW steps
    batch_size: int = 0  # 0: each step on all the fitting clips; else on this many (shuffled; warm-up and linear decay)
    lr: float = 1e-2  # a hidden head (`hidden`) was measured fit at 2e-3 (`alm.model.tagger`)
    hidden: int = 0  # 0: a linear head over the pooled frames; else one hidden layer this wide (`alm.model.tagger`)
    dropout: float = 0.0  # a hidden head's dropout while fit
    ensemble: int = 1  # heads fit from this many seeds, their probabilities averaged (`alm.model.tagger`)
    layers_only: int = 0  # with a sound encoder's block (`sound_block`): this many more heads on the Whisper layers
    # alone, averaged in (`alm.model.tagger`; they keep speech, which YAMNet's block alone hears as 'robot sound')
    weight_decay: float = 1e-4  # AdamW's
    label_smoothing: float = 0.1  # softmax only: on recordings of unseen sources it named more classes (0.10 -> 0.15)
    top_k: int = 3  # tags given per clip
    threshold: float = 0.3  # least probability of a tag given
    layers: int = 1  # Whisper layers read, the last ones: 1 the final frames (the feature cache's), up to all of them
    asked: bool = False  # the notes also give the probability of each sound the prompt names ("is there a dog?")
    asked_limit: int = 3  # at most this many asked sounds per clip
    asked_verdict: bool = False  # and whether each is "likely" or "unlikely", at the threshold that tells them apart
    # best on the cross-fitted tags (`asked_threshold`)
    asked_top: bool = False  # and "likely" too when the sound covers the clip's most likely label (`SoundTagger.likely`)
    speech_gate: bool = False  # a clip whose "speech" is "unlikely" gets no transcript, in training as in use
    # (`SoundTagger.hears_speech`; needs asked_verdict and a tagger name "speech")
    speech_gate_words: int = 0  # with the gate, a transcript of at least this many distinct words is kept anyway
    # (`SoundTagger.keeps_transcript`; 0: none)
    speech_gate_floor: float = 0.0  # with speech_gate_words, not where "speech" is under this probability (the clip
    # is not decoded; `SoundTagger.hears_speech`)
    refold: bool = False  # a later stage whose kept tagger's fit is not in the tagger cache (a tagger swapped in by
    # scripts/tagger_swap.py, a cache emptied): its fitting clips get tags cross-fitted now by folds fit under this plan
    # (the kept tagger unchanged), as new recordings are tagged, rather than its own tags, learnt on them


def same_tagger(a: SoundTagger, b: SoundTagger) -> bool:
    """Whether two taggers are one fit: the same labels and equal weights (the verdict's settings may differ)."""
    if a.settings.labels != b.settings.labels:
        return False
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k].cpu(), sb[k].cpu()) for k in sa)


TAGGER_CACHE_DIR = "taggers"  # fitted taggers, beside the stage's feature cache (`training.tagger_cache`)


def stage_tags(model, processor, cache, corpus_root: str | Path, stage_paths: list[str], plan: TaggerPlan,
               seed: int, precompute, progress: bool = True, say=print) -> tuple[StageTags, dict]:
    """Tags of the stage's clips (`StageTags`). A model without a tagger gets one fit here on a
    class-balanced share of the corpus's training clips; clips that share fitted it are tagged by
    cross-fitting. A model that has one (a later stage) keeps it, and the clips it was fit on keep their
    cross-fitted tags when the tagger cache holds that fit under this stage's `tagger:` plan (the same block as
    the stage that fit it); otherwise they get its own tags, which it learnt on them, and the stage says so.
    `precompute(paths, clip_keys, cache=None, stats_layers=0)` fills the feature cache (the stage's own pass), or
    with `stats_layers` the given cache with the clips' layer stats; either way `clip_keys` gets each clip's
    (samples, window keys)."""
    if plan.asked_verdict and not plan.asked:
        raise AlmError("tagger.asked_verdict: true needs tagger.asked: true (the verdict is said of asked sounds)")
    if plan.asked_top and not plan.asked_verdict:
        raise AlmError("tagger.asked_top: true needs tagger.asked_verdict: true (it is a rule of the verdict)")
    if plan.speech_gate_words and not plan.speech_gate:
        raise AlmError("tagger.speech_gate_words: a rule of the speech gate; it needs tagger.speech_gate: true")
    if plan.speech_gate_words < 0:
        raise AlmError(f"tagger.speech_gate_words {plan.speech_gate_words}: expected 0 (none kept) or more")
    if plan.speech_gate_floor and not plan.speech_gate_words:
        raise AlmError("tagger.speech_gate_floor: a rule of speech_gate_words; it needs tagger.speech_gate_words")
    if not 0.0 <= plan.speech_gate_floor < 1.0:
        raise AlmError(f"tagger.speech_gate_floor {plan.speech_gate_floor}: expected a probability in [0, 1)")
    if plan.speech_gate and not plan.asked_verdict:
        raise AlmError("tagger.speech_gate: true needs tagger.asked_verdict: true (it gates on the verdict on 'speech')")
    stats: dict = {"enabled": True}
    inherited = model.tagger
    if inherited is not None and not (Path(corpus_root) / "clips.jsonl").is_file():
        fit_data = TaggerData([], [], [])  # nothing to look its fit up by: every clip gets the tagger's own tags
    else:
        fit_data = balanced_subset(corpus_clips(corpus_root, "train"), plan.clips_per_label, seed,
                                   by_source=plan.balance == "source")
    layers = inherited.settings.layers if inherited is not None else plan.layers
    available = len(model.audio_encoder.encoder.layers)
    if layers > available:
        raise AlmError(f"tagger.layers: {layers} asked for; the Whisper encoder has {available} layers")
    paths = sorted(set(stage_paths) | set(fit_data.paths))
    clip_keys: dict[str, tuple[int, list[str]]] = {}
    sound_block = inherited.settings.sound_block if inherited is not None else \
        layers > 1 and model.sound_encoder is not None
    # a sound encoder for the tagger alone (sound_to_aligner false): the cached frames are Whisper's alone, so its
    # block is computed with the layers' stats, in a cache of their own (K + 1 blocks)
    block_in_stats = sound_block and not model.config.sound_to_aligner
    if model.sound_encoder is not None and not model.config.sound_to_aligner and not block_in_stats:
        raise AlmError("model.sound_to_aligner false: the sound encoder feeds only the tagger, which reads it as a "
                       "block beside several Whisper layers (tagger.layers 2 or more)")
    if layers > 1:  # the stats of every layer read, in a cache of their own beside the frames'
        stats_cache = cache.beside(f"-layers{layers}" + ("-sound" if block_in_stats else ""))
        precompute(paths, clip_keys, stats_cache, layers, sound_block=block_in_stats)
        pooled = pooled_features(paths, clip_keys, stats_cache, processor.spec.window_seconds)
    if layers == 1 or (sound_block and not block_in_stats):
        precompute(paths, clip_keys)
        frames = pooled_features(paths, clip_keys, cache)  # A, 1, 2 (C + E): Whisper's final frames, the sound encoder's
        pooled = with_sound_block(pooled, split_sound(frames, model.config.sound_width)[1]) if sound_block else frames
    features = dict(zip(paths, pooled))  # each K, 2C (K + 1, 2W with a sound block)
    probs: dict[str, torch.Tensor] = {}
    if inherited is not None and not fit_data.paths:
        stats.update(inherited=True, fit_cross_fitted=0)
        say("sound tagger: kept from the model the stage starts from (the corpus lists no labelled clips to find "
            "its fit by)")
        return _stage_tags_of(model, features, stage_paths, probs, stats, plan)
    unknown = sorted(set(plan.exclude) - {label for clip in fit_data.labels for label in clip})
    if unknown:
        raise AlmError(f"tagger.exclude: no fitting clip is labelled {', '.join(map(repr, unknown))} (a label of the "
                       "corpus's clips.jsonl, e.g. music)")
    vocab = [label for label in vocabulary(fit_data.labels, plan.min_clips, plan.kind) if label not in plan.exclude]
    if not vocab:
        raise AlmError(f"tagger: no label has {plan.min_clips} or more of the {len(fit_data.paths)} fitting clips "
                       f"(tagger.min_clips {plan.min_clips}, tagger.clips_per_label {plan.clips_per_label})")
    names = sound_names(fit_data.labels, vocab, plan.min_clips, plan.kind) if plan.asked else {}
    sound_width = model.config.sound_width if layers == 1 and model.sound_encoder is not None else 0  # E, or none
    layers_only = plan.layers_only if sound_block else 0  # heads on the layers alone need a block to set apart
    settings = TaggerSettings(labels=vocab, width=next(iter(features.values())).shape[-1] // 2, top_k=plan.top_k,
                              threshold=plan.threshold, kind=plan.kind, layers=layers, names=names,
                              asked_limit=plan.asked_limit, hidden=plan.hidden, dropout=plan.dropout,
                              sound_width=sound_width, sound_block=sound_block, ensemble=plan.ensemble,
                              layers_only=layers_only,
                              layers_width=model.config.audio_config.d_model if layers_only else 0)
    x = torch.stack([features[p] for p in fit_data.paths])
    y = targets(fit_data.labels, vocab, plan.kind)
    fit_kwargs = {"steps": plan.steps, "lr": plan.lr, "weight_decay": plan.weight_decay,
                  "label_smoothing": plan.label_smoothing}
    if plan.batch_size:  # keyed only when set, so full-batch fits keep their cache keys
        fit_kwargs["batch_size"] = plan.batch_size
    groups = scheme_groups(fit_data.origins, plan.folds)
    if "source" in FOLD_SCHEMES[plan.fold_by] and "source" not in groups:
        raise AlmError(f"tagger.fold_by: {plan.fold_by} needs clips of at least {plan.folds} recording sources "
                       f"(clips.jsonl `origin`); the tagger's fitting clips have {len(set(fit_data.origins))}")
    root = cache.root / TAGGER_CACHE_DIR
    keys = {s: fit_key(x, y, settings, plan.folds, g, seed, fit_kwargs) for s, g in groups.items()}
    found = {s: load_fit(root, key) for s, key in keys.items()}
    unit = {"source": "sources", "clip": "clips", "both": "sources for half the clips and clips for the other half"}[
        plan.fold_by]
    if inherited is not None:  # its fit in the cache under any scheme shows these clips fit it
        same = any(f is not None and same_tagger(f[0], inherited) for f in found.values())
        refold = plan.refold and not same
        if refold and settings.labels != inherited.settings.labels:
            raise AlmError(f"tagger.refold: this plan draws {len(settings.labels)} labels, the kept tagger tells "
                           f"{len(inherited.settings.labels)} apart; the folds must tag the same labels (its fit's "
                           "clips_per_label, min_clips, exclude and seed)")
        if same or refold:  # the kept tagger stays; its fitting clips' folds are found in the cache or fit now
            # (a fit under this plan's key holds those folds' tags whichever tagger it saved, so refold reuses them too)
            _, held, fit_now = held_out_by_scheme(x, y, settings, plan, groups, found, seed, fit_kwargs, inherited,
                                                  progress)
            for s in fit_now if same else ():  # refolded fits are not saved: the kept tagger is not their fit
                save_fit(root, keys[s], inherited, held[s])
            probs.update(zip(fit_data.paths, mixed_held_out(held, seed)))
        stats.update(inherited=True, fit_cross_fitted=len(fit_data.paths) if same or refold else 0)
        if same:
            told = (f"the {len(fit_data.paths)} clips it was fit on keep tags cross-fitted over {plan.folds} folds of "
                    f"{unit}")
        elif refold:
            stats["refolded"] = True
            told = (f"no fit in the tagger cache matches it, so the {len(fit_data.paths)} clips it was fit on get tags "
                    f"cross-fitted over {plan.folds} folds of {unit} under this stage's plan (tagger.refold)")
        else:
            told = ("no fit in the tagger cache matches it under this stage's tagger plan, so the clips it was fit on "
                    "get its own tags (learnt on them; tagger.refold: true cross-fits them under this plan instead)")
        say(f"sound tagger: kept from the model the stage starts from; {told}")
    else:
        tagger, held, fit_now = held_out_by_scheme(x, y, settings, plan, groups, found, seed, fit_kwargs,
                                                   progress=progress)
        for s in fit_now:
            save_fit(root, keys[s], tagger, held[s])
        if not fit_now:
            say(f"sound tagger: the same fit was made before; reused from {root}")
        held_out = mixed_held_out(held, seed)
        probs.update(zip(fit_data.paths, held_out))
        if names and plan.asked_verdict:
            tagger.settings.asked_top = plan.asked_top
            tagger.settings.asked_threshold, stats["asked_score"] = asked_threshold(held_out, fit_data.labels, tagger)
            stats["asked_threshold"] = tagger.settings.asked_threshold
            stats["asked_top"] = plan.asked_top
            top = " or covering the clip's most likely label" if plan.asked_top else ""
            say(f"sound tagger: asked sounds 'likely' from p >= {tagger.settings.asked_threshold:.2f}{top} (right on "
                f"{stats['asked_score']:.2f} of present and absent sounds, POPE's modes averaged, on the cross-fitted "
                "tags)")
        model.tagger = tagger.requires_grad_(False)
        stats.update(kind=plan.kind, fitted_on=len(fit_data.paths), labels=len(vocab), asked_names=len(names),
                     fit_reused=not fit_now,
                     train_top1=round(top1_accuracy(model.tagger.cpu(), x, fit_data.labels), 4),
                     cross_fit_top1=round(tag_top1(model.tagger.top_tags(held_out), fit_data.labels), 4))
        model.tagger.to(model.get_input_embeddings().weight.device)
        say(f"sound tagger: {len(vocab)} labels fit on {len(fit_data.paths)} clips (training top-1 "
            f"{stats['train_top1']:.2f}); tags of those clips cross-fitted over {plan.folds} folds of {unit} (top-1 "
            f"on clips its fold never saw {stats['cross_fit_top1']:.2f})")
    return _stage_tags_of(model, features, stage_paths, probs, stats, plan)


def _stage_tags_of(model, features: dict[str, torch.Tensor], stage_paths: list[str], probs: dict[str, torch.Tensor],
                   stats: dict, plan: TaggerPlan) -> tuple[StageTags, dict]:
    """The stage's `StageTags`: the cross-fitted probabilities in `probs`, the model's tagger's for the other clips."""
    rest = [p for p in stage_paths if p not in probs]
    if rest:
        device = next(model.tagger.parameters()).device
        probs.update(zip(rest, model.tagger.clip_probabilities(torch.stack([features[p] for p in rest]).to(device))
                         .cpu()))
    stats["tagged"] = len(set(stage_paths))
    if plan.speech_gate and SPEECH not in model.tagger.settings.names:
        raise AlmError(f"tagger.speech_gate: the tagger has no name {SPEECH!r} to gate transcripts on")
    model.tagger.settings.speech_gate = plan.speech_gate  # a rule of use, as the verdict's: saved with the model
    model.tagger.settings.speech_gate_words = plan.speech_gate_words
    model.tagger.settings.speech_gate_floor = plan.speech_gate_floor
    return StageTags(model.tagger, {p: probs[p] for p in stage_paths}, model.config.system_prompt), stats
