"""One OpenAI-compatible chat client (stdlib only): POST {base_url}/chat/completions with retries.

Used wherever alm talks to a chat server: the evaluation's endpoint runner and the instruction-data
generator. 408/409/425/429 and 5xx replies, connection errors and timeouts are retried with
exponential backoff; a `Retry-After` header (seconds) replaces the backoff for that wait. Any other
HTTP error, or a reply that is not a chat completion, fails at once with `EndpointError`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from alm.errors import AlmError

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class EndpointError(AlmError):
    """The OpenAI-compatible endpoint failed for good (after retries, or with a reply that cannot be used)."""


def chat_completions_url(base_url: str) -> str:
    """`http://host/v1` or the full `.../chat/completions` URL -> the chat-completions URL."""
    url = base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise AlmError(f"the endpoint must be an http(s) URL, got {base_url!r}")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


@dataclass
class ChatEndpoint:
    base_url: str  # http(s)://host:port/v1, or the whole .../chat/completions URL
    api_key: str = ""  # sent as a Bearer token when set
    timeout_s: float = 120.0  # per request
    retries: int = 4  # tries after the first
    backoff_s: float = 1.0  # first retry wait; doubles each time
    sleep: Callable[[float], None] = time.sleep  # replaced in tests
    calls: int = field(default=0, init=False)  # HTTP requests made, retries included
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def url(self) -> str:
        return chat_completions_url(self.base_url)

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """The parsed chat-completion reply to `body`."""
        url, data = self.url, json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.retries + 1):
            with self._lock:
                self.calls += 1
            wait = self.backoff_s * 2**attempt
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    reply = json.loads(response.read().decode("utf-8"))
                if not isinstance(reply, dict):
                    raise EndpointError(f"{url}: the reply is not a chat completion")
                return reply
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode("utf-8", "replace")
                last = f"HTTP {exc.code} from {url}: {detail}"
                if exc.code not in RETRY_STATUS:
                    raise EndpointError(last) from None
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait = float(retry_after)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = f"{url}: connection failed: {getattr(exc, 'reason', exc)}"
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise EndpointError(f"{url}: the reply is not JSON") from None
            if attempt < self.retries:
                self.sleep(wait)
        raise EndpointError(f"{last} (gave up after {self.retries + 1} attempts)")

    def complete(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(the assistant message's text, the whole reply)."""
        reply = self.post(body)
        try:
            return reply["choices"][0]["message"].get("content") or "", reply
        except (KeyError, IndexError, TypeError, AttributeError):
            raise EndpointError(f"{self.url}: the reply is not a chat completion") from None
