"""Speech Commands v0.02 (Warden 2018): one-second spoken words, 35 words.

Layout (the archive as released): ROOT/<word>/<speaker>_nohash_<n>.wav, with
ROOT/validation_list.txt and ROOT/testing_list.txt naming the files of those splits;
`_background_noise_` is ignored. Each clip's transcript is its word; one speaker's clips
share a group (the official lists already split by speaker).
"""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import file_recipe, limited, require
from instruction_data.clips import Clip, safe_id


def _listed(root: Path, name: str) -> set[str]:
    path = root / name
    return set(path.read_text().split()) if path.is_file() else set()


def load(root: Path, limit: int | None = None) -> list[Clip]:
    require(root, "the Speech Commands folder", "speech_commands")
    validation, test = _listed(root, "validation_list.txt"), _listed(root, "testing_list.txt")
    clips = []
    for word_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        for path in sorted(word_dir.glob("*.wav")):
            rel = f"{word_dir.name}/{path.name}"
            speaker = path.name.split("_nohash_")[0]
            split = "validation" if rel in validation else "test" if rel in test else "train"
            clips.append(Clip(id=safe_id("speech_commands", word_dir.name, path.stem), dataset="speech_commands",
                              recipe=file_recipe(path), labels=["speech"], transcript=word_dir.name,
                              kind="speech", language="English", group=f"speech_commands:{speaker}",
                              split_hint=split, licence="CC-BY-4.0 (Speech Commands)"))
    return limited(clips, limit)
