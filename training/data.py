"""From corpus records to batches: the stage's data mix, token lengths, length-grouped batches, collation.

A record becomes a conversation the way `alm ask` builds one: the first user message is one audio
part per clip, then the question (`alm.conversation.clips_then_text`); earlier turns (`history`)
come first. The chat template lays the parts out, and the processor masks labels to the
assistant's tokens, so the loss is on answers only.

Token ids and labels are made once per example (`prepare_examples` needs them for the lengths
anyway), and with a frozen encoder each example also knows its windows' feature-cache keys, so a
step's batch is padding and cache reads only: no audio decoding, chat-template rendering,
tokenizing or log-mel per step (the input pipeline was what held a GPU back). Examples without
them (no cache, instruction-aware aligners) take the full path: audio, processor, cache lookup.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
import torch

from alm.audio.io import load_audio
from alm.model.audio_tokens import SAMPLE_RATE, split_windows
from alm.conversation import Conversation, clips_then_text
from alm.processor import IGNORE_INDEX, AlmProcessor
from instruction_data.errors import DataError
from instruction_data.generate.templates import INAUDIBLE_SPEECH_A, UNCLEAR_SPEECH_A
from instruction_data.loader import load_split
from instruction_data.schema import Record
from training.config import DataSection
from training.tagger import StageTags

BUCKET_BATCHES = 16  # batches formed together from one length-sorted pool of shuffled samples


# --------------------------------------------------------------------------- which records
def select_records(data: DataSection, seed: int) -> list[Record]:
    """The stage's training records: filter by task/stage, cap per task, weight per task and source, cap the total."""
    records = load_split(data.split, data.root, tasks=data.tasks, stages=data.stages)
    rng = random.Random(f"{seed}:{data.split}")
    by_task: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record.task == "speech_content" and 0 < spoken_words(record) < data.speech_min_words:
            continue
        by_task[record.task].append(record)
    selected: list[Record] = []
    for task in sorted(by_task):
        group = by_task[task]
        rng.shuffle(group)
        cap = data.class_caps.get(task, data.max_per_class)
        if cap is not None:
            group = balanced(group, cap, set(data.per_voice))
        if data.max_per_task is not None:
            group = group[: data.max_per_task]
        selected += weighted(group, data.task_weights.get(task, 1.0), data.source_weights)
    if records and (unknown := set(data.source_weights) - {record.dataset for record in records}):
        raise DataError(f"{data.root}: data.source_weights names no source of its {data.split} records: "
                        f"{', '.join(sorted(unknown))} (sources: {', '.join(sorted({r.dataset for r in records}))})")
    if data.max_samples is not None and len(selected) > data.max_samples:
        selected = rng.sample(selected, data.max_samples)
    if data.balance_answers:  # last, so that no later draw tilts it again
        selected = balanced_answers(selected, set(data.balance_answers))
    if not selected:
        raise DataError(f"{data.root}: no {data.split} records match tasks={data.tasks} stages={data.stages}")
    return selected


def weighted(group: list[Record], task_weight: float, source_weights: dict[str, float]) -> list[Record]:
    """A task's records, each source's repeated (weight > 1) or cut (weight < 1) to its share: the task's weight
    times its source's (`data.source_weights`, by `Record.dataset`; unnamed sources 1). Without source weights the
    group stays in one piece, in its own order, so the seeded draws after it are the ones they were."""
    parts = {"": group}
    if source_weights:
        parts = defaultdict(list)
        for record in group:
            parts[record.dataset].append(record)
    kept = []
    for source, part in parts.items():
        weight = task_weight * source_weights.get(source, 1.0)
        kept += (part * math.ceil(weight))[:round(len(part) * weight)]
    return kept


def spoken_words(record: Record) -> int:
    """Words of what the record's clip says (its reference transcript; 0 for a clip without speech)."""
    return len((record.metadata.get("transcript") or "").split())


def sound_class(record: Record, per_voice: set[str] = frozenset()) -> str | None:
    """The record's class for balancing: its first clip's most specific label; None for a record without one
    (multi-clip questions carry no label), which no class cap applies to: pooled under one empty class, a
    cap of 6 kept 6 of 1,255 multi-clip records of corpus v2.
    Speech is one label but hundreds of voices, and what is said does not depend on the label: a speech
    clip's class is the label and its voice (`metadata.origin`, e.g. `synth_speech:en-029`), so a cap per
    class keeps every voice rather than a handful of speech clips in all. The same holds of the labels in
    `per_voice` (`data.per_voice`, e.g. "human sound": grunts and shouts of many voice packs), matched against
    every label of the clip, parents included."""
    labels = record.metadata.get("labels") or []
    if not labels:
        return None
    if (labels[0] == "speech" or per_voice & set(labels)) and record.metadata.get("origin"):
        return f"{labels[0]}|{record.metadata['origin']}"
    return labels[0]


def balanced(group: list[Record], per_class: int, per_voice: set[str] = frozenset()) -> list[Record]:
    """The first `per_class` records of each sound class (`sound_class`), in the group's (shuffled) order; every
    record without a class."""
    taken: Counter = Counter()
    kept = []
    for record in group:
        cls = sound_class(record, per_voice)
        if cls is None:
            kept.append(record)
        elif taken[cls] < per_class:
            taken[cls] += 1
            kept.append(record)
    return kept


def answer_polarity(record: Record) -> str | None:
    """'yes' or 'no' when the answer starts with it ("Yes, both are a bell." / "No: the first is speech ..."),
    else None (answers that name, count or compare). Only the first word counts: `eval.text.parse_yes_no` also reads
    any negation as "no", which would count "The first clip is not louder." as one."""
    first = record.output.split(maxsplit=1)[0].strip(",.:;!").lower() if record.output.strip() else ""
    return first if first in ("yes", "no") else None


def balanced_answers(group: list[Record], tasks: set[str]) -> list[Record]:
    """As many yes as no answers in each of `tasks` and negative mode (`Record.negative_mode`; one group for
    records without one), the majority's first records in the group's order kept; answers that are neither, and
    records of other tasks, are all kept.
    Corpus v2's "same kind of sound?" questions are 342 yes to 122 no, and a class cap can tilt one mode's
    "is there X?" (v3's popular mode trained 134 yes to 90 no): a model that learns the tilt says yes to
    what is not there."""
    def polarity(record: Record) -> str | None:
        return answer_polarity(record) if record.task in tasks else None

    counts = Counter((r.task, r.negative_mode, polarity(r)) for r in group)
    taken: Counter = Counter()
    kept = []
    for record in group:
        answer = polarity(record)
        if answer is not None:
            task, mode = record.task, record.negative_mode
            if taken[(task, mode, answer)] >= min(counts[(task, mode, "yes")], counts[(task, mode, "no")]):
                continue
            taken[(task, mode, answer)] += 1
        kept.append(record)
    return kept


UNHEARD_ANSWERS = {"unclear": UNCLEAR_SPEECH_A, "inaudible": INAUDIBLE_SPEECH_A}  # data.unheard_speech -> wordings


def transcript_answers(records: list[Record], transcripts: dict[str, str], captions: bool = False,
                       answers: bool = True, unheard: str = "drop", unheard_repeat: int = 1
                       ) -> tuple[list[Record], int, int]:
    """With `answers`, "what is said" records answered with the transcript the model reads beside the clip (so it
    learns to copy it word for word, rather than to rewrite it); speech clips whose transcript the no-speech gate
    withheld are left out (no transcript to copy), or with `unheard="unclear"` answered that the words cannot be
    made out (`templates.UNCLEAR_SPEECH_A`), with `unheard="inaudible"` marked as a transcript marks unintelligible
    speech (`templates.INAUDIBLE_SPEECH_A`: "[inaudible]"), a wording chosen by the record's id, each
    `unheard_repeat` times;
    answers to clips without speech ("It is a bell; nothing is said.") and other tasks are kept as they are. With
    `captions`, a speech clip's caption that quotes its words (`A voice says in Danish: "En VW Beetle."`) quotes the
    transcript instead, and is left out when it was withheld. Returns the records, how many were left out and how
    many answered that the words cannot be made out (a record repeated by a task weight or `unheard_repeat` counts
    each time)."""
    out, dropped, unclear = [], 0, 0
    for record in records:
        words = record.metadata.get("transcript") if len(record.sound) == 1 else None
        quoted = f'"{words}"' if words else None
        if words and ((answers and record.task == "speech_content")
                      or (captions and record.task == "caption" and quoted in record.output)):
            heard = transcripts.get(record.sound[0], "").strip()
            if heard:
                output = heard if record.task == "speech_content" else record.output.replace(quoted, f'"{heard}"')
            elif record.task == "speech_content" and unheard in UNHEARD_ANSWERS:
                wordings = UNHEARD_ANSWERS[unheard]
                output = wordings[int(hashlib.sha256(record.id.encode()).hexdigest(), 16) % len(wordings)]
                unclear += unheard_repeat
                out += [dataclasses.replace(record, output=output)] * (unheard_repeat - 1)
            else:
                dropped += 1
                continue
            record = dataclasses.replace(record, output=output)
        out.append(record)
    return out, dropped, unclear


def select_eval_records(data: DataSection, seed: int) -> list[Record]:
    """A fixed, seeded subset of the validation split with the same task/stage filters."""
    if data.eval_samples == 0:
        return []
    records = load_split(data.eval_split, data.root, tasks=data.tasks, stages=data.stages)
    rng = random.Random(f"{seed}:{data.eval_split}")
    return rng.sample(records, min(len(records), data.eval_samples))


def record_messages(record: Record) -> list[dict]:
    """The record as chat messages (user/assistant), its clips in the first user turn as `alm ask` places them."""
    turns = [*[(t.instruction, t.output) for t in record.history], (record.instruction, record.output)]
    messages = []
    for i, (question, answer) in enumerate(turns):
        if i == 0:
            question = question + "\n" + record.input if record.input else question
            content = clips_then_text(len(record.sound), question)
        else:
            content = question
        messages += [{"role": "user", "content": content}, {"role": "assistant", "content": answer}]
    return messages


# --------------------------------------------------------------------------- lengths
@dataclass
class Example:
    """One training sample, ready to collate."""

    id: str
    task: str
    messages: list[dict]  # user/assistant turns with `<audio>` placeholders
    sound: list[str]  # absolute audio paths, one per placeholder
    length: int  # tokens after placeholder expansion (<= max_length)
    truncated: bool = False  # cut to max_length at collation
    transcripts: list[str] | None = None  # Whisper transcript per clip (speech-aware models), else None
    tags: list[list] | None = None  # sound tags [(label, p)] per clip (models with sound_tags), else None
    asked: list[list] | None = None  # per clip, the asked sounds' probabilities [(name, p)] (with verdicts
    # [(name, p, "likely")]; taggers with names)
    input_ids: list[int] | None = None  # the tokenized conversation (audio tokens expanded), before max_length
    labels: list[int] | None = None  # its labels (IGNORE_INDEX outside the answers)
    window_keys: list[str] | None = None  # feature-cache key of each Whisper window of its clips, in order


@dataclass
class DataStats:
    selected: int = 0  # records chosen by the data mix
    kept: int = 0  # examples after the length limit
    skipped_overlong: int = 0  # dropped: longer than max_length (and not truncatable)
    truncated: int = 0  # kept but cut to max_length
    per_task: dict[str, int] = field(default_factory=dict)  # kept examples per task
    mean_tokens: float = 0.0  # mean tokens per kept example


class ClipLengths:
    """Samples at 16 kHz of each audio file, read from the header when the file is already 16 kHz."""

    def __init__(self):
        self._known: dict[str, int] = {}

    def __call__(self, path: str) -> int:
        if path not in self._known:
            try:
                info = sf.info(path)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise DataError(f"{path}: cannot read audio: {str(exc).splitlines()[0]}") from None
            self._known[path] = info.frames if info.samplerate == SAMPLE_RATE else len(load_audio(path))
        return self._known[path]


def prepare_examples(records: list[Record], processor: AlmProcessor, max_length: int, overlong: str,
                     clip_lengths: ClipLengths | None = None,
                     transcripts: dict[str, str] | None = None,
                     tags: StageTags | None = None) -> tuple[list[Example], DataStats]:
    """Token length of every record (exact: the real chat template, audio token counts, and the transcripts and
    sound tags if `transcripts` / `tags` give each audio path's text / tags, and the asked sounds of the record's
    prompt); apply max_length."""
    clip_lengths = clip_lengths or ClipLengths()
    audio_id = processor.audio_token_id
    examples, stats = [], DataStats(selected=len(records))
    for record in records:
        messages = record_messages(record)
        silent = [np.zeros(clip_lengths(p), dtype=np.float32) for p in record.sound]  # only lengths matter here
        texts = [transcripts[p] for p in record.sound] if transcripts is not None else None
        clip_tags = [tags.top(p) for p in record.sound] if tags is not None else None
        asked = (tags.asked(record.sound, processor.render(messages[:-1], add_generation_prompt=True))
                 if tags is not None else None)
        ids, labels = processor.tokenize(Conversation(messages, silent, texts, clip_tags, asked), train=True,
                                         add_generation_prompt=False)
        length, truncated = len(ids), False
        if length > max_length:
            audio_end = max((i + 1 for i, t in enumerate(ids) if t == audio_id), default=0)
            answer_kept = any(label != IGNORE_INDEX for label in labels[1:max_length])
            if overlong == "truncate" and audio_end <= max_length and answer_kept:
                length, truncated = max_length, True
                stats.truncated += 1
            else:
                stats.skipped_overlong += 1
                continue
        examples.append(Example(record.id, record.task, messages, list(record.sound), length, truncated, texts,
                                clip_tags, asked, ids, labels))
    stats.kept = len(examples)
    stats.per_task = dict(sorted(Counter(e.task for e in examples).items()))
    stats.mean_tokens = round(sum(e.length for e in examples) / max(1, len(examples)), 1)
    return examples, stats


# --------------------------------------------------------------------------- order
def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Length-grouped batches for one epoch, the same for the same (seed, epoch).

    Samples are shuffled, cut into pools of BUCKET_BATCHES batches, each pool sorted by length and
    cut into batches (so a batch holds similar lengths and little padding), then batches are shuffled.
    """
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(len(lengths), generator=g).tolist()
    pool = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), pool):
        part = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]


def rank_steps(batches: list[list[int]], num_processes: int, rank: int, grad_accum: int) -> list[list[list[int]]]:
    """This process's micro-batches grouped per optimizer step: global batch i*P + rank, whole steps only."""
    per_rank = len(batches) // num_processes
    mine = [batches[i * num_processes + rank] for i in range(per_rank)]
    steps = per_rank // grad_accum
    return [mine[s * grad_accum : (s + 1) * grad_accum] for s in range(steps)]


def attach_window_keys(examples: list[Example], clips: dict[str, tuple[int, list[str]]],
                       clip_lengths: ClipLengths) -> int:
    """Give each example its windows' cache keys, from `clips` (path -> (samples, keys), what the feature-cache
    pass saw); examples whose clips it lacks, or whose length differs from the one tokenized, keep the full
    path. Returns how many examples got keys."""
    done = 0
    for ex in examples:
        if ex.input_ids is None or any(p not in clips or clips[p][0] != clip_lengths(p) for p in ex.sound):
            continue
        ex.window_keys = [k for p in ex.sound for k in clips[p][1]]
        done += 1
    return done


def loader_workers(configured: int, device) -> int:
    """DataLoader worker processes: `configured` if >= 0; -1 (the default) chooses from the cores: on a GPU
    machine all but two cores (at most 8), so loading keeps ahead of the GPU; on a CPU-only machine none up to
    4 cores (a worker takes CPU from the step itself: measured equal or slower on 2 cores) and a quarter of
    them above."""
    if configured >= 0:
        return configured
    from alm.devices import cpu_threads

    cores = cpu_threads()
    if torch.device(str(device)).type == "cuda":
        return max(1, min(8, cores - 2))
    return 0 if cores <= 4 else min(4, cores // 4)


def pad_right(rows: list[list[int]], value: int, length: int) -> torch.Tensor:
    out = torch.full((len(rows), length), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


# --------------------------------------------------------------------------- batches
class Collator:
    """Examples -> model inputs, cut to max_length: from stored ids and cached frames where every example has
    them, else audio loaded, processor applied, cached frames if any."""

    def __init__(self, processor: AlmProcessor, max_length: int, cache=None, audio: bool = True):
        """`audio` False: the model takes no soft prompts (`aligner: none`), so a batch is token ids alone."""
        self.processor = processor
        self.max_length = max_length
        self.cache = cache
        self.audio = audio
        self.pad_id = processor.tokenizer.pad_token_id
        self.instruction_aware = bool(getattr(processor, "instruction_aware", False))

    def __call__(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        if not self.audio:
            return self._text(examples)
        if self.cache is not None and not self.instruction_aware and all(ex.window_keys for ex in examples):
            batch = self._from_cache(examples)
            if batch is not None:
                return batch
        return self._full(examples)

    def _text(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        """The stored token ids, attention mask and labels, padded right and cut to max_length."""
        length = max(len(ex.input_ids) for ex in examples)
        ids = pad_right([ex.input_ids for ex in examples], self.pad_id, length)
        mask = pad_right([[1] * len(ex.input_ids) for ex in examples], 0, length)
        labels = pad_right([ex.labels for ex in examples], IGNORE_INDEX, length)
        cut = slice(0, self.max_length)
        return {"input_ids": ids[:, cut], "attention_mask": mask[:, cut], "labels": labels[:, cut]}

    def _from_cache(self, examples: list[Example]) -> dict[str, torch.Tensor] | None:
        """The batch the full path makes, from stored token ids and cached frames (None if a window is missing)."""
        found = self.cache.lookup_keys([k for ex in examples for k in ex.window_keys])
        if found is None:
            return None
        frames, lengths = found  # (W, T, C), (W,)
        return {**self._text(examples), "audio_frames": frames, "audio_frame_lengths": lengths}

    def _full(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        convs = [Conversation(ex.messages, [load_audio(p) for p in ex.sound], ex.transcripts, ex.tags, ex.asked)
                 for ex in examples]
        batch = self.processor.batch(convs, train=True)
        if batch["input_ids"].shape[1] > self.max_length:  # only `truncated` examples are this long
            for key in ("input_ids", "attention_mask", "labels"):
                batch[key] = batch[key][:, : self.max_length]
        if self.cache is not None:
            windows = [w for conv in convs for wave in conv.audios
                       for w in split_windows(wave, self.processor.spec.window_seconds)]
            frames = self.cache.lookup(windows)
            if frames is not None:
                batch["audio_frames"], batch["audio_frame_lengths"] = frames
                del batch["audio_mel"], batch["audio_mel_lengths"]
        return batch
