"""What the chat UI talks to: the in-process Assistant, or any OpenAI-compatible server (vLLM).

Both take alm-style messages (`<audio>` placeholders in user text) and 16 kHz clips, and
yield the answer in pieces.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import numpy as np
import soundfile as sf

from alm.inference import SamplingParams
from alm.processor import PLACEHOLDER


class LocalBackend:
    """The in-process transformers engine: `Assistant.answer_stream`."""

    def __init__(self, assistant, model_name: str = "alm"):
        from serve.engine import CachingTranscriber

        self.assistant = assistant
        self.model_name = model_name
        if getattr(assistant, "transcriber", None) is not None and not isinstance(assistant.transcriber,
                                                                                    CachingTranscriber):
            assistant.transcriber = CachingTranscriber(assistant.transcriber)

    @property
    def trained(self) -> bool:
        return bool(getattr(self.assistant, "trained", True))

    @property
    def can_transcribe(self) -> bool:
        return getattr(self.assistant, "transcriber", None) is not None

    def transcribe(self, audios: list[np.ndarray]) -> list[str]:
        return [self.assistant.transcriber.transcribe(w) for w in audios]

    def check(self, messages: list[dict], audios: list[np.ndarray]) -> None:
        from alm.processor import Conversation

        self.assistant.processor.check_clips(Conversation(messages, audios))

    def stream(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams) -> Iterator[str]:
        yield from self.assistant.answer_stream(messages, audios, params)


def wav_base64(wave: np.ndarray, sample_rate: int = 16_000) -> str:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(wave, dtype=np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode()


def to_openai_messages(messages: list[dict], audios: list[np.ndarray]) -> list[dict]:
    """alm messages (`<audio>` placeholders) -> OpenAI messages with input_audio parts in place."""
    clips = iter(audios)
    out = []
    for msg in messages:
        text = str(msg["content"])
        if PLACEHOLDER not in text:
            out.append({"role": msg["role"], "content": text})
            continue
        parts = []
        for k, piece in enumerate(text.split(PLACEHOLDER)):
            if k:
                parts.append({"type": "input_audio", "input_audio": {"data": wav_base64(next(clips)), "format": "wav"}})
            piece = piece.strip("\n")
            if piece:
                parts.append({"type": "text", "text": piece})
        out.append({"role": msg["role"], "content": parts})
    return out


class OpenAIBackend:
    """Any OpenAI-compatible chat server that takes audio parts (alm serve, vLLM's server)."""

    can_transcribe = False
    trained = True

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 600):
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=0)
        self.model_name = model

    def check(self, messages, audios) -> None:
        pass

    def transcribe(self, audios):
        raise NotImplementedError

    def stream(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams) -> Iterator[str]:
        from openai import APIError

        from alm.errors import AlmError

        try:
            stream = self.client.chat.completions.create(
                model=self.model_name, messages=to_openai_messages(messages, audios), stream=True,
                max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
                stop=params.stop or None, seed=params.seed)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except APIError as exc:
            raise AlmError(f"the model server said: {getattr(exc, 'message', exc)}") from None
