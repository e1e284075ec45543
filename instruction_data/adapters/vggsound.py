"""VGGSound (Chen et al. 2020): 10 s YouTube clips, 309 classes.

Layout: ROOT/vggsound.csv as released (no header: youtube_id, start_seconds, label, split
train|test) and the audio you extracted in ROOT/audio/<youtube_id>_<start:06d>.<wav|flac|...>
(e.g. `--_aCDgCq8YY_000030.wav`; an unpadded start is accepted too). Rows without audio are
skipped; 5% of train videos (by id) form the validation split.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from instruction_data.adapters.common import file_recipe, find_audio, label_text, limited, read_csv, require
from instruction_data.clips import Clip, safe_id


def load(root: Path, limit: int | None = None) -> list[Clip]:
    meta = require(root / "vggsound.csv", "vggsound.csv", "vggsound")
    clips = []
    for row in read_csv(meta, header=False):
        if len(row) < 4:
            continue
        vid, start, label, split = row[0], int(row[1]), row[2], row[3].strip()
        path = find_audio(root / "audio", f"{vid}_{start:06d}") or find_audio(root / "audio", f"{vid}_{start}")
        if path is None:
            continue
        if split == "train" and zlib.crc32(vid.encode()) % 20 == 0:
            split = "validation"
        clips.append(Clip(id=safe_id("vggsound", f"{vid}_{start}"), dataset="vggsound", recipe=file_recipe(path),
                          labels=[label_text(label)], group=f"yt:{vid}", split_hint=split,
                          licence="VGGSound annotations CC-BY-4.0; audio from YouTube"))
    return limited(clips, limit)
