"""The instruction-data generator's chat endpoint: settings, and a disk cache in front of it.

`ChatClient.complete(messages)` asks `{base_url}/chat/completions` through alm's one
OpenAI-compatible client (`alm.openai_client.ChatEndpoint`: retries on 429, 5xx and connection
errors, honouring Retry-After). `CachedChat` keys each request by a hash of (model, messages,
temperature, max_tokens) and stores the reply in `cache_dir/<hash>.json` (atomic), so a rerun only
asks what it has not asked before.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alm.files import atomic_write_json
from alm.openai_client import ChatEndpoint


@dataclass
class EndpointConfig:
    """Where and how to ask; from CLI flags or ALM_LLM_BASE_URL / ALM_LLM_MODEL / ALM_LLM_API_KEY."""

    base_url: str                 # e.g. http://127.0.0.1:8000/v1
    model: str = "default"
    api_key: str = ""             # sent as a Bearer token when set
    temperature: float = 0.7
    max_tokens: int = 600
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_s: float = 1.0        # first retry wait; doubles each time
    workers: int = 4              # concurrent requests

    @classmethod
    def from_env(cls, **overrides: Any) -> "EndpointConfig | None":
        """Config from the environment (overrides win); None when no base URL is set anywhere."""
        values = {"base_url": os.environ.get("ALM_LLM_BASE_URL", ""),
                  "model": os.environ.get("ALM_LLM_MODEL", "default"),
                  "api_key": os.environ.get("ALM_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY", "")}
        values.update({k: v for k, v in overrides.items() if v not in (None, "")})
        return cls(**values) if values["base_url"] else None


class ChatClient:
    """The endpoint of an `EndpointConfig`, asked one conversation at a time."""

    def __init__(self, config: EndpointConfig, sleep=time.sleep):
        self.config = config
        self.endpoint = ChatEndpoint(config.base_url, config.api_key, config.timeout_s, config.max_retries,
                                     config.backoff_s, sleep)

    @property
    def calls(self) -> int:
        """HTTP requests made, retries included."""
        return self.endpoint.calls

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant message text; EndpointError after the retries are used up."""
        cfg = self.config
        text, _ = self.endpoint.complete({"model": cfg.model, "messages": messages, "temperature": cfg.temperature,
                                          "max_tokens": cfg.max_tokens})
        return text


class CachedChat:
    """`ChatClient` behind a per-request disk cache (resumable)."""

    def __init__(self, client: ChatClient, cache_dir: Path) -> None:
        self.client, self.cache_dir = client, Path(cache_dir)
        self.hits = 0
        self._lock = threading.Lock()

    def key(self, messages: list[dict[str, str]]) -> str:
        cfg = self.client.config
        blob = json.dumps([cfg.model, messages, cfg.temperature, cfg.max_tokens], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def complete(self, messages: list[dict[str, str]]) -> str:
        path = self.cache_dir / f"{self.key(messages)}.json"
        if path.is_file():
            with self._lock:
                self.hits += 1
            return json.loads(path.read_text(encoding="utf-8"))["content"]
        content = self.client.complete(messages)
        atomic_write_json(path, {"model": self.client.config.model, "messages": messages, "content": content})
        return content
