"""UrbanSound8K (Salamon et al. 2014): 8,732 clips (<= 4 s), 10 urban classes, 10 folds.

Layout (the release as is): ROOT/metadata/UrbanSound8K.csv (slice_file_name, fsID, start,
end, salience, fold, classID, class) and ROOT/audio/fold<N>/<slice_file_name>. Folds 1-8 ->
train, 9 -> validation, 10 -> test; slices of one recording (`fsID`) share a group.
"""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import file_recipe, fold_split, label_text, limited, read_csv, require
from instruction_data.clips import Clip, safe_id


def load(root: Path, limit: int | None = None) -> list[Clip]:
    meta = require(root / "metadata" / "UrbanSound8K.csv", "metadata/UrbanSound8K.csv", "urbansound8k")
    clips = []
    for row in read_csv(meta):
        path = root / "audio" / f"fold{row['fold']}" / row["slice_file_name"]
        if not path.is_file():
            continue
        clips.append(Clip(id=safe_id("us8k", Path(row["slice_file_name"]).stem), dataset="urbansound8k",
                          recipe=file_recipe(path), labels=[label_text(row["class"])],
                          group=f"us8k:{row['fsID']}", split_hint=fold_split(int(row["fold"]), 9, 10),
                          licence="CC-BY-NC-3.0 (UrbanSound8K)"))
    return limited(clips, limit)
