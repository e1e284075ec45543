"""Paths a user gives: checked before any work, with one-line reasons (`AlmError`).

An input must be a regular file: a folder, a device (`/dev/zero`), a FIFO or a socket is named as
such instead of being read (a FIFO would block, a device never ends). An output folder must be
creatable and writable before a long job starts writing into it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from alm.errors import AlmError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a folder", "a FIFO (named pipe)", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def check_input_file(path: str | Path, what: str = "file", error: type[AlmError] = AlmError) -> Path:
    """`path` names an existing, readable, non-empty regular file (links followed); else `error`."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # too long, a NUL byte, a loop of links, no permission on a folder
        raise error(f"{path}: cannot be read ({_reason(exc)})") from None
    kind = file_kind(info.st_mode)
    if kind is not None:
        raise error(f"{path}: is {kind}, not {'an' if what[0] in 'aeiou' else 'a'} {what}")
    if info.st_size == 0:
        raise error(f"{path}: the file is empty")
    if not os.access(path, os.R_OK):
        raise error(f"{path}: no permission to read it")
    return path


def check_output_folder(path: str | Path, what: str = "output folder") -> Path:
    """`path` is (or can be made) a folder this process can write into; creates it. Else AlmError."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise AlmError(f"{what} {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".alm-write-check-"):
            pass
    except OSError as exc:
        raise AlmError(f"{what} {path}: cannot write there ({_reason(exc)})") from None
    return path


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
