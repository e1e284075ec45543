"""A reader for Qt binary resource bundles (.rcc), enough to list and extract files.

Layout (Qt's rcc format, versions 1-3, big-endian): b"qres", u32 version, u32 tree offset,
u32 data offset, u32 names offset[, u32 flags]. Tree nodes are 14 bytes (v1) or 22 bytes
(v2+, an extra u64 mtime): u32 name offset, u16 flags (1 zlib, 2 directory, 4 zstd), then
for a directory u32 child count + u32 first child index, else u16 country, u16 language,
u32 data offset. A name is u16 length, u32 hash, UTF-16BE text; data is u32 size + bytes
(zlib data starts with the u32 uncompressed size, as qCompress writes it).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from instruction_data.errors import DataError

COMPRESSED, DIRECTORY, ZSTD = 1, 2, 4


class RccBundle:
    """An opened .rcc file: `members()` lists file paths, `read(path)` returns their bytes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.buf = self.path.read_bytes()
        if self.buf[:4] != b"qres":
            raise DataError(f"{self.path}: not a Qt resource bundle (no 'qres' magic)")
        self.version, self.tree, self.data, self.names = struct.unpack(">IIII", self.buf[4:20])
        self.node_size = 14 if self.version == 1 else 22
        self._index = {p: (flags, off) for p, flags, off in self._walk(0, "")}

    def _name(self, offset: int) -> str:
        p = self.names + offset
        (length,) = struct.unpack(">H", self.buf[p:p + 2])
        return self.buf[p + 6:p + 6 + 2 * length].decode("utf-16-be")

    def _walk(self, index: int, prefix: str) -> Iterator[tuple[str, int, int]]:
        p = self.tree + index * self.node_size
        name_offset, flags = struct.unpack(">IH", self.buf[p:p + 6])
        path = f"{prefix}/{self._name(name_offset)}" if index else ""
        if flags & DIRECTORY:
            count, first = struct.unpack(">II", self.buf[p + 6:p + 14])
            for child in range(first, first + count):
                yield from self._walk(child, path)
        else:
            (data_offset,) = struct.unpack(">I", self.buf[p + 10:p + 14])
            yield path, flags, data_offset

    def members(self) -> list[str]:
        return sorted(self._index)

    def read(self, member: str) -> bytes:
        if member not in self._index:
            raise DataError(f"{self.path}: no member {member}")
        flags, offset = self._index[member]
        p = self.data + offset
        (size,) = struct.unpack(">I", self.buf[p:p + 4])
        payload = self.buf[p + 4:p + 4 + size]
        if flags & ZSTD:
            raise DataError(f"{self.path}: {member} is zstd-compressed, which this reader does not support")
        if flags & COMPRESSED:
            return zlib.decompress(payload[4:])
        return payload
