"""The subset of OpenAI's chat-completions request the server understands (pydantic).

Unknown top-level fields are accepted and ignored, as OpenAI-compatible servers do, so SDKs
that send newer fields keep working; features that would change the answer and are not
supported (tools, n > 1, logprobs) are refused with 400 rather than silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from serve.errors import bad_request

AUDIO_FORMATS = ("wav", "mp3", "flac", "ogg", "opus")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class InputAudio(_Strict):
    data: str
    format: str = "wav"

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value.lower() not in AUDIO_FORMATS:
            raise ValueError(f"audio format must be one of {', '.join(AUDIO_FORMATS)}")
        return value.lower()


class InputAudioPart(_Strict):
    type: Literal["input_audio"]
    input_audio: InputAudio


class AudioUrl(_Strict):
    url: str


class AudioUrlPart(_Strict):
    type: Literal["audio_url"]
    audio_url: AudioUrl


ContentPart = Annotated[Union[TextPart, InputAudioPart, AudioUrlPart], Field(discriminator="type")]


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None


class StreamOptions(_Strict):
    include_usage: bool = False


class ChatCompletionRequest(_Strict):
    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1)
    tools: list | None = None
    logprobs: bool | None = None

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value):
        if value is None:
            return []
        stops = [value] if isinstance(value, str) else value
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        return [s for s in stops if s]


def _loc(error: dict) -> str:
    """('messages', 0, 'content', 'list[...]', 0, 'input_audio', 'input_audio', 'format') -> messages.0.content.0...."""
    parts = [str(p) for p in error.get("loc", ())]
    return ".".join(p for p in parts if "[" not in p and p not in ("str", "none") and not p.startswith("function-"))


def parse_request(payload) -> ChatCompletionRequest:
    """JSON value -> request, or ApiError(400) naming the first offending field."""
    if not isinstance(payload, dict):
        raise bad_request("the request body must be a JSON object")
    try:
        req = ChatCompletionRequest.model_validate(payload)
    except ValidationError as exc:
        # A union reports one error per branch; the deepest one says what is really wrong.
        first = max(exc.errors(), key=lambda e: len(e.get("loc", ())))
        where = _loc(first)
        raise bad_request(f"{where}: {first['msg']}" if where else first["msg"], param=where or None) from None
    if req.n != 1:
        raise bad_request("only n=1 is supported", param="n")
    if req.tools:
        raise bad_request("tools / function calling are not supported by this model", param="tools")
    if req.logprobs:
        raise bad_request("logprobs are not supported", param="logprobs")
    return req
