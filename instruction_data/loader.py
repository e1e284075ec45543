"""Loading a built corpus for training and evaluation.

`load_split("train")` returns the records of one split with audio paths made absolute;
`load_hf_dataset()` returns a `datasets.DatasetDict` (needs the `datasets` package);
`load_clips()` returns the clip table (labels, captions, transcripts) for evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from instruction_data.build.config import default_out
from instruction_data.build.splits import SPLITS
from instruction_data.errors import DataError
from instruction_data.files import read_records
from instruction_data.schema import Record


def corpus_dir(root: str | Path | None = None) -> Path:
    """The corpus folder: `root`, else the default of `alm data build`."""
    path = Path(root).expanduser() if root else default_out()
    if not (path / "manifest.json").is_file():
        raise DataError(f"{path}: no corpus here (no manifest.json); build one with `alm data build --out {path}`")
    return path


def load_split(split: str = "train", root: str | Path | None = None, *, tasks: Iterable[str] | None = None,
               stages: Iterable[str] | None = None, absolute_audio: bool = True) -> list[Record]:
    """Records of one split, optionally only some tasks/stages; `sound` paths absolute by default."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    folder = corpus_dir(root)
    records = read_records(folder / f"{split}.jsonl")
    if tasks is not None:
        wanted = set(tasks)
        records = [r for r in records if r.task in wanted]
    if stages is not None:
        wanted_stages = set(stages)
        records = [r for r in records if r.stage in wanted_stages]
    if absolute_audio:
        for r in records:
            r.sound = [str((folder / s).resolve()) for s in r.sound]
    return records


def load_clips(root: str | Path | None = None, split: str | None = None) -> list[dict[str, Any]]:
    """The clip table (`clips.jsonl`): split, audio, labels, captions, transcript, events ..."""
    folder = corpus_dir(root)
    with (folder / "clips.jsonl").open(encoding="utf-8") as fh:
        clips = [json.loads(line) for line in fh if line.strip()]
    return [c for c in clips if split is None or c["split"] == split]


def hf_row(record: Record) -> dict[str, Any]:
    """A flat row with a fixed column set (nested parts as JSON text)."""
    return {
        "id": record.id, "instruction": record.instruction, "input": record.input, "output": record.output,
        "audio_id": record.audio_id, "sound": list(record.sound), "dataset": record.dataset, "task": record.task,
        "stage": record.stage, "negative_mode": record.negative_mode or "",
        "history": json.dumps([{"instruction": t.instruction, "output": t.output} for t in record.history]),
        "metadata": json.dumps(record.metadata, ensure_ascii=False),
    }


def available_splits(root: str | Path | None = None) -> list[str]:
    """The splits a corpus has files for (older corpora have no test_ood)."""
    folder = corpus_dir(root)
    return [s for s in SPLITS if (folder / f"{s}.jsonl").is_file()]


def load_hf_dataset(root: str | Path | None = None, splits: Iterable[str] | None = None, **filters: Any):
    """A `datasets.DatasetDict` of the splits (default: all the corpus has; columns of `hf_row`; audio
    as absolute paths)."""
    try:
        import datasets
    except ImportError:
        raise DataError("load_hf_dataset needs the `datasets` package: pip install datasets==5.2.0") from None
    return datasets.DatasetDict({
        split: datasets.Dataset.from_list([hf_row(r) for r in load_split(split, root, **filters)])
        for split in (splits if splits is not None else available_splits(root))
    })
