"""Audio inside zip containers (Warzone 2100's `.wz`, UFO:AI's `.pk3`): list members, read one.

Clips from a container get the recipe `{"op": "zip", "path": container, "member": name, ...}`;
rendering reads the member's bytes and decodes them like a file.
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from instruction_data.adapters.common import AUDIO_EXTENSIONS, MAX_SECONDS
from instruction_data.errors import DataError


@lru_cache(maxsize=8)
def _open(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable zip container ({exc})") from None


def audio_members(path: str | Path) -> list[zipfile.ZipInfo]:
    """The audio files inside a container, sorted by name."""
    infos = _open(str(path)).infolist()
    return sorted((i for i in infos if not i.is_dir() and i.filename.lower().endswith(AUDIO_EXTENSIONS)),
                  key=lambda i: i.filename)


def read_member(path: str | Path, member: str) -> bytes:
    """Bytes of one member (a fresh handle each call: safe from several threads)."""
    try:
        with zipfile.ZipFile(str(path)) as z:
            return z.read(member)
    except KeyError:
        raise DataError(f"{path}: no member {member}") from None


def read_text(path: str | Path, member: str) -> str:
    return read_member(path, member).decode("utf-8", errors="replace")


def zip_recipe(path: str | Path, member: str) -> dict[str, Any]:
    return {"op": "zip", "path": str(path), "member": member, "start": 0.0, "end": MAX_SECONDS}
