"""Reading and writing record files (OpenAQA JSON list, JSONL, either form) atomically."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alm.audio.io import wav_bytes
from alm.files import atomic_write_bytes, atomic_write_text

from instruction_data.errors import DataError
from instruction_data.schema import Record

FORMS = ("openaqa", "conversation")


@dataclass
class RawItem:
    """One object read from a file, with where it was; `error` is set when it is not JSON."""

    location: str  # "line 12" (JSONL) or "index 3" (JSON list)
    obj: Any
    error: str = ""


def atomic_write_wav(path: str | Path, wave: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM wav, written atomically."""
    atomic_write_bytes(path, wav_bytes(wave, sample_rate))


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def iter_raw(path: str | Path) -> Iterator[RawItem]:
    """Objects of a .json (a list) or .jsonl file, each with its line or index."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if is_jsonl(path):
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield RawItem(f"line {n}", json.loads(line))
                except json.JSONDecodeError as exc:
                    yield RawItem(f"line {n}", None, f"not valid JSON: {exc.msg} (column {exc.colno})")
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        yield RawItem(f"line {exc.lineno}", None, f"not valid JSON: {exc.msg} (column {exc.colno})")
        return
    if not isinstance(data, list):
        yield RawItem("index 0", None, "a .json record file must hold a list of objects (use .jsonl for one per line)")
        return
    for i, obj in enumerate(data):
        yield RawItem(f"index {i}", obj)


def dump_record(record: Record, form: str = "openaqa") -> dict[str, Any]:
    if form not in FORMS:
        raise DataError(f"unknown record form {form!r}; choose one of {', '.join(FORMS)}")
    return record.to_openaqa() if form == "openaqa" else record.to_conversation()


def write_records(path: str | Path, records: Iterable[Record], form: str = "openaqa") -> int:
    """Write records as JSONL (one per line) or a JSON list, chosen by the suffix. Returns the count."""
    path = Path(path)
    objs = [dump_record(r, form) for r in records]
    if is_jsonl(path):
        text = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs)
    else:
        text = json.dumps(objs, ensure_ascii=False, indent=1) + "\n"
    atomic_write_text(path, text)
    return len(objs)


def read_records(path: str | Path, skip_invalid: bool = False) -> list[Record]:
    """Read and validate a record file (either form, .json or .jsonl).

    A bad record raises `DataError` naming file, line/index, field and reason, unless
    `skip_invalid`, which drops it (see `validate.validate_file` for the count).
    """
    from instruction_data.validate import validate_file

    return validate_file(path, skip_invalid=skip_invalid).records
