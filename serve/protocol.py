"""The subset of OpenAI's chat-completions request the server understands (pydantic).

Unknown top-level fields are accepted and ignored, as OpenAI-compatible servers do, so SDKs
that send newer fields keep working; parameters that would change the answer and are not
supported (`UNSUPPORTED`: tools, response formats, log-probabilities, audio output, penalties,
n > 1 ...) are refused with a 400 naming them rather than silently ignored. Sampling parameters
are bounded so they cannot produce NaN or overflow: `temperature` is 0 (greedy) or at least
`MIN_TEMPERATURE`, `seed` fits in 64 bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alm.audio.formats import FORMATS, declared_format
from alm.errors import AudioError
from alm.limits import MAX_TEMPERATURE, MIN_TEMPERATURE, SEED_BITS
from serve.errors import bad_request

AUDIO_FORMATS = FORMATS
MAX_STOP_CHARS = 256
INT64 = 2 ** (SEED_BITS - 1)


def _neutral(*values) -> Callable[[Any], bool]:
    return lambda value: value in values


# Parameters that would change the answer, and the values that leave it unchanged.
UNSUPPORTED: dict[str, Callable[[Any], bool]] = {
    "n": _neutral(None, 1),
    "tools": lambda v: not v,
    "functions": lambda v: not v,
    "tool_choice": _neutral(None, "none", "auto"),
    "function_call": _neutral(None, "none", "auto"),
    "response_format": lambda v: v is None or (isinstance(v, dict) and v.get("type") == "text"),
    "logit_bias": lambda v: not v,
    "logprobs": _neutral(None, False),
    "top_logprobs": _neutral(None, 0),
    "modalities": lambda v: v is None or v == ["text"],
    "audio": _neutral(None),
    "prediction": _neutral(None),
    "presence_penalty": _neutral(None, 0),
    "frequency_penalty": _neutral(None, 0),
    "top_k": _neutral(None, 0, -1),
    "min_p": _neutral(None, 0),
    "repetition_penalty": _neutral(None, 1),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class InputAudio(_Strict):
    data: str
    format: str | None = None  # what the data is; when given it must agree with the bytes

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        try:
            return declared_format(value)
        except AudioError as exc:
            raise ValueError(str(exc)) from None


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
    max_tokens: int | None = Field(default=None, ge=1, lt=2**31)
    max_completion_tokens: int | None = Field(default=None, ge=1, lt=2**31)
    temperature: float | None = Field(default=None, ge=0, le=MAX_TEMPERATURE, allow_inf_nan=False)
    top_p: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-INT64, lt=INT64)
    stream: bool = False
    stream_options: StreamOptions | None = None

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, value: float | None) -> float | None:
        if value is not None and 0 < value < MIN_TEMPERATURE:
            raise ValueError(f"temperature must be 0 (greedy) or at least {MIN_TEMPERATURE}")
        return value

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value):
        if value is None:
            return []
        stops = [value] if isinstance(value, str) else value
        if len(stops) > 4:
            raise ValueError("at most 4 stop sequences")
        if any(len(s) > MAX_STOP_CHARS for s in stops):
            raise ValueError(f"a stop sequence may have at most {MAX_STOP_CHARS} characters")
        return [s for s in stops if s]


def _loc(error: dict) -> str:
    """('messages', 0, 'content', 'list[...]', 0, 'input_audio', 'input_audio', 'format') -> messages.0.content.0...."""
    parts = [str(p) for p in error.get("loc", ())]
    return ".".join(p for p in parts if "[" not in p and p not in ("str", "none") and not p.startswith("function-"))


def _message(error: dict) -> str:
    return error["msg"].removeprefix("Value error, ")


def check_supported(payload: dict) -> None:
    """400 naming every parameter set to something this server would otherwise silently ignore."""
    names = [name for name, neutral in UNSUPPORTED.items() if name in payload and not _harmless(neutral, payload[name])]
    if names:
        raise bad_request(f"unsupported parameter{'s' if len(names) > 1 else ''} that would change the answer: "
                          f"{', '.join(names)} (this server answers one choice in plain text, without tools, "
                          "structured output, log-probabilities, audio output or penalties)", param=names[0],
                          code="unsupported_parameter")


def _harmless(neutral: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(neutral(value))
    except TypeError:  # unhashable or odd values are not neutral
        return False


def parse_request(payload) -> ChatCompletionRequest:
    """JSON value -> request, or ApiError(400) naming the first offending field."""
    if not isinstance(payload, dict):
        raise bad_request("the request body must be a JSON object")
    check_supported(payload)
    try:
        return ChatCompletionRequest.model_validate(payload)
    except ValidationError as exc:
        # A union reports one error per branch; the deepest one says what is really wrong.
        first = max(exc.errors(), key=lambda e: len(e.get("loc", ())))
        where = _loc(first)
        raise bad_request(f"{where}: {_message(first)}" if where else _message(first), param=where or None) from None
