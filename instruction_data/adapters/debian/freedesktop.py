"""freedesktop.org sound theme (`sound-theme-freedesktop`): 35 desktop event sounds; the
audio-channel-* files are a voice naming the channel ("Front left")."""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import audio_files, file_recipe
from instruction_data.adapters.debian.rules import Rule, match
from instruction_data.clips import Clip, safe_id

ROOT = Path("/usr/share/sounds/freedesktop/stereo")
LICENCE = "free (sound-theme-freedesktop; GPL-2+/CC-BY-SA/CC-BY per file)"

RULES: list[Rule] = [
    (r"^alarm-clock", "alarm clock", "An alarm clock rings."),
    (r"^audio-test-signal", "test tone", "An audio test signal."),
    (r"^bell$", "bell", "A bell rings."),
    (r"^(camera-shutter|screen-capture)", "camera shutter", "A camera shutter clicks."),
    (r"^phone-incoming-call", "ringtone", "A phone rings."),
    (r"^phone-outgoing-busy", "busy signal", "A telephone busy signal."),
    (r"^phone-outgoing-calling", "ringback tone", "A telephone ringback tone."),
    (r"^(dialog-error|dialog-warning|suspend-error)", "alert sound", "A computer alert sound."),
    (r"^trash-empty", "glass clink", "Items crash into an emptied bin."),
    (r"^audio-channel", None, ""),
    (r".", "notification chime", "A short computer notification chime."),
]


def load(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    clips = []
    for path in audio_files(root or ROOT):
        if path.stem.startswith("audio-channel-"):
            words = path.stem[len("audio-channel-"):].replace("-", " ").capitalize()
            clips.append(Clip(id=safe_id("freedesktop", path.stem), dataset="freedesktop", recipe=file_recipe(path),
                              labels=["speech"], caption=f"A voice says: \"{words}\"", transcript=words,
                              language="English", kind="speech", licence=LICENCE))
            continue
        found = match(path.stem, RULES)
        if found:
            labels, caption = found
            clips.append(Clip(id=safe_id("freedesktop", path.stem), dataset="freedesktop", recipe=file_recipe(path),
                              labels=labels, caption=caption, licence=LICENCE))
    return clips if limit is None else clips[:limit]
