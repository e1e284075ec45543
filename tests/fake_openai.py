"""A fake OpenAI-compatible /v1/chat/completions server on 127.0.0.1 for client tests.

Replies come from `respond(request_body, n) -> (status, text)`, n counting requests from 1;
every request is recorded as (path, Authorization header, body). 429 replies carry Retry-After: 0.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeServer:
    def __init__(self, respond: Callable[[dict, int], tuple[int, str]]) -> None:
        self.respond, self.requests = respond, []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append((self.path, self.headers.get("Authorization"), body))
                    n = len(server.requests)
                status, text = server.respond(body, n)
                payload = {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                           "usage": {"completion_tokens": 3}} if status == 200 else {"error": {"message": text}}
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(json.dumps(payload).encode())

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def serve() -> Iterator[Callable[[Callable], FakeServer]]:
    """Start fake servers with `serve(respond)`; all are shut down after the test."""
    servers = []

    def start(respond):
        server = FakeServer(respond)
        server.thread.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()
