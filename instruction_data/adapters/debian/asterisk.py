"""Asterisk core sound prompts (`asterisk-core-sounds-en-wav`, CC-BY-SA-3.0): one female US
English speaker (Allison), 8 kHz, with transcripts in the package's core-sounds-en.txt.gz.
Non-speech prompts ("[beep tone]") and prompts over 10 s are left out."""

from __future__ import annotations

import gzip
from pathlib import Path

from instruction_data.adapters.common import MAX_SECONDS, file_recipe
from instruction_data.clips import Clip, safe_id

ROOT = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
SPEAKER = "a woman with an American accent (Allison, the Asterisk voice)"


def read_transcripts(path: Path) -> dict[str, str]:
    """{'digits/7': 'seven', ...}"""
    opener = gzip.open if path.suffix == ".gz" else open
    out = {}
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if ":" in line and not line.startswith(";"):
                key, text = line.split(":", 1)
                out[key.strip()] = text.strip()
    return out


def load(root: Path | None = None, limit: int | None = None, transcripts: Path | None = None) -> list[Clip]:
    import soundfile as sf

    root, texts = root or ROOT, read_transcripts(transcripts or TRANSCRIPTS)
    clips = []
    for path in sorted(root.rglob("*.wav")):
        key = path.relative_to(root).with_suffix("").as_posix()
        text = texts.get(key, "")
        if not text or text.startswith("[") or sf.info(str(path)).duration > MAX_SECONDS:
            continue
        clips.append(Clip(id=safe_id("asterisk", key), dataset="asterisk", recipe=file_recipe(path),
                          labels=["speech"], caption=f"A woman says: \"{text}\"", transcript=text,
                          speaker=SPEAKER, language="English", kind="speech", licence="CC-BY-SA-3.0 (Asterisk)"))
    return clips if limit is None else clips[:limit]
