"""Clotho (Drossos et al. 2020) captions and Clotho-AQA (Lipping et al. 2022) questions.

Clotho layout (as released): ROOT/clotho_captions_{development,validation,evaluation}.csv
(file_name, caption_1 .. caption_5) and the audio in ROOT/{development,validation,evaluation}/.
Clotho-AQA layout: ROOT/clotho_aqa_{train,val,test}.csv (file_name, QuestionText, answer,
confidence; three annotator rows per question) and ROOT/audio_files/<file_name>. The majority
answer of each question is kept. Clips are cut to the first 10 s.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from instruction_data.adapters.common import file_recipe, limited, read_csv, require
from instruction_data.clips import Clip, safe_id

CLOTHO_SPLITS = {"development": "train", "validation": "validation", "evaluation": "test"}
AQA_SPLITS = {"train": "train", "val": "validation", "test": "test"}


def load(root: Path, limit: int | None = None) -> list[Clip]:
    require(root, "the Clotho folder", "clotho")
    clips = []
    for name, split in CLOTHO_SPLITS.items():
        meta = root / f"clotho_captions_{name}.csv"
        if not meta.is_file():
            continue
        for row in read_csv(meta):
            path = root / name / row["file_name"]
            captions = [row[k].strip() for k in sorted(row) if k.startswith("caption") and row[k].strip()]
            if not path.is_file() or not captions:
                continue
            clips.append(Clip(id=safe_id("clotho", Path(row["file_name"]).stem), dataset="clotho",
                              recipe=file_recipe(path), caption=captions[0], captions=captions,
                              group=f"clotho:{row['file_name']}", split_hint=split,
                              licence="Clotho: audio CC-BY (Freesound), captions Tampere University"))
    if not clips:
        require(root / "clotho_captions_development.csv", "clotho_captions_development.csv", "clotho")
    return limited(clips, limit)


def load_aqa(root: Path, limit: int | None = None) -> list[Clip]:
    require(root, "the Clotho-AQA folder", "clotho_aqa")
    clips = []
    for name, split in AQA_SPLITS.items():
        meta = root / f"clotho_aqa_{name}.csv"
        if not meta.is_file():
            continue
        answers: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        for row in read_csv(meta):
            answers[row["file_name"]][row["QuestionText"].strip()][row["answer"].strip().lower()] += 1
        for file_name, questions in answers.items():
            path = root / "audio_files" / file_name
            if not path.is_file():
                continue
            qa = [{"question": q, "answer": c.most_common(1)[0][0]} for q, c in questions.items()]
            clips.append(Clip(id=safe_id("clotho_aqa", Path(file_name).stem), dataset="clotho_aqa",
                              recipe=file_recipe(path), qa=qa, group=f"clotho:{file_name}", split_hint=split,
                              licence="Clotho-AQA: audio CC-BY (Freesound), annotations CC-BY-4.0"))
    if not clips:
        require(root / "clotho_aqa_train.csv", "clotho_aqa_train.csv", "clotho_aqa")
    return limited(clips, limit)
