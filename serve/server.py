"""Run an ASGI app with uvicorn: in the foreground (the CLI) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def uvicorn_config(app, host: str, port: int, log_level: str = "warning",
                   shutdown_timeout_s: float = 10.0) -> uvicorn.Config:
    """One worker process: the model is loaded once; concurrency comes from the batcher. On shutdown, requests
    still running after `shutdown_timeout_s` are cancelled (model work runs in daemon threads, so the process
    then exits without waiting for a generation to finish)."""
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_keep_alive=30,
                          limit_concurrency=1024, timeout_graceful_shutdown=shutdown_timeout_s)


class ServerThread:
    """`with ServerThread(app) as url:` serves `app` on 127.0.0.1 until the block ends."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None, shutdown_timeout_s: float = 10.0):
        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(uvicorn_config(app, self.host, self.port, shutdown_timeout_s=shutdown_timeout_s))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start on {self.url}")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
