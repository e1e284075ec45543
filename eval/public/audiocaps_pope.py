"""POPE-style object hallucination on AudioCaps (Kuan, Huang and Lee, Interspeech 2024,
arXiv 2406.08402): "Is there a sound of X?"-style yes/no questions about AudioCaps test clips,
positives from the clip's annotations and negatives sampled three ways (random, popular,
adversarial), each asked with one of five phrasings.

Layout: the authors' three Hugging Face datasets, each downloaded into a folder of its own name
(`huggingface-cli download kuanhuggingface/AudioHallucination_AudioCaps-Random --repo-type dataset
--local-dir ROOT/AudioHallucination_AudioCaps-Random`, same for -Popular, -Adversarial; a `-v2`
suffix is accepted), and the AudioCaps audio where their inference.py expects it:

    ROOT/AudioHallucination_AudioCaps-{Random,Popular,Adversarial}/**/*.parquet  (or .jsonl/.json/.csv)
        columns: entry_id, audio_index ("Y7fmOlUlwoNg"), prompt_text, object, attribute
                 (positive|negative), label (Yes|No), sampling (random|popular|adversarial)
    ROOT/audiocaps/<audio_index>.wav   (without the leading "Y" also accepted)

Prompt: each row's `prompt_text`, verbatim (the authors' inference.py sends it as is). The five
phrasings are recognised by their openings (`PROMPT_OPENINGS`, as the released rows begin; read
from third-party code that tallies them, since the paper's table was not available to us) and
numbered 0-4 for the per-prompt spread; -1 marks any other. Scoring: `eval.metrics.kuan_pope`
(the authors' interspeech2024/evaluation.py at kuan2jiu99/audio-hallucination
dd129013b0bac37de90501e5a71a4fd9594460f6).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from eval.data import AudioRef, Item
from eval.public.common import Loaded, read_records
from instruction_data.adapters.common import find_audio
from instruction_data.errors import DataError

PREFIX = "AudioHallucination_AudioCaps-"
MODES = ("random", "popular", "adversarial")
PROMPT_OPENINGS = ("Is there a sound of", "Does the audio contain the sound of", "Have you noticed the sound of",
                   "Can you hear the sound of", "Can you detect the sound of")


def prompt_index(prompt: str) -> int:
    """Which of the five phrasings a prompt uses (0-4), -1 for none of them."""
    return next((i for i, opening in enumerate(PROMPT_OPENINGS) if prompt.startswith(opening)), -1)


def _rows(folder: Path) -> list[dict[str, Any]]:
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".parquet", ".jsonl", ".json", ".csv"))
    if not files:
        raise DataError(f"audiocaps-pope: no .parquet/.jsonl/.json/.csv file under {folder}")
    rows: list[dict[str, Any]] = []
    for path in files:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows += pq.read_table(path).to_pylist()
        elif path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                rows += list(csv.DictReader(fh))
        else:
            rows += read_records(path)
    return rows


def _folders(root: Path) -> dict[str, Path]:
    """mode -> its dataset folder; one folder per mode."""
    out: dict[str, Path] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)):
        mode = folder.name[len(PREFIX):].split("-")[0].lower()
        if mode not in MODES:
            raise DataError(f"audiocaps-pope: {folder.name} is not one of the {', '.join(MODES)} sets")
        if mode in out:
            raise DataError(f"audiocaps-pope: two {mode} sets ({out[mode].name}, {folder.name}); keep one")
        out[mode] = folder
    if not out:
        raise DataError(f"audiocaps-pope: no {PREFIX}{{Random,Popular,Adversarial}} folder in {root} "
                        f"(see eval/README.md for the layout)")
    return out


def load(root: str | Path, modes: tuple[str, ...] = MODES) -> Loaded:
    root = Path(root).expanduser()
    audio_dir = root / "audiocaps"
    items, missing, sources = [], [], []
    for mode, folder in _folders(root).items():
        if mode not in modes:
            continue
        sources.append(folder.name)
        for row in _rows(folder):
            index = str(row["audio_index"])
            item_id = f"{mode}-{row['entry_id']}"
            path = find_audio(audio_dir, index) or (find_audio(audio_dir, index[1:]) if index[:1] == "Y" else None)
            if path is None:
                missing.append(item_id)
                continue
            answer = str(row["label"]).strip().lower()
            ref = {"answer": answer, "label": str(row["label"]), "mode": str(row.get("sampling") or mode).lower(),
                   "asked": row.get("object", ""), "prompt_index": prompt_index(str(row["prompt_text"]))}
            items.append(Item(item_id, [AudioRef(str(path))], str(row["prompt_text"]), ref,
                              stratum=f"{ref['mode']}/{answer}",
                              info={"dataset": "audiocaps-pope", "audio_index": index,
                                    "attribute": row.get("attribute", "")}))
    return Loaded(items, f"{root}: {', '.join(sources)}", missing_audio=missing)
