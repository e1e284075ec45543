"""MMAU test-mini (Sakshi et al. 2024), release v05.15.25: 1,000 multiple-choice questions
(mostly 4 choices; some 2, 5 or 8) on sound, music and speech, with answers.

Layout (the JSON of the authors' GitHub repo, with the test-mini audio archive of their Hugging
Face dataset `gamma-lab-umd/MMAU-test-mini` unpacked beside it so that each `audio_id` resolves):

    ROOT/mmau-test-mini.json        [{"id", "audio_id": "./test-mini-audios/<id>.wav", "question",
                                      "choices": [...], "answer", "dataset", "task": sound|music|speech,
                                      "split", "category", "sub-category", "difficulty": easy|medium|hard}]
    ROOT/test-mini-audios/<id>.wav

Scoring: `eval.metrics.token_match` (the authors' `string_match`, Sakshi113/MMAU evaluation.py as of
74682927cf7f434cc9ed585b1f8a5e6150381e91, unchanged up to 110127f54c0dfba3faa5ec9feee4a7e4148679c5),
broken down by task, difficulty and sub-category as that script prints. Prompt: the authors
publish none; ours is `choices.text_choice_prompt`. `category` is a list in 13 items of the
release; it is read as its first element. The 9,000-question test split has no answers (the
authors score it on their server), so it is refused.
"""

from __future__ import annotations

from pathlib import Path

from eval.public.choices import load_mc, text_choice_prompt
from eval.public.common import Loaded

META = ("mmau-test-mini.json",)
FIELDS = ("task", "difficulty", "sub-category", "category")  # info kept per item; first = stratum
BREAKDOWN = ("task", "difficulty", "sub-category")  # the groups the authors' script reports
render = text_choice_prompt
# sha256 prefix of mmau-test-mini.json -> the Sakshi113/MMAU commit that holds it byte for byte
RELEASES = {
    "d35ec10bc3097fc6": "v05.15.25 as first released (Sakshi113/MMAU@6674fa1, 2025-05-15)",
    "9da96f00e43890ad": "v05.15.25, revision of 2025-05-16 (Sakshi113/MMAU@f2017e3)",
    "ea9f3f53085a2dfc": "v05.15.25, revision of 2025-05-16 (Sakshi113/MMAU@2dcf44d)",
    "cafecebbb4e48b9e": "v05.15.25, revision of 2025-05-18 (Sakshi113/MMAU@77fbb89)",
    "cc59d9e3fad1a675": "v05.15.25, revision of 2025-05-19 (Sakshi113/MMAU@8f62d71)",
    "157f1968a686c9e7": "v05.15.25, revision of 2025-05-22 (Sakshi113/MMAU@65c0574)",
    "e0042de8b9949253": "v05.15.25, revision of 2025-05-24 (Sakshi113/MMAU@8415fc1)",
    "0bbabee60dcbd768": "v05.15.25, revision of 2025-05-30 (Sakshi113/MMAU@0a30c30)",
    "5c63fe8f2de12e84": "v05.15.25, revision of 2025-06-23 (Sakshi113/MMAU@b070fb3)",
    "3940399a013d5f6d": "v05.15.25, revision of 2025-06-23 (Sakshi113/MMAU@82f34fd)",
    "9f18fda99f8dbc2b": "v05.15.25, revision of 2025-08-09 (Sakshi113/MMAU@f0a4a97, latest checked)",
    "e8cc09223b497191": "release before v05.15.25 (Sakshi113/MMAU@1f675a9, 2025-03-25)",
}


def load(root: str | Path) -> Loaded:
    return load_mc(Path(root), META, "mmau-test-mini", "audio_id", FIELDS, RELEASES, render)
