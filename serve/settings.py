"""Server settings: one typed record, filled from `alm serve` options (or by tests directly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alm.checkpoints import DEFAULT_MODEL
from alm.limits import Limits


@dataclass
class ServerSettings:
    model_name: str = DEFAULT_MODEL  # the id clients send as `model` and /v1/models lists
    api_key: str | None = None  # when set, /v1/* needs `Authorization: Bearer <api_key>`
    max_body_bytes: int = 64 * 1024 * 1024  # larger request bodies get 413
    limits: Limits = field(default_factory=Limits)  # text, messages, clips, audio seconds, prompt tokens per request
    max_in_flight: int = 32  # requests queued or running; more get 503
    batch_window_ms: float = 8.0  # how long the batcher waits for more requests to join a batch
    max_batch: int = 32  # conversations per answer_batch call
    default_max_tokens: int = 256  # when a request gives no max_tokens
    max_tokens_limit: int = 2048  # a request's max_tokens may not exceed this
    default_temperature: float = 0.0  # when a request gives none (0 = greedy; OpenAI's own default is 1)
    allow_remote_audio: bool = False  # fetch http(s) audio_url URLs (off: no server-side requests at all)
    allow_private_urls: bool = False  # with remote audio on, also fetch loopback/private addresses
    remote_timeout_s: float = 10.0
    audio_root: Path | None = None  # file:// audio_url URLs are read only from under this folder
    model_ids: list[str] = field(default_factory=list)  # other names accepted as `model` (aliases)
    shutdown_timeout_s: float = 10.0  # on SIGTERM, work still running after this long is cancelled

    def accepts_model(self, name: str) -> bool:
        return name in (self.model_name, *self.model_ids)
