"""Your own labelled audio: a folder of class folders, or a CSV of path + labels/captions."""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import audio_files, file_recipe, label_text, limited, read_csv, require
from instruction_data.clips import Clip, safe_id
from instruction_data.errors import DataError


def load_folder(root: Path, limit: int | None = None) -> list[Clip]:
    """Layout: ROOT/<class name>/**/<clip>.<wav|flac|ogg|mp3>; the folder name is the label."""
    require(root, "the class folders", "folder")
    clips = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        label = label_text(class_dir.name)
        for path in audio_files(class_dir):
            rel = path.relative_to(root).with_suffix("")
            clips.append(Clip(id=safe_id(root.name, *rel.parts), dataset=root.name, recipe=file_recipe(path),
                              labels=[label]))
    return limited(clips, limit)


def load_csv(root: Path, limit: int | None = None) -> list[Clip]:
    """Layout: a CSV with a header: `path` (relative to the CSV's folder) and any of `labels`
    (';'-separated, most specific first), `caption`, `transcript`, `speaker`, `language`,
    `group` (clips sharing it stay in one split), `split` (train/validation/test)."""
    require(root, "the CSV file", "csv")
    clips = []
    for n, row in enumerate(read_csv(root), start=2):
        if not row.get("path"):
            raise DataError(f"{root}: line {n}: field 'path': missing")
        path = root.parent / row["path"]
        labels = [label_text(x) for x in (row.get("labels") or "").split(";") if x.strip()]
        clip = Clip(id=safe_id(root.stem, Path(row["path"]).with_suffix("").as_posix()), dataset=root.stem,
                    recipe=file_recipe(path), labels=labels, caption=(row.get("caption") or "").strip(),
                    transcript=(row.get("transcript") or "").strip(), speaker=(row.get("speaker") or "").strip(),
                    language=(row.get("language") or "").strip(), group=(row.get("group") or "").strip(),
                    split_hint=(row.get("split") or None))
        if clip.transcript:
            clip.kind = "speech"
        clips.append(clip)
    return limited(clips, limit)
