"""Read a CTranslate2 `model.bin` (format version 6) into numpy arrays, without ctranslate2.

Layout, all little-endian: u32 version; str model name; u32 revision; u32 count; then per
variable: str name, u8 rank, u32 per dim, u8 dtype, u32 byte count, raw bytes; then u32 alias
count and (alias, target) str pairs. A str is a u16 length (counting a trailing NUL) + bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alm.errors import WeightsError

SUPPORTED_VERSIONS = (6,)
# CTranslate2 dtype code -> numpy dtype; bf16 has no numpy dtype and is kept as raw uint16 bits.
DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: np.dtype("<u2"),
}
BF16 = 5


@dataclass
class Ct2Model:
    """The parsed file: variables by name (aliases resolved to the same arrays) and bf16 names."""

    name: str
    revision: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    bfloat16: set[str] = field(default_factory=set)


class _Cursor:
    """Sequential little-endian reads over a buffer; running past the end is a WeightsError."""

    def __init__(self, data: bytes | memoryview, label: str) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.label = label

    def take(self, size: int) -> memoryview:
        if self.pos + size > len(self.data):
            raise WeightsError(
                f"{self.label}: truncated CTranslate2 file (needs {self.pos + size} bytes, has {len(self.data)})"
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        raw = bytes(self.take(self.unpack("H")))
        return raw.rstrip(b"\0").decode("utf-8")


def parse_model_bin(data: bytes | memoryview, label: str = "model.bin") -> Ct2Model:
    """Parse the bytes of a CTranslate2 model.bin; arrays are copies, independent of `data`."""
    cur = _Cursor(data, label)
    version = cur.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise WeightsError(f"{label}: unsupported CTranslate2 format version {version} (supported: 6)")
    model = Ct2Model(name=cur.string(), revision=cur.unpack("I"))
    for _ in range(cur.unpack("I")):
        name = cur.string()
        shape = tuple(cur.unpack("I") for _ in range(cur.unpack("B")))
        code = cur.unpack("B")
        if code not in DTYPES:
            raise WeightsError(f"{label}: variable {name!r} has unknown dtype code {code}")
        dtype = DTYPES[code]
        nbytes = cur.unpack("I")
        if nbytes != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise WeightsError(f"{label}: variable {name!r} has {nbytes} bytes for shape {shape} of {dtype}")
        model.variables[name] = np.frombuffer(cur.take(nbytes), dtype=dtype).reshape(shape).copy()
        if code == BF16:
            model.bfloat16.add(name)
    for _ in range(cur.unpack("I")):
        alias, target = cur.string(), cur.string()
        if target not in model.variables:
            raise WeightsError(f"{label}: alias {alias!r} points to missing variable {target!r}")
        model.aliases[alias] = target
        model.variables[alias] = model.variables[target]
    if cur.pos != len(cur.data):
        raise WeightsError(f"{label}: {len(cur.data) - cur.pos} unexpected bytes after the last alias")
    return model


def read_model_bin(path: str | Path) -> Ct2Model:
    """Read and parse a model.bin from disk."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_model_bin(data, str(path))
