"""Where converted weights live, and building a folder there atomically under a file lock.

A folder is complete only if it holds `alm_source.json` equal to the pins it was built from;
it is built in a temp folder beside the target and renamed into place, so an interrupted
build leaves no half folder, and the next run starts clean.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from alm.errors import WeightsError
from alm.files import atomic_folder

MARKER = "alm_source.json"


def alm_home() -> Path:
    """`$ALM_HOME` if set, else `~/.cache/alm`."""
    home = os.environ.get("ALM_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "alm"


def read_marker(folder: Path) -> dict | None:
    """The recorded pins of a converted folder, or None if absent or unreadable."""
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_current(folder: Path, pins: dict) -> bool:
    """True if `folder` was completely built from exactly these pins."""
    return read_marker(folder) == pins


def _remove_leftovers(target: Path) -> None:
    """Delete temp folders of earlier interrupted builds of `target` (caller holds the lock)."""
    for pattern in (f".{target.name}.*.tmp", f".{target.name}.*.old", f".{target.name}.tmp-*", f".{target.name}.old-*"):
        for stale in target.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


def build_atomically(target: Path, pins: dict, build: Callable[[Path], None]) -> bool:
    """Run `build(tmp_folder)` and move the result to `target` unless it is already current.

    Returns True if it built, False if `target` was already current (maybe built meanwhile by
    another process holding the lock).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"{target.parent}: cannot create the weights folder: {exc.strerror or exc}") from None
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if is_current(target, pins):
            return False
        _remove_leftovers(target)
        with atomic_folder(target) as tmp:  # replaces a stale build from other pins
            build(tmp)
            (tmp / MARKER).write_text(json.dumps(pins, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return True
