"""CMM, The Curse of Multi-Modalities (Leng et al. 2024): yes/no existence probes, one about a
present and one about an absent object or event per sample, over video, audio and both.

Layout (Hugging Face dataset `DAMO-NLP-SG/CMM`, `reorg_raw_files.zip` unpacked beside the JSON):

    ROOT/all_data_final_reorg.json   [{"category", "sub_category", "modality", "granularity",
                                       "correlation_type", "video_path", "audio_path", "question",
                                       "answer": yes|no}]  (a JSON list or JSON lines)
    ROOT/reorg_raw_files/inter-modality_spurious_correlation/{audio-language,visual-language,...}/...
    ROOT/reorg_raw_files/over-reliance_unimodal_priors/overrely_*/...

Fields as in the authors' example `evaluation/final_output.json` (DAMO-NLP-SG/CMM at
6a59258fc24ce3ec4b13a3a8371ed427aebb3b2c), whose paths start `./raw_files/`; such paths are also
looked up under `reorg_raw_files/`. An audio-only model can only be asked the probes that come with
an audio file and no video: the others are counted in `Loaded.skipped["needs video"]`.
Prompt: the record's question as published ("Did you hear [event] in the audio? Answer with yes or
no.", the README's pinned form). Scoring: `eval.metrics.cmm`.
"""

from __future__ import annotations

from pathlib import Path

from eval.data import AudioRef, Item
from eval.public.common import Loaded, audio_path, first_file, read_records
from instruction_data.clips import safe_id

META = ("all_data_final_reorg.json",)
FIELDS = ("category", "sub_category", "modality", "granularity", "correlation_type")  # kept in info


def _audio(root: Path, relative: str) -> Path | None:
    found = audio_path(root, relative)
    rest = str(relative).removeprefix("./")
    if found is None and rest.startswith("raw_files/"):
        found = audio_path(root, "reorg_" + rest)
    return found


def load(root: str | Path) -> Loaded:
    meta = first_file(Path(root), META, "cmm")
    items, missing, skipped = [], [], {}
    for n, rec in enumerate(read_records(meta)):
        if rec.get("video_path") or not rec.get("audio_path"):
            skipped["needs video"] = skipped.get("needs video", 0) + 1
            continue
        item_id = safe_id(f"{n:04d}", Path(rec["audio_path"]).stem)
        path = _audio(meta.parent, rec["audio_path"])
        if path is None:
            missing.append(item_id)
            continue
        info = {"dataset": "cmm", **{f: rec.get(f) for f in FIELDS}}
        answer = str(rec["answer"])
        items.append(Item(item_id, [AudioRef(str(path))], rec["question"], {"answer": answer},
                          stratum=f"{rec.get('sub_category')}/{answer.strip().lower()}", info=info))
    return Loaded(items, str(meta), missing_audio=missing, skipped=skipped)
