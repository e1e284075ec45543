"""Answers kept on disk: key -> Reply, one appended JSONL line each, so an interrupted run resumes with what it wrote.
Shared by the evaluations (`eval.runners`, `eval.harness`) and training's teacher answers (`training.teacher`)."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class Reply:
    text: str = ""
    finish_reason: str = ""
    completion_tokens: int | None = None
    seconds: float = 0.0
    error: str | None = None   # set when the item could not be answered (not cached)


class AnswerCache:
    """key -> Reply, persisted as JSONL (one appended line per answer; a torn last line is skipped)."""

    def __init__(self, path: str | Path | None, read: bool = True) -> None:
        self.path = Path(path) if path else None
        self.replies: dict[str, Reply] = {}
        self._lock = threading.Lock()
        if read and self.path and self.path.is_file():
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        obj = json.loads(line)
                        self.replies[obj["key"]] = Reply(obj["text"], obj.get("finish_reason", ""),
                                                         obj.get("completion_tokens"), obj.get("seconds", 0.0))
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue

    def get(self, key: str) -> Reply | None:
        return self.replies.get(key)

    def put(self, key: str, reply: Reply, extra: dict[str, Any]) -> None:
        if reply.error is not None:
            return
        with self._lock:
            self.replies[key] = reply
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            row = {"key": key, **extra, **{k: v for k, v in asdict(reply).items() if k != "error"}}
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
