"""Fingerprints: of a clip's samples (cache keys) and of a folder's files (is a checkpoint still the same?)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


def waveform_digest(wave: np.ndarray) -> str:
    """sha256 (hex) of the clip's float32 samples: equal clips, equal keys, wherever they came from."""
    return hashlib.sha256(np.ascontiguousarray(wave, dtype=np.float32).tobytes()).hexdigest()


def folder_fingerprint(folder: str | Path, salt: str = "") -> str:
    """16 hex digits over the names, sizes and modification times of every file under `folder` (and `salt`):
    rewriting a checkpoint in place changes it, so caches built from the old files are not reused."""
    folder = Path(folder)
    stamps = [salt]
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        stamps.append([str(path.relative_to(folder)), st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(stamps).encode()).hexdigest()[:16]
