"""What the chat UI talks to: the in-process Assistant, or any OpenAI-compatible server (vLLM).

Both take alm messages (content parts, `alm.conversation`) and 16 kHz clips, and yield the
answer in pieces.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from alm.audio.io import wav_base64
from alm.conversation import Conversation, is_audio_part
from alm.errors import AlmError
from alm.inference import SamplingParams


class LocalBackend:
    """The in-process transformers engine: `Assistant.answer_stream`."""

    def __init__(self, assistant, model_name: str = "alm"):
        self.assistant = assistant
        self.model_name = model_name

    @property
    def trained(self) -> bool:
        return bool(getattr(self.assistant, "trained", True))

    @property
    def can_transcribe(self) -> bool:
        return getattr(self.assistant, "transcriber", None) is not None

    def transcribe(self, audios: list[np.ndarray]) -> list[str]:
        return [self.assistant.transcriber.transcribe(w) for w in audios]

    @property
    def max_audio_seconds(self) -> float | None:
        return getattr(self.assistant.processor, "max_audio_seconds", None)

    def check(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams | None = None,
              limits=None) -> None:
        """The clips fit the model, and (with `params` and `limits`) the prompt tokens + max tokens fit the limits
        and the model's context."""
        conv = Conversation(messages, audios)
        self.assistant.processor.check_clips(conv)
        if params is not None and limits is not None:
            from alm.limits import model_context

            tokens = len(self.assistant.processor.tokenize(conv, train=False)[0])
            limits.check_prompt(tokens, params.max_new_tokens, model_context(self.assistant.model.config))

    def stream(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams) -> Iterator[str]:
        yield from self.assistant.answer_stream(messages, audios, params)


def to_openai_messages(messages: list[dict], audios: list[np.ndarray]) -> list[dict]:
    """alm messages -> OpenAI messages: each audio part becomes an `input_audio` part with its clip, in place."""
    clips = iter(audios)
    out = []
    for msg in messages:
        content = msg["content"]
        if content is None or isinstance(content, str):
            out.append({"role": msg["role"], "content": content or ""})
            continue
        parts = [{"type": "input_audio", "input_audio": {"data": wav_base64(next(clips)), "format": "wav"}}
                 if is_audio_part(part) else part for part in content]
        out.append({"role": msg["role"], "content": parts})
    return out


def served_model_trained(base_url: str, model: str, api_key: str | None = None, timeout: float = 5.0) -> bool | None:
    """Whether the server's model has a trained aligner: alm serve says so on /health; a vLLM server started on
    an alm export names its folder as the model's `root` in /v1/models. None when neither tells."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def get(url: str):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
                return json.loads(resp.read() or b"null")
        except (OSError, ValueError):
            return None

    origin = urllib.parse.urlsplit(base_url)._replace(path="", query="", fragment="").geturl()
    health = get(origin + "/health")
    if isinstance(health, dict) and isinstance(health.get("trained"), bool):
        return health["trained"]
    listing = get(base_url.rstrip("/") + "/models")
    for entry in (listing or {}).get("data", []) if isinstance(listing, dict) else []:
        config = Path(str(entry.get("root", ""))) / "config.json"
        if entry.get("id") == model and config.is_file():
            try:
                return bool(json.loads(config.read_text()).get("trained", True))
            except (OSError, ValueError):
                return None
    return None


class OpenAIBackend:
    """Any OpenAI-compatible chat server that takes audio parts (alm serve, vLLM's server)."""

    can_transcribe = False

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 600,
                 trained: bool | None = None):
        """`trained`: whether the served model's aligner is trained (None: ask the server; unknown counts as yes)."""
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=0)
        self.model_name = model
        known = trained if trained is not None else served_model_trained(base_url, model, api_key)
        self.trained = True if known is None else known

    def check(self, messages, audios, params=None, limits=None) -> None:
        pass  # the server checks

    def transcribe(self, audios):
        raise AlmError("this chat talks to a server, which does not return transcripts")

    def stream(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams) -> Iterator[str]:
        from openai import APIError

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
