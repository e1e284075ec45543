"""Helpers shared by the source adapters."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from instruction_data.errors import DataError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".opus")
MAX_SECONDS = 10.0  # every corpus clip is cut to at most this length


def file_recipe(path: Path | str, start: float = 0.0, end: float | None = None) -> dict[str, Any]:
    """Recipe for 'decode this file (from start to end seconds)'; cut to MAX_SECONDS."""
    end = start + MAX_SECONDS if end is None else min(end, start + MAX_SECONDS)
    return {"op": "file", "path": str(path), "start": round(float(start), 3), "end": round(float(end), 3)}


def require(path: Path, what: str, dataset: str) -> Path:
    """`path` if it exists, else a DataError saying which layout was expected."""
    if not path.exists():
        raise DataError(f"{dataset}: {what} not found at {path} (see instruction_data/README.md for the layout)")
    return path


def read_csv(path: Path, header: bool = True) -> Iterator[dict[str, str]] | Iterator[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(fh) if header else csv.reader(fh)
        yield from rows


def find_audio(folder: Path, stem: str) -> Path | None:
    """folder/stem with any audio extension (or stem itself when it has one)."""
    direct = folder / stem
    if direct.suffix.lower() in AUDIO_EXTENSIONS and direct.is_file():
        return direct
    for ext in AUDIO_EXTENSIONS:
        candidate = folder / f"{stem}{ext}"
        if candidate.is_file():
            return candidate
    return None


def audio_files(folder: Path, extensions: tuple[str, ...] = AUDIO_EXTENSIONS) -> list[Path]:
    """All audio files under `folder` (by extension), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in extensions and p.is_file())


def label_text(raw: str) -> str:
    """'Chirping_birds' -> 'chirping birds'."""
    return raw.replace("_", " ").strip().lower()


def fold_split(fold: int, validation_fold: int, test_fold: int) -> str:
    return "test" if fold == test_fold else "validation" if fold == validation_fold else "train"


def limited(items: list, limit: int | None) -> list:
    return items if limit is None else items[:limit]
