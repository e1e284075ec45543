"""AIR-Bench Foundation (Yang et al., ACL 2024): about 19k single-choice questions over 19
speech, sound and music tasks, two to four choices each.

Layout (the authors' release, linked from OFA-Sys/AIR-Bench; `Foundation/` of the Hugging Face
dataset `qyang1021/AIR-Bench-Dataset`):

    ROOT/Foundation_meta.json   [{"path", "question", "choice_a", "choice_b", "choice_c"?, "choice_d"?,
                                  "answer_gt", "task_name", "dataset_name", "uniq_id"}]
    ROOT/<task_name>_<dataset_name>/<path>    (Audio_Grounding: <path> with its extension made .flac)

Prompt and audio paths as in the authors' Inference_Foundation.py (OFA-Sys/AIR-Bench at
983247666e2a25519b5c122810c2bcd91f26fd8d, file last changed in 8d217d6f366930656f6419992ed3edf3a7a93824),
including its "C. None" / "D. None" lines for questions with two choices. Scoring:
`eval.metrics.air_bench` (their score_foundation.py).
"""

from __future__ import annotations

from pathlib import Path

from eval.data import AudioRef, Item
from eval.public.choices import mc_reference
from eval.public.common import Loaded, audio_path, first_file, read_records

META = ("Foundation_meta.json",)
LETTERS = "ABCD"
INSTRUCTION = ("Choose the most suitable answer from options A, B, C, and D to respond the question in next line, "
               "you may only choose A or B or C or D.")


def render(question: str, choices: list[str]) -> str:
    """The authors' prompt: instruction, question, then "A. .." to "D. .." (absent choices print None)."""
    padded = list(choices) + [None] * (len(LETTERS) - len(choices))
    return f"{INSTRUCTION}\n{question}\n" + "\n".join(f"{letter}. {c}" for letter, c in zip(LETTERS, padded))


def _relative(rec: dict) -> str:
    folder = f"{rec['task_name']}_{rec['dataset_name']}"
    if rec["task_name"] == "Audio_Grounding":
        return f"{folder}/{rec['path']}"[:-3] + "flac"
    return f"{folder}/{rec['path']}"


def load(root: str | Path) -> Loaded:
    meta = first_file(Path(root), META, "air-bench")
    items, missing = [], []
    for rec in read_records(meta):
        choices = [rec[f"choice_{x}"] for x in "abcd" if rec.get(f"choice_{x}") is not None]
        ref = mc_reference(rec["question"], choices, rec["answer_gt"], f"{meta} item {rec['uniq_id']}")
        path = audio_path(meta.parent, _relative(rec))
        if path is None:
            missing.append(str(rec["uniq_id"]))
            continue
        info = {"dataset": "air-bench-foundation", "task_name": rec["task_name"],
                "dataset_name": rec["dataset_name"], "task": f"{rec['task_name']}_{rec['dataset_name']}"}
        items.append(Item(str(rec["uniq_id"]), [AudioRef(str(path))], render(ref["question"], ref["choices"]), ref,
                          stratum=rec["task_name"], info=info))
    return Loaded(items, str(meta), missing_audio=missing)
