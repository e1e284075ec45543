"""A teacher's own answers in place of the corpus's (self-distillation replay, as in Learning without Forgetting).

A stage that teaches one skill to a trained model (the LoRA-only "what is said" stage) moves what it answers to
everything else, even with those tasks' records beside it: their corpus answers are not what the model said, so it
learns them anew, and held-out sources pay (training/README.md, sessions 53-55). With `data.teacher` (a model: a
packaged name or a folder, usually the stage's `init_from`) the records of `data.teacher_tasks` are answered by that
model first, as it answers at inference (`Assistant.answer_batch`: its transcripts, tags and gates, greedy), and the
stage trains on those answers: on them the loss starts near its floor, so the stage's gradient comes from the skill it
teaches and the rest is held where the teacher stood.

Answers are kept in `<run dir>/teacher-answers.jsonl` (`alm.answer_cache.AnswerCache`, keyed by the teacher's
fingerprint and the record's question and clips), so an interrupted stage resumes with what it wrote. Records with earlier turns keep
their corpus answer (the teacher is asked single questions), as do answers the teacher cut at its token limit.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from alm.answer_cache import AnswerCache, Reply
from alm.errors import AlmError
from instruction_data.schema import Record

MAX_NEW_TOKENS = 64  # as the evaluations decode
BATCH_SIZE = 8


@dataclasses.dataclass
class TeacherStats:
    answered: int = 0  # distinct records answered by the teacher (cached ones included)
    cached: int = 0  # of which read from an earlier run's file
    kept: int = 0  # records of the teacher's tasks that keep the corpus's answer (earlier turns, cut answers)
    changed: int = 0  # distinct records whose answer differs from the corpus's


def asks(record: Record, tasks: list[str]) -> bool:
    """Whether the teacher answers this record: one of its tasks, a single question (no earlier turns)."""
    return record.task in tasks and not record.history


def record_key(fingerprint: str, record: Record) -> str:
    payload = [fingerprint, record.id, record.instruction, record.input, list(record.sound)]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:32]


def teacher_answers(records: list[Record], teacher: str, tasks: list[str], path: Path, device: str,
                    say: Callable[[str], None] = print) -> tuple[list[Record], TeacherStats]:
    """`records` with the answers of `teacher` for those of `tasks` (see the module docstring)."""
    from alm.audio.io import load_audio
    from alm.checkpoints import resolve_checkpoint
    from alm.conversation import Conversation
    from alm.hashing import folder_fingerprint
    from alm.inference import Assistant, SamplingParams
    from training.data import record_messages

    fingerprint = folder_fingerprint(resolve_checkpoint(teacher))
    keys = [record_key(fingerprint, r) if asks(r, tasks) else None for r in records]  # aligned with records
    asked = {k: r for k, r in zip(keys, records) if k}
    if not asked:
        raise AlmError(f"data.teacher_tasks: no selected single-question record is of {', '.join(tasks)}")
    stats = TeacherStats(kept=sum(1 for r in records if r.task in tasks and r.history))
    cache = AnswerCache(path)
    stats.cached = sum(1 for k in asked if cache.get(k) is not None)
    todo = sorted((k for k in asked if cache.get(k) is None),
                  key=lambda k: (len(asked[k].sound), len(asked[k].instruction) + len(asked[k].input)))
    if todo:
        say(f"teacher {teacher}: answering {len(todo)} records of {len(tasks)} tasks "
            f"({stats.cached} already in {path.name})")
        assistant = Assistant.load(teacher, device=device)
        params = SamplingParams(max_new_tokens=MAX_NEW_TOKENS, temperature=0.0)
        with tqdm(total=len(todo), desc="teacher answers", unit="rec") as bar:
            for start in range(0, len(todo), BATCH_SIZE):
                batch = todo[start:start + BATCH_SIZE]
                convs = []
                for key in batch:  # the question as training lays it out (`record_messages`), without the answer
                    r = asked[key]
                    convs.append(Conversation(record_messages(r)[:1], [load_audio(p) for p in r.sound]))
                for key, answer in zip(batch, assistant.answer_batch(convs, params)):
                    cache.put(key, Reply(answer.text.strip(), answer.finish_reason), {"id": asked[key].id})
                bar.update(len(batch))
        del assistant
        gc.collect()
    out = []
    changed = set()
    for key, r in zip(keys, records):
        reply = cache.get(key) if key else None
        if reply is None:
            out.append(r)
            continue
        if reply.finish_reason == "length" or not reply.text:
            stats.kept += 1
            out.append(r)
            continue
        if reply.text != r.output:
            changed.add(key)
        out.append(dataclasses.replace(r, output=reply.text))
    stats.answered, stats.changed = len(asked), len(changed)
    return out, stats
