"""What every public-benchmark reader shares: the result type, reading the authors' metadata
files, finding the audio they point to, and fingerprinting the metadata release.

A reader turns a benchmark's published folder into `eval.data.Item`s. Items whose audio file
is absent are not silently dropped: their ids are listed in `Loaded.missing_audio`, and items
the reader cannot pose to an audio-only model are counted in `Loaded.skipped`, so a report
can say how much of the benchmark was scored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.data import Item
from instruction_data.errors import DataError


@dataclass
class Loaded:
    items: list[Item]                                       # the questions that can be asked, in file order
    source: str                                             # the metadata file(s) read (shown in reports)
    release: str = ""                                       # the authors' release the metadata matches, if known
    missing_audio: list[str] = field(default_factory=list)  # ids of items skipped: their audio file is absent
    skipped: dict[str, int] = field(default_factory=dict)   # reason -> items skipped for it (not audio-only ...)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON list file or of a JSON-lines file (one object per line)."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: neither a JSON list nor JSON lines ({exc.msg}, line {exc.lineno})") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: expected a list of objects")
    return data


def first_file(root: Path, names: tuple[str, ...], dataset: str) -> Path:
    """`root` itself when it is a file, else the first of `names` inside it; a DataError names them all."""
    root = Path(root).expanduser()
    if root.is_file():
        return root
    for name in names:
        if (root / name).is_file():
            return root / name
    raise DataError(f"{dataset}: none of {', '.join(names)} found in {root} (see eval/README.md for the layout)")


def audio_path(root: Path, relative: str) -> Path | None:
    """`root / relative` ("./audio/x.wav" style paths from the metadata); None when the file is absent."""
    path = root / str(relative).removeprefix("./")
    return path if path.is_file() else None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_of(path: Path, known: dict[str, str]) -> str:
    """The release a metadata file is byte-identical to (`known`: sha256 prefix -> label), else its hash."""
    digest = sha256(path)
    for prefix, label in known.items():
        if digest.startswith(prefix):
            return label
    return f"unrecognised metadata (sha256 {digest[:16]})"
