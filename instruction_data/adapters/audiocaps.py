"""AudioCaps (Kim et al. 2019): AudioSet clips with human captions.

Layout: ROOT/{train,val,test}.csv (audiocap_id, youtube_id, start_time, caption) as released,
and the audio you obtained in ROOT/audio/{train,val,test}/<youtube_id>.<wav|flac|ogg|mp3>
(a leading 'Y' on the file name is accepted). Captions of one video are merged into one
clip; rows without audio are skipped.
"""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import file_recipe, find_audio, limited, read_csv, require
from instruction_data.clips import Clip, safe_id

SPLITS = {"train": "train", "val": "validation", "test": "test"}


def load(root: Path, limit: int | None = None) -> list[Clip]:
    require(root, "the AudioCaps folder", "audiocaps")
    clips: dict[str, Clip] = {}
    for name, split in SPLITS.items():
        meta = root / f"{name}.csv"
        if not meta.is_file():
            continue
        for row in read_csv(meta):
            vid, caption = row["youtube_id"], row["caption"].strip()
            if vid in clips:
                clips[vid].captions.append(caption)
                continue
            folder = root / "audio" / name
            path = find_audio(folder, vid) or find_audio(folder, f"Y{vid}")
            if path is None:
                continue
            clips[vid] = Clip(id=safe_id("audiocaps", vid), dataset="audiocaps", recipe=file_recipe(path),
                              caption=caption, group=f"yt:{vid}", split_hint=split,
                              licence="CC-BY-4.0 captions (AudioCaps); audio from YouTube")
    if not clips:
        require(root / "train.csv", "train.csv", "audiocaps")
    return limited(list(clips.values()), limit)
