"""FSD50K (Fonseca et al. 2022): 51k Freesound clips, 200 AudioSet classes.

Layout (as released): ROOT/FSD50K.ground_truth/{dev,eval}.csv (fname, labels, mids[, split]),
ROOT/FSD50K.dev_audio/<fname>.wav and ROOT/FSD50K.eval_audio/<fname>.wav. dev rows with
split=val -> validation, other dev -> train, eval -> test. Clips are cut to the first 10 s.
"""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import file_recipe, label_text, limited, read_csv, require
from instruction_data.clips import Clip, safe_id


def load(root: Path, limit: int | None = None) -> list[Clip]:
    truth = require(root / "FSD50K.ground_truth", "FSD50K.ground_truth/", "fsd50k")
    clips = []
    for part, audio_dir in (("dev", "FSD50K.dev_audio"), ("eval", "FSD50K.eval_audio")):
        meta = truth / f"{part}.csv"
        if not meta.is_file():
            continue
        for row in read_csv(meta):
            path = root / audio_dir / f"{row['fname']}.wav"
            if not path.is_file():
                continue
            split = "test" if part == "eval" else "validation" if row.get("split") == "val" else "train"
            clips.append(Clip(id=safe_id("fsd50k", row["fname"]), dataset="fsd50k", recipe=file_recipe(path),
                              labels=[label_text(x) for x in row["labels"].split(",") if x],
                              group=f"fsd50k:{row['fname']}", split_hint=split,
                              licence="FSD50K: CC0/CC-BY/CC-BY-NC per clip (see its metadata)"))
    return limited(clips, limit)
