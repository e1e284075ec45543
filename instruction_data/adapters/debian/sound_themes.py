"""Desktop sound themes other than freedesktop's: Ubuntu's Yaru (`yaru-theme-sound`), Deepin's
(`deepin-sound-theme`) and KDE's Oxygen (`oxygen-sounds`). Each is its own recording source of the
notification chimes, alerts, ringtones and camera shutters that the freedesktop theme (held out as
test_ood) also holds. Yaru and Deepin name their files by the freedesktop sound naming spec; Oxygen by
event ("Oxygen-Im-Message-In"). Events whose sound a name does not settle (an emptied bin, a moved
window) are left out rather than guessed.
"""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import AUDIO_EXTENSIONS, file_recipe, limited
from instruction_data.adapters.debian.rules import Found, Rule, file_content, rule_clips
from instruction_data.clips import Clip

SOUNDS = Path("/usr/share/sounds")
YARU = SOUNDS / "Yaru" / "stereo"
DEEPIN = SOUNDS / "deepin" / "stereo"
OXYGEN = SOUNDS  # Oxygen-*.ogg lie at the top of the shared folder, beside the other themes' folders
YARU_LICENCE = "CC-BY-SA-4.0 (yaru-theme-sound)"
DEEPIN_LICENCE = "GPL-3 (deepin-sound-theme)"
OXYGEN_LICENCE = "LGPL-3.0-or-later (oxygen-sounds)"

# freedesktop sound-naming-spec names (the stem of each file)
SPEC_RULES: list[Rule] = [
    (r"^(camera-shutter|screen-capture)$", "camera shutter", "A camera shutter clicks."),
    (r"^bell", "bell", "A bell rings."),
    (r"^phone-incoming-call", "ringtone", "A phone rings."),
    (r"^(dialog-error|dialog-warning|battery-low|power-unplug-battery-low|suspend-error)", "alert sound",
     "A computer alert sound."),
    (r"^trash-empty", None, ""),
    (r".", "notification chime", "A short computer notification chime."),
]
OXYGEN_RULES: list[Rule] = [
    (r"Phone-Ring", "ringtone", "A phone rings."),
    (r"(Error|Warning|Cant-Connect|Connection-Lost|Network-Problems|Negative|Match-No|Foes)", "alert sound",
     "A computer alert sound."),
    (r"(Window-|Trash)", None, ""),
    (r".", "notification chime", "A short computer notification chime."),
]


def _found(files: list[Path]) -> list[Found]:
    return [Found(key=p.stem, recipe=file_recipe(p), content=file_content(p)) for p in files]


def _spec_theme(dataset: str, folder: Path, licence: str, limit: int | None) -> list[Clip]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    return limited(rule_clips(dataset, _found(files), SPEC_RULES, licence), limit)


def load_yaru(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    return _spec_theme("yaru_sounds", root or YARU, YARU_LICENCE, limit)


def load_deepin(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    return _spec_theme("deepin_sounds", root or DEEPIN, DEEPIN_LICENCE, limit)


def load_oxygen(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    files = sorted((root or OXYGEN).glob("Oxygen-*.ogg"))
    return limited(rule_clips("oxygen_sounds", _found(files), OXYGEN_RULES, OXYGEN_LICENCE), limit)
