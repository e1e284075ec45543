"""ESC-50 (Piczak 2015): 2,000 five-second clips, 50 classes, 5 folds.

Layout (the GitHub release as is): ROOT/meta/esc50.csv (filename, fold, target, category,
esc10, src_file, take) and ROOT/audio/<filename>.wav. Folds 1-3 -> train, 4 -> validation,
5 -> test; clips cut from one freesound recording (`src_file`) share a group.
"""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import file_recipe, fold_split, label_text, limited, read_csv, require
from instruction_data.clips import Clip, safe_id


def load(root: Path, limit: int | None = None) -> list[Clip]:
    meta = require(root / "meta" / "esc50.csv", "meta/esc50.csv", "esc50")
    audio = require(root / "audio", "the audio folder", "esc50")
    clips = []
    for row in read_csv(meta):
        path = audio / row["filename"]
        if not path.is_file():
            continue
        clips.append(Clip(id=safe_id("esc50", Path(row["filename"]).stem), dataset="esc50",
                          recipe=file_recipe(path), labels=[label_text(row["category"])],
                          group=f"esc50:{row['src_file']}", split_hint=fold_split(int(row["fold"]), 4, 5),
                          licence="CC-BY-NC-3.0 (ESC-50)"))
    return limited(clips, limit)
