"""Conversations with audio: OpenAI-style messages whose content is a string or a list of parts.

A user message holds `{"type": "audio"}` parts (one per clip, in order) and `{"type": "text",
"text": ...}` parts; `Conversation.audios` holds the clips (16 kHz mono float32) in the order
their parts appear. How the parts become prompt text is decided by the chat template alone
(`alm.chat_template`); this module only builds and inspects the parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alm.chat_template import AUDIO_PART_TYPES
from alm.errors import AlmError

PLACEHOLDER = "<audio>"  # where a command-line user puts a clip inside the question text


@dataclass
class Conversation:
    messages: list[dict]  # {"role", "content": str | list of parts}
    audios: list[np.ndarray] = field(default_factory=list)  # one per audio part, in order
    transcripts: list[str | None] | None = None  # one per clip, given to the LLM beside the audio
    tags: list[list[tuple[str, float]]] | None = None  # sound tags (label, probability) per clip, likewise
    asked: list[list[tuple]] | None = None  # per clip, the tagger's probability of each sound the prompt names,
    # (name, p) or with a verdict (name, p, "likely") (taggers with names; `alm.model.tagger`), likewise


def audio_part() -> dict:
    return {"type": "audio"}


def text_part(text: str) -> dict:
    return {"type": "text", "text": text}


def clips_then_text(num_clips: int, text: str) -> list[dict]:
    """The usual user turn: the clips, then the question."""
    return [audio_part() for _ in range(num_clips)] + ([text_part(text)] if text else [])


def parts_from_placeholders(text: str, num_clips: int) -> list[dict]:
    """A question with `<audio>` where the clips go ("Is <audio> louder than <audio>?"); without any
    placeholder the clips come first. The placeholder count must equal `num_clips`."""
    if PLACEHOLDER not in text:
        return clips_then_text(num_clips, text)
    pieces = text.split(PLACEHOLDER)
    if len(pieces) - 1 != num_clips:
        raise AlmError(f"the question has {len(pieces) - 1} {PLACEHOLDER} placeholder(s) but {num_clips} clip(s) "
                       "were given")
    parts = []
    for i, piece in enumerate(pieces):
        if i:
            parts.append(audio_part())
        if piece:
            parts.append(text_part(piece))
    return parts


def is_audio_part(part) -> bool:
    return isinstance(part, dict) and part.get("type") in AUDIO_PART_TYPES


def audio_part_count(message: dict) -> int:
    content = message.get("content")
    return 0 if content is None or isinstance(content, str) else sum(map(is_audio_part, content))


def message_text(message: dict) -> str:
    """The text of a message, parts joined by spaces (audio parts left out)."""
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    return " ".join(p["text"].strip() for p in content if isinstance(p, dict) and p.get("type") == "text").strip()


def text_pieces(message: dict) -> list[str]:
    """Every piece of text the message carries (its string content, or each text part)."""
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    return [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
