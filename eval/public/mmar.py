"""MMAR (Ma et al. 2025): 1,000 multiple-choice deep-reasoning questions on speech, sound, music
and their mixes, from real videos.

Layout (the authors' GitHub repo or Hugging Face dataset `BoJack/MMAR`, audio unpacked beside):

    ROOT/MMAR-meta.jsonl  (or the earlier ROOT/MMAR-meta.json, a JSON list)
        {"id", "audio_path": "./audio/<id>.wav", "question", "choices": [...], "answer",
         "modality": sound|music|speech|mix-sound-music|mix-sound-speech|mix-music-speech|
                     mix-sound-music-speech,
         "category": Signal|Perception|Semantic|Cultural Layer, "sub-category", "language", ...}
    ROOT/audio/<id>.wav

Scoring: `eval.metrics.token_match`; MMAR's code/evaluation.py (ddlBoJack/MMAR at
a355584b33638e48462c817a7c001db1c54f6eb2, first published at 62497000c873c52d6700622d324cfa38aba75feb)
is MMAU's `string_match` unchanged, broken down by modality, category and sub-category. Prompt:
the authors publish none; ours is `choices.text_choice_prompt`.
"""

from __future__ import annotations

from pathlib import Path

from eval.public.choices import load_mc, text_choice_prompt
from eval.public.common import Loaded

META = ("MMAR-meta.jsonl", "MMAR-meta.json")
FIELDS = ("modality", "category", "sub-category", "language")  # info kept per item; first = stratum
BREAKDOWN = ("modality", "category", "sub-category")  # the groups the authors' script reports
render = text_choice_prompt
RELEASES = {
    "1c9a343e7bebf103": "MMAR-meta.jsonl of ddlBoJack/MMAR@a355584 (2026-02-16, with rubrics)",
    "7240ecca11b252c7": "MMAR-meta.json of ddlBoJack/MMAR@6249700 (2025-05-11, first release)",
}


def load(root: str | Path) -> Loaded:
    return load_mc(Path(root), META, "mmar", "audio_path", FIELDS, RELEASES, render)
