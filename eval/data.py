"""Benchmark items: what to ask about which audio, and the reference to score the answer against.

Items come from the offline corpus (`instruction_data.load_split`: records already carry a
question and `metadata.answer`; `split: all` is the three in-domain splits, `test_ood` the held-out
sources), from a public set through its instruction-data adapter
(`Clip`s with labels, captions or question-answer pairs; the question comes from the
benchmark's prompts), or from a public benchmark's own reader (`eval.public.READERS`: the
published layout, with the authors' prompt pinned). Each family keeps the same reference shape
for all of them.
"""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alm.errors import AlmError
from eval.metrics.aqa import WORD, YES_NO, majority
from eval.metrics.speech import normalize_transcript
from eval.registry import Benchmark
from eval.text import normalize


@dataclass(frozen=True)
class AudioRef:
    """A clip: a file, optionally a [start, end) cut of it in seconds."""

    path: str
    start: float = 0.0
    end: float | None = None

    def to_json(self) -> str | dict[str, Any]:
        """The path alone for a whole file, else {path, start, end}."""
        return self.path if (self.start, self.end) == (0.0, None) else asdict(self)

    def stamp(self) -> list:
        """What a cache key holds of the clip: the cut and the file's size and modification time."""
        try:
            st = os.stat(self.path)
            return [self.path, self.start, self.end, st.st_size, st.st_mtime_ns]
        except OSError:
            return [self.path, self.start, self.end]


@dataclass
class Item:
    id: str
    audio: list[AudioRef]
    question: str                   # the prompt text, without audio placeholders
    reference: dict[str, Any]       # family-specific (see the loaders below)
    stratum: str = ""               # --limit keeps strata balanced (hallucination: mode/answer)
    info: dict[str, Any] = field(default_factory=dict)  # dataset, task ... (shown in results)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["audio"] = [a.to_json() for a in self.audio]
        return out


@dataclass
class BenchmarkData:
    items: list[Item]
    labels: list[str] = field(default_factory=list)        # classification: classes for top-1
    multi_labels: list[str] = field(default_factory=list)  # classification: classes for mAP
    source: str = ""                                       # where the items came from (shown in reports)
    total: int = 0                                         # items before --limit
    pool: list[Item] = field(default_factory=list)         # all items before --limit (majority baselines)
    release: str = ""                                      # the authors' release the metadata matches (readers)
    missing_audio: list[str] = field(default_factory=list)  # items left out: their audio file is absent
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> items left out for it (e.g. needs video)
    non_speech: list[AudioRef] = field(default_factory=list)  # offline speech: the split's clips with no speech
    corpus: Path | None = None                              # offline: the corpus folder (the probe's training split)


# --------------------------------------------------------------------------------------- offline corpus
def missing_split(bench: Benchmark, root: str | Path | None) -> str | None:
    """Why an offline benchmark's split cannot be read from the corpus (older corpora have no test_ood), or None."""
    from instruction_data.loader import available_splits, corpus_dir

    if bench.data.source != "offline" or bench.data.split == "all":
        return None
    folder = corpus_dir(root or bench.data.root)
    if bench.data.split in available_splits(folder):
        return None
    return f"the corpus at {folder} has no {bench.data.split} split (an older build)"


def _offline(bench: Benchmark, root: str | Path | None) -> BenchmarkData:
    from instruction_data.build.splits import IN_DOMAIN
    from instruction_data.loader import corpus_dir, load_split

    folder = corpus_dir(root or bench.data.root)
    splits = IN_DOMAIN if bench.data.split == "all" else (bench.data.split,)
    records = [r for s in splits for r in load_split(s, folder, tasks=bench.data.tasks)]
    if not records:
        raise AlmError(f"{bench.name}: the corpus at {folder} has no {'/'.join(bench.data.tasks)} records in "
                       f"split {bench.data.split}")
    items = []
    for i, r in enumerate(records):
        if r.history:
            continue  # multi-turn records are not single questions
        meta = r.metadata
        question = bench.prompts[i % len(bench.prompts)].format(instruction=r.instruction)
        info = {"dataset": r.dataset, "task": r.task, "reference_answer": r.output}
        if meta.get("origin"):
            info["origin"] = meta["origin"]  # the source (held out as a whole in test_ood)
        audio = [AudioRef(p) for p in r.sound]
        ref = offline_reference(bench, r, meta)
        if ref is None:
            continue
        stratum = ""
        if bench.family == "hallucination":
            stratum = f"{ref['mode']}/{ref['answer']}"
        elif bench.family == "aqa":
            stratum = ref["group"]
        elif bench.family == "speech":
            stratum = meta.get("origin") or ""  # --limit spreads over voices and sources
        items.append(Item(r.id, audio, question, ref, stratum, info))
    data = BenchmarkData(items, source=f"offline corpus {folder} ({bench.data.split} split)", corpus=folder)
    if bench.family == "speech":
        data.non_speech = _non_speech_clips(folder, splits)
    return _finish(bench, data)


def _non_speech_clips(folder: Path, splits: tuple[str, ...]) -> list[AudioRef]:
    """The clips of these splits with no speech (kind sound, music or tone, no transcript): a transcriber
    should give them none."""
    from instruction_data.loader import load_clips

    if not (folder / "clips.jsonl").is_file():
        return []
    wanted = set(splits)
    return [AudioRef(str((folder / c["audio"]).resolve())) for c in load_clips(folder)
            if c.get("split") in wanted and c.get("kind") not in (None, "speech") and not c.get("transcript")]


def offline_reference(bench: Benchmark, record, meta: dict[str, Any]) -> dict[str, Any] | None:
    family = bench.family
    if family == "classification":
        labels = list(meta.get("labels", []))
        if bench.data.label_field == "answer":
            label = meta.get("answer") or (labels[0] if labels else None)
        elif bench.data.label_field == "transcript":
            label = meta.get("transcript") or None
        else:
            label = labels[0] if labels else None
        return {"label": str(label), "labels": labels or [str(label)]} if label else None
    if family == "captioning":
        captions = [c for c in meta.get("captions") or [meta.get("caption") or record.output] if c]
        return {"captions": captions} if captions else None
    if family == "speech":
        return _speech_reference(meta.get("transcript"), meta.get("language") or "", bench.data.transcript_words)
    if family == "hallucination":
        answer = str(meta.get("answer", "")).lower()
        if record.negative_mode is None or answer not in ("yes", "no"):
            return None
        return {"answer": answer, "mode": record.negative_mode, "asked": meta.get("asked_label", "")}
    # aqa: keep closed-ended records whose answer is yes/no or a single word
    answer = meta.get("answer")
    if answer is None or isinstance(answer, (list, dict)) or isinstance(answer, bool):
        return None
    text = normalize(str(answer))
    if text in ("yes", "no"):
        return {"answers": [text], "kind": YES_NO, "group": f"{record.task}:yes/no"}
    if not text or len(text.split()) != 1:
        return None
    # question type from the record id ("...:pitch:contour"), so candidates are answers to the same question
    kind = record.id.rsplit(":", 1)[-1].split("#")[0]
    group = record.task if kind.isdigit() or kind == record.task else f"{record.task}:{kind}"
    return {"answers": [text], "kind": WORD, "group": group}


def _speech_reference(transcript: Any, language: str, words: list[int] | None = None) -> dict[str, Any] | None:
    """What is said (kept as written; scored after `normalize_transcript`); None when nothing is, or when it
    is not `words` = [min, max] words long."""
    if not isinstance(transcript, str) or not normalize_transcript(transcript):
        return None
    if words and not words[0] <= len(normalize_transcript(transcript).split()) <= words[1]:
        return None
    return {"transcript": transcript, "language": language}


# --------------------------------------------------------------------------------------- public sets
def _clips(bench: Benchmark, root: str | Path | None):
    from instruction_data.adapters import load_source

    folder = root or bench.data.root
    if not folder:
        raise AlmError(f"{bench.name}: needs the {bench.data.source} folder: --data {bench.data.source}=PATH")
    clips = load_source(bench.data.source, Path(folder).expanduser())
    if bench.data.split != "all" and any(c.split_hint for c in clips):
        clips = [c for c in clips if c.split_hint == bench.data.split]
    if not clips:
        raise AlmError(f"{bench.name}: no {bench.data.split} clips found under {folder}")
    return Path(folder).expanduser(), clips


# sets whose published clips are whole files: evaluated whole, not cut to the corpus adapters' 10 s
WHOLE_FILES = frozenset({"esc50", "urbansound8k", "clotho", "clotho_aqa", "fsd50k", "speech_commands"})


def _audio(clip, source: str = "") -> list[AudioRef]:
    recipe = clip.recipe
    if recipe.get("op") != "file":
        raise AlmError(f"clip {clip.id}: recipe {recipe.get('op')!r} is not a file; only file sources are evaluated")
    if source in WHOLE_FILES:
        return [AudioRef(recipe["path"])]
    return [AudioRef(recipe["path"], float(recipe.get("start", 0.0)), recipe.get("end"))]


def _prompt(prompts: list[str], i: int) -> str:
    return prompts[i % len(prompts)].format(label="", question="")


def _public(bench: Benchmark, root: str | Path | None) -> BenchmarkData:
    folder, clips = _clips(bench, root)
    family, prompts, source = bench.family, bench.prompts, bench.data.source
    items: list[Item] = []
    missing: list[str] = []
    if family == "classification":
        for i, clip in enumerate(clips):
            label = clip.transcript if bench.data.label_field == "transcript" else clip.label
            if label:
                ref = {"label": label, "labels": list(clip.labels) if bench.data.multi_label else [label]}
                items.append(Item(clip.id, _audio(clip, source), _prompt(prompts, i), ref,
                                  info={"dataset": clip.dataset}))
    elif family == "captioning":
        for i, clip in enumerate(clips):
            if clip.captions:
                items.append(Item(clip.id, _audio(clip, source), _prompt(prompts, i),
                                  {"captions": list(clip.captions)}, info={"dataset": clip.dataset}))
    elif family == "speech":
        for i, clip in enumerate(clips):
            ref = _speech_reference(clip.transcript, clip.language, bench.data.transcript_words)
            if ref:
                items.append(Item(clip.id, _audio(clip, source), _prompt(prompts, i), ref,
                                  info={"dataset": clip.dataset}))
    elif family == "aqa":
        annotators, missing = (_clotho_aqa_annotators(folder, bench.data.split) if source == "clotho_aqa"
                               else ({}, []))
        k = 0
        for clip in clips:
            name = Path(clip.recipe.get("path", "")).name
            for n, qa in enumerate(clip.qa):
                answers = annotators.get((name, qa["question"])) or [qa["answer"]]
                answers = [normalize(a) for a in answers if normalize(a)]
                if not answers:
                    continue
                kind = YES_NO if majority(answers) in ("yes", "no") else WORD
                ref = {"answers": answers, "kind": kind, "group": "yes/no" if kind == YES_NO else "word"}
                question = prompts[k % len(prompts)].format(question=qa["question"], label="")
                items.append(Item(f"{clip.id}:q{n}", _audio(clip, source), question, ref, ref["group"],
                                  {"dataset": clip.dataset}))
                k += 1
    else:
        items = _pope_items(bench, clips, source)
    return _finish(bench, BenchmarkData(items, source=f"{source} at {folder} ({bench.data.split} split)",
                                        missing_audio=missing))


def _clotho_aqa_annotators(folder: Path, split: str) -> tuple[dict[tuple[str, str], list[str]], list[str]]:
    """(file_name, question) -> every annotator's answer (the adapter keeps only the majority), and the
    file names the CSV names whose audio is absent (their questions are left out)."""
    from instruction_data.adapters.clotho import AQA_SPLITS

    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, hint in AQA_SPLITS.items():
        path = folder / f"clotho_aqa_{name}.csv"
        if (split != "all" and hint != split) or not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                out[(row["file_name"], row["QuestionText"].strip())].append(row["answer"].strip().lower())
    missing = sorted({f for f, _ in out if not (folder / "audio_files" / f).is_file()})
    return out, missing


def _published(bench: Benchmark, root: str | Path | None) -> BenchmarkData:
    """Items of a public benchmark read from its published layout (`eval.public`), authors' prompt pinned."""
    from eval.public import READERS

    source = bench.data.source
    folder = root or bench.data.root
    if not folder:
        raise AlmError(f"{bench.name}: needs the {source} folder: --data {source}=PATH or --data-root DIR "
                       f"(holding {bench.folder}/)")
    loaded = READERS[source](Path(folder).expanduser())
    # sampling modes not asked for are left out (items without a mode, e.g. CMM's, are all kept)
    items = [it for it in loaded.items if it.reference.get("mode", bench.negative_modes[0]) in bench.negative_modes]
    data = BenchmarkData(items, source=f"{source}: {loaded.source}", release=loaded.release,
                         missing_audio=list(loaded.missing_audio), skipped=dict(loaded.skipped))
    return _finish(bench, data)


def _pope_items(bench: Benchmark, clips, source: str) -> list[Item]:
    """One yes and one no question per clip and negative mode (Kuan et al. 2024)."""
    from instruction_data.generate.negatives import LabelSampler

    labelled = [c for c in clips if c.labels]
    if not labelled:
        raise AlmError(f"{bench.name}: the clips have no labels to ask about")
    sampler = LabelSampler(labelled)
    items = []
    for i, clip in enumerate(labelled):
        rng = random.Random(f"{bench.seed}:{clip.id}")
        positive = sampler.positive(clip, rng)
        for mode in bench.negative_modes:
            negative = sampler.negative(clip, mode, rng)
            if positive is None or negative is None:
                continue
            for answer, label in (("yes", positive), ("no", negative)):
                prompt = bench.prompts[(i + (answer == "no")) % len(bench.prompts)]
                items.append(Item(f"{clip.id}:{mode}-{answer}", _audio(clip, source),
                                  prompt.format(label=label, question=""),
                                  {"answer": answer, "mode": mode, "asked": label}, f"{mode}/{answer}",
                                  {"dataset": clip.dataset}))
    return items


# --------------------------------------------------------------------------------------- both
def _finish(bench: Benchmark, data: BenchmarkData) -> BenchmarkData:
    """Label sets and answer candidates come from all items (after the per-class cap), before any --limit."""
    if not data.items:
        raise AlmError(f"{bench.name}: no usable items in {data.source}")
    if bench.family == "classification" and bench.data.per_class:
        data.items = cap_per_class(data.items, bench.data.per_class, bench.seed)
    if bench.family == "classification":
        data.labels = sorted({it.reference["label"] for it in data.items})
        if bench.data.multi_label:
            data.multi_labels = sorted({lab for it in data.items for lab in it.reference["labels"]})
    if bench.family == "aqa":
        by_group: dict[str, set[str]] = defaultdict(set)
        for it in data.items:
            by_group[it.reference["group"]].update(it.reference["answers"])
        for it in data.items:
            it.reference["candidates"] = sorted(by_group[it.reference["group"]])
    data.total = len(data.items)
    data.pool = list(data.items)
    return data


def load_benchmark_data(bench: Benchmark, root: str | Path | None = None) -> BenchmarkData:
    """All items of a benchmark. `root`: the corpus (offline) or the set's folder (public)."""
    from eval.public import READERS

    if bench.data.source == "offline":
        return _offline(bench, root)
    if bench.data.source in READERS:
        return _published(bench, root)
    return _public(bench, root)


def cap_per_class(items: list[Item], cap: int, seed: int = 0) -> list[Item]:
    """At most `cap` items of each class (a seeded draw; order kept); each item's stratum becomes its class,
    so --limit also spreads over the classes."""
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        by_class[it.reference["label"]].append(i)
    kept: list[int] = []
    for label, members in sorted(by_class.items()):
        random.Random(f"{seed}:{label}").shuffle(members)
        kept += members[:cap]
    out = [items[i] for i in sorted(kept)]
    for it in out:
        it.stratum = it.reference["label"]
    return out


def subsample(items: list[Item], limit: int | None, seed: int = 0) -> list[Item]:
    """At most `limit` items, drawn round-robin across strata after a seeded shuffle; order kept."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise AlmError("--limit must be at least 1")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    buckets: dict[str, list[int]] = defaultdict(list)
    for i in order:
        buckets[items[i].stratum].append(i)
    keys = sorted(buckets)
    chosen: list[int] = []
    while len(chosen) < limit:
        for key in keys:
            if buckets[key] and len(chosen) < limit:
                chosen.append(buckets[key].pop(0))
    return [items[i] for i in sorted(chosen)]
