"""Shared helpers: filling templates and making records from clips."""

from __future__ import annotations

import random
from typing import Any

from instruction_data.clips import Clip
from instruction_data.schema import TASKS, Record
from instruction_data.text import capitalize, sound_of, with_article


def label_slots(label: str) -> dict[str, str]:
    """Template slots for a label: label, Label, a_label, sound."""
    return {"label": label, "Label": capitalize(label), "a_label": with_article(label), "sound": sound_of(label)}


def fill(rng: random.Random, templates: list[str], **slots: Any) -> str:
    """A random template with its slots filled; the first letter capitalized."""
    return capitalize(rng.choice(templates).format(**slots))


def make_record(clips: list[Clip], task: str, instruction: str, output: str, key: str,
                negative_mode: str | None = None, **extra: Any) -> Record:
    """A record about `clips` (in order). Metadata: the clip's metadata (one clip) or `clips`
    (several), plus `extra` (e.g. answer, asked_label)."""
    if len(clips) == 1:
        metadata = clips[0].metadata()
    else:
        metadata = {"clips": [c.metadata() for c in clips]}
    metadata.update(extra)
    return Record(
        id=f"{'+'.join(c.id for c in clips)}:{task}:{key}",
        instruction=instruction,
        output=output,
        sound=[c.audio for c in clips],
        dataset="+".join(dict.fromkeys(c.dataset for c in clips)),
        task=task,
        stage=TASKS[task],
        negative_mode=negative_mode,
        metadata=metadata,
    )
