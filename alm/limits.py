"""Per-request limits, checked before any work starts; each refusal names the setting it enforces.

A prompt's cost grows with its length (prefill time, memory), so what a request may ask for is
bounded: its text, messages, clips, audio seconds (from each file's header, before decoding),
and its prompt tokens plus `max_tokens` (within the model's context). The API server, the chat
and `alm ask` apply the same `Limits`; the server's come from `alm serve` options.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alm.conversation import text_pieces
from alm.errors import AlmError


MIN_TEMPERATURE = 0.01  # sampling temperatures below this (but above 0) overflow logits / temperature
MAX_TEMPERATURE = 2.0
SEED_BITS = 64  # seeds are signed 64-bit integers


def check_sampling(temperature: float, top_p: float, seed: int | None) -> None:
    """Sampling settings that cannot produce NaN or overflow: temperature 0 (greedy) or in
    [MIN_TEMPERATURE, MAX_TEMPERATURE], top_p in (0, 1], seed within 64 bits."""
    if not (temperature == 0 or MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE):
        raise AlmError(f"temperature must be 0 (greedy) or between {MIN_TEMPERATURE} and {MAX_TEMPERATURE:g}, "
                       f"got {temperature}")
    if not 0 < top_p <= 1:
        raise AlmError(f"top_p must be in (0, 1], got {top_p}")
    if seed is not None and not -(2 ** (SEED_BITS - 1)) <= seed < 2 ** (SEED_BITS - 1):
        raise AlmError(f"seed must fit in {SEED_BITS} bits, got {seed}")


class LimitError(AlmError):
    """A request over a limit; `limit` names the setting (or `context` for the model's context)."""

    def __init__(self, message: str, limit: str):
        super().__init__(message)
        self.limit = limit


@dataclass
class Limits:
    max_text_chars: int = 32_000  # characters of text in all messages of a request together
    max_messages: int = 256  # messages per request
    max_parts: int = 512  # content parts (text and audio) in all messages of a request together
    max_clips: int = 16  # audio clips per request
    max_clip_seconds: float | None = None  # one clip's length (None: the model's max_audio_seconds)
    max_audio_seconds: float = 1200.0  # all clips of a request together
    max_prompt_tokens: int | None = None  # prompt tokens (None: only prompt + max_tokens <= the model's context)

    def check_messages(self, messages: list[dict]) -> None:
        """Message and part counts, and text length (alm messages: string content or content parts)."""
        if len(messages) > self.max_messages:
            raise LimitError(f"the request has {len(messages)} messages; the limit is {self.max_messages} "
                             "(max_messages)", "max_messages")
        parts = sum(len(m["content"]) for m in messages if isinstance(m.get("content"), list))
        if parts > self.max_parts:
            raise LimitError(f"the request has {parts} content parts; the limit is {self.max_parts} (max_parts)",
                             "max_parts")
        chars = sum(len(piece) for message in messages for piece in text_pieces(message))
        if chars > self.max_text_chars:
            raise LimitError(f"the request has {chars:,} characters of text; the limit is {self.max_text_chars:,} "
                             "(max_text_chars)", "max_text_chars")

    def check_clip_count(self, count: int) -> None:
        if count > self.max_clips:
            raise LimitError(f"the request has {count} audio clips; the limit is {self.max_clips} (max_clips)",
                             "max_clips")

    def audio_budget(self, model_max_seconds: float | None = None) -> AudioBudget:
        return AudioBudget(self, model_max_seconds)

    def check_prompt(self, prompt_tokens: int, max_new_tokens: int, context: int | None) -> None:
        """The prompt's tokens (audio and transcripts included) and the answer's room fit the model."""
        if self.max_prompt_tokens is not None and prompt_tokens > self.max_prompt_tokens:
            raise LimitError(f"the prompt is {prompt_tokens:,} tokens; the limit is {self.max_prompt_tokens:,} "
                             "(max_prompt_tokens)", "max_prompt_tokens")
        if context is not None and prompt_tokens + max_new_tokens > context:
            raise LimitError(f"the prompt is {prompt_tokens:,} tokens and max_tokens is {max_new_tokens:,}: together "
                             f"over the model's context of {context:,} tokens; shorten the conversation or the audio, "
                             "or ask for fewer tokens", "context")


class AudioBudget:
    """The audio limits of one request, applied clip by clip from each file's header before it is decoded."""

    def __init__(self, limits: Limits, model_max_seconds: float | None = None):
        caps = [s for s in (limits.max_clip_seconds, model_max_seconds) if s is not None]
        self.limits = limits
        self.clip_seconds = min(caps) if caps else None
        self.clips = 0
        self.seconds = 0.0

    def next_clip(self) -> None:
        """Count one more clip in (call before fetching it)."""
        self.limits.check_clip_count(self.clips + 1)
        self.clips += 1

    def _check_total(self, seconds: float | None, name: str) -> None:
        total = self.limits.max_audio_seconds
        if seconds is not None and self.seconds + seconds > total:
            raise LimitError(f"{name} brings the request's audio to {self.seconds + seconds:.1f} s; the limit is "
                             f"{total:g} s of audio per request (max_audio_seconds)", "max_audio_seconds")

    def read(self, source, name: str, declared: str | None = None) -> np.ndarray:
        """Decode one clip (path or bytes, `alm.audio.io.read_audio`) within what is left of the budget."""
        from alm.audio.io import read_audio

        wave = read_audio(source, name, declared=declared, max_seconds=self.clip_seconds,
                          check=lambda seconds: self._check_total(seconds, name))  # from the header
        return self.add(wave, name)

    def add(self, wave: np.ndarray, name: str) -> np.ndarray:
        """Count a decoded clip in (its real length: some headers state none, a cached clip has none)."""
        from alm.audio.io import SAMPLE_RATE, too_long

        seconds = len(wave) / SAMPLE_RATE
        if self.clip_seconds is not None and seconds > self.clip_seconds:
            raise too_long(name, seconds, self.clip_seconds)
        self._check_total(seconds, name)
        self.seconds += seconds
        return wave


def model_context(config) -> int | None:
    """The LLM's context length in tokens (`max_position_embeddings`), None when the config does not say."""
    text_config = getattr(config, "text_config", config)
    value = getattr(text_config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None
