"""A small OpenAI-compatible chat client (stdlib only) with retries and an on-disk cache.

`ChatClient.complete(messages)` POSTs to `{base_url}/chat/completions`, retrying 429, 5xx
and connection errors with exponential backoff (honouring Retry-After). `CachedChat` keys
each request by a hash of (model, messages, temperature, max_tokens) and stores the reply in
`cache_dir/<hash>.json` (atomic), so a rerun only asks what it has not asked before.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instruction_data.errors import EndpointError
from instruction_data.files import atomic_write_json

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


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


@dataclass
class ChatClient:
    config: EndpointConfig
    sleep: Any = time.sleep  # replaced in tests
    calls: int = field(default=0, init=False)  # HTTP requests made, retries included
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant message text; EndpointError after the retries are used up."""
        cfg = self.config
        body = json.dumps({"model": cfg.model, "messages": messages, "temperature": cfg.temperature,
                           "max_tokens": cfg.max_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        if cfg.api_key:
            headers["Authorization"] = f"Bearer {cfg.api_key}"
        url = cfg.base_url.rstrip("/") + "/chat/completions"
        last = ""
        for attempt in range(cfg.max_retries + 1):
            with self._lock:
                self.calls += 1
            wait = cfg.backoff_s * 2**attempt
            try:
                request = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=cfg.timeout_s) as response:
                    payload = json.loads(response.read().decode("utf-8"))
                return payload["choices"][0]["message"]["content"] or ""
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code not in RETRY_STATUS:
                    raise EndpointError(f"{url}: {last}: {exc.read()[:200].decode('utf-8', 'replace')}") from None
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait = max(wait, float(retry_after))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = f"connection failed: {getattr(exc, 'reason', exc)}"
            except (KeyError, IndexError, TypeError, json.JSONDecodeError):
                raise EndpointError(f"{url}: the reply is not an OpenAI chat completion") from None
            if attempt < cfg.max_retries:
                self.sleep(wait)
        raise EndpointError(f"{url}: {last} after {cfg.max_retries + 1} attempts")


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
