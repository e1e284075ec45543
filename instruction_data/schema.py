"""The record schema: OpenAQA tuples plus our stage, and the conversation form.

A `Record` is one question-answer item about one or more audio clips. On disk it is written
either as an OpenAQA object (LTU's fields `instruction`, `input`, `audio_id`, `dataset`,
`task`, `output`, plus our extra keys) or in the conversation form used for multi-turn and
multi-clip data (`{"id", "sound": [...], "conversations": [{"from", "value"}, ...]}`, one
`<sound>` placeholder per clip at the start of the first human turn). Both round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STAGES = ("perception", "reasoning")
NEGATIVE_MODES = ("random", "popular", "adversarial")
SOUND_PLACEHOLDER = "<sound>"

# task name -> curriculum stage. Perception: closed-ended answers read off metadata.
# Reasoning: open-ended answers and comparisons across clips.
TASKS: dict[str, str] = {
    "classification": "perception",   # what sound / which class; metadata.labels
    "caption": "perception",          # describe the audio; metadata.caption
    "existence": "perception",        # "is there X?" yes/no; negative_mode says how X was drawn for "no"
    "counting": "perception",         # how many times X occurs; metadata.count
    "temporal_order": "perception",   # which comes first / after X; metadata.events
    "timing": "perception",           # when X starts or ends (seconds); metadata.events
    "speech_content": "perception",   # what is said; metadata.transcript
    "speaker": "perception",          # who speaks (gender, accent, voice); metadata.speaker
    "language": "perception",         # which language is spoken; metadata.language
    "loudness": "perception",         # loud or quiet; metadata.loudness_db
    "duration": "perception",         # how long; metadata.duration
    "pitch": "perception",            # high/low, rising/falling, frequency; metadata.pitch_hz
    "aqa": "perception",              # given question-answer pairs (Clotho-AQA)
    "dialogue": "perception",         # several closed-ended turns about one clip (history holds earlier turns)
    "open_ended": "reasoning",        # why / what next / where / what to do, grounded in metadata
    "multi_clip_compare": "reasoning",  # which of two clips is louder/longer/higher; same kind of sound?
    "multi_clip_which": "reasoning",    # which clip contains X
    "multi_clip_change": "reasoning",   # what changed from the first clip to the second
}

OPENAQA_FIELDS = ("instruction", "input", "audio_id", "dataset", "task", "output")


@dataclass
class Turn:
    """One earlier exchange of a multi-turn conversation."""

    instruction: str
    output: str


@dataclass
class Record:
    """One question-answer item. `sound` lists every clip in order; `audio_id` is `sound[0]`."""

    id: str
    instruction: str
    output: str
    sound: list[str]
    dataset: str
    task: str
    stage: str
    input: str = ""  # text given beside the audio (LTU-AS: a transcript); empty in our corpus
    negative_mode: str | None = None  # existence only: random | popular | adversarial
    history: list[Turn] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def audio_id(self) -> str:
        return self.sound[0] if self.sound else ""

    # ---- OpenAQA form -------------------------------------------------------------
    def to_openaqa(self) -> dict[str, Any]:
        """OpenAQA's six fields first, then ours (`id`, `stage`, `sound`, ...)."""
        obj: dict[str, Any] = {
            "instruction": self.instruction,
            "input": self.input,
            "audio_id": self.audio_id,
            "dataset": self.dataset,
            "task": self.task,
            "output": self.output,
            "id": self.id,
            "stage": self.stage,
            "sound": list(self.sound),
        }
        return self._add_optional(obj)

    @classmethod
    def from_openaqa(cls, obj: dict[str, Any], default_id: str = "") -> "Record":
        """Read an OpenAQA object; LTU's own files (no id/stage/sound) are accepted too."""
        sound = obj.get("sound") or [obj["audio_id"]]
        return cls(
            id=str(obj.get("id") or default_id),
            instruction=obj["instruction"],
            output=obj["output"],
            sound=list(sound),
            dataset=obj.get("dataset", ""),
            task=obj["task"],
            stage=obj.get("stage") or infer_stage(obj["task"]),
            input=obj.get("input", "") or "",
            negative_mode=obj.get("negative_mode"),
            history=[Turn(**t) for t in obj.get("history", [])],
            metadata=dict(obj.get("metadata", {})),
        )

    # ---- conversation form --------------------------------------------------------
    def to_conversation(self) -> dict[str, Any]:
        """`{"id", "sound", "conversations"}` with one placeholder per clip, plus our keys."""
        turns = [*self.history, Turn(self.instruction, self.output)]
        conversations = []
        for i, turn in enumerate(turns):
            prefix = (SOUND_PLACEHOLDER + "\n") * len(self.sound) if i == 0 else ""
            conversations.append({"from": "human", "value": prefix + turn.instruction})
            conversations.append({"from": "gpt", "value": turn.output})
        obj: dict[str, Any] = {
            "id": self.id,
            "sound": list(self.sound),
            "conversations": conversations,
            "dataset": self.dataset,
            "task": self.task,
            "stage": self.stage,
            "input": self.input,
        }
        return self._add_optional(obj, with_history=False)

    @classmethod
    def from_conversation(cls, obj: dict[str, Any], default_id: str = "") -> "Record":
        """Inverse of `to_conversation`; earlier turns become `history`."""
        conv = obj["conversations"]
        pairs = [Turn(conv[i]["value"], conv[i + 1]["value"]) for i in range(0, len(conv) - 1, 2)]
        first = pairs[0]
        pairs[0] = Turn(strip_placeholders(first.instruction), first.output)
        last = pairs[-1]
        task = obj.get("task", "dialogue" if len(pairs) > 1 else "open_ended")
        return cls(
            id=str(obj.get("id") or default_id),
            instruction=last.instruction,
            output=last.output,
            sound=list(obj["sound"]),
            dataset=obj.get("dataset", ""),
            task=task,
            stage=obj.get("stage") or infer_stage(task),
            input=obj.get("input", "") or "",
            negative_mode=obj.get("negative_mode"),
            history=pairs[:-1],
            metadata=dict(obj.get("metadata", {})),
        )

    def _add_optional(self, obj: dict[str, Any], with_history: bool = True) -> dict[str, Any]:
        if self.negative_mode is not None:
            obj["negative_mode"] = self.negative_mode
        if with_history and self.history:
            obj["history"] = [{"instruction": t.instruction, "output": t.output} for t in self.history]
        obj["metadata"] = self.metadata
        return obj


def is_conversation(obj: dict[str, Any]) -> bool:
    """True for the conversation form, False for OpenAQA."""
    return "conversations" in obj


def record_from_dict(obj: dict[str, Any], default_id: str = "") -> Record:
    """Either form -> Record (the caller validates first; see `validate.py`)."""
    if is_conversation(obj):
        return Record.from_conversation(obj, default_id)
    return Record.from_openaqa(obj, default_id)


def strip_placeholders(text: str) -> str:
    """Remove the leading `<sound>` lines of a first human turn."""
    while text.startswith(SOUND_PLACEHOLDER):
        text = text[len(SOUND_PLACEHOLDER):].lstrip("\n")
    return text


def count_placeholders(text: str) -> int:
    return text.count(SOUND_PLACEHOLDER)


def infer_stage(task: str) -> str:
    """Stage for a task name; unknown (e.g. LTU's) names: 'open' in the name means reasoning."""
    if task in TASKS:
        return TASKS[task]
    return "reasoning" if "open" in task.lower() else "perception"
