"""Tux Paint stamps (`tuxpaint-stamps-default`, GPL-2): sounds and spoken descriptions.

Each stamp NAME has NAME.txt (first line: English caption, then `LANG.utf8=caption` lines),
maybe NAME.ogg (a sound) and NAME_desc.ogg / NAME_desc_LANG.ogg (the caption spoken).
Sounds get curated labels (the caption names the picture, not always the sound); spoken
descriptions are speech with a known transcript and language. One stamp is one group.
"""

from __future__ import annotations

import re
from pathlib import Path

from instruction_data.adapters.common import file_recipe
from instruction_data.adapters.debian.rules import Rule, match
from instruction_data.clips import Clip, safe_id
from instruction_data.taxonomy import expand
from instruction_data.text import with_article

ROOT = Path("/usr/share/tuxpaint/stamps")
LICENCE = "GPL-2 (tuxpaint-stamps-default)"
LANGUAGES = {"be": "Belarusian", "bg": "Bulgarian", "ca": "Catalan", "da": "Danish", "el": "Greek",
             "es": "Spanish", "fr": "French", "lt": "Lithuanian", "nl": "Dutch", "ro": "Romanian",
             "ru": "Russian"}

# sounds whose stamp is not an animal: stem -> label, caption ("" = default caption)
SOUND_RULES: list[Rule] = [
    (r"^apple_red$", "eating", "Someone bites into a crisp apple."),
    (r"^glass$", "pouring water", "Water is poured into a glass."),
    (r"^rubberduck$", "squeak", "A rubber duck squeaks."),
    (r"^vacuum_cleaner$", "vacuum cleaner", "A vacuum cleaner is running."),
    (r"^toilet$", "toilet flush", "A toilet is flushed."),
    (r"^scissors", "scissors", "A pair of scissors snips."),
    (r"^kettle$", "kettle", "An electric kettle."),
    (r"^hammer$", "hammer", "A hammer strikes."),
    (r"^saw$", "saw", "Someone saws through wood."),
    (r"^mallet_metal$", "mallet", "A large metal mallet strikes."),
    (r"^Washing-machine$", "washing machine", "A washing machine is running."),
    (r"^cello$", "cello", "A cello plays."),
    (r"^violin$", "violin", "A violin plays."),
    (r"^bassoon$", "bassoon", "A bassoon plays."),
    (r"^cymbal_crash$", "crash cymbal", "A crash cymbal is struck."),
    (r"^drum_tomtom_floor$", "tom drum", "A floor tom drum is played."),
    (r"^drumkit$", "drum kit", "A drum kit is played."),
    (r"^camera_35mm$", "camera shutter", "A camera shutter clicks."),
    (r"^fireworks$", "fireworks", "Big fireworks explode."),
    (r"^lightningbolt$", "thunder", "Thunder rumbles after a lightning bolt."),
    (r"^firetruck$", "siren", "A fire truck drives by with its siren wailing."),
    (r"^blackcat$", "cat", "A black cat."),
]
# animal captions whose wording is not a taxonomy label
ANIMAL_LABELS = {"colorful rooster": "rooster", "brown hen": "hen", "tamworth pig": "pig", "gander": "goose",
                 "baby sheep (a lamb)": "lamb", "great blue heron": "heron", "mountaingoat": "goat",
                 "drake": "duck", "doe": "deer", "dromedary": "camel", "xanthia": "moth", "rhea": "rhea",
                 "chimpanzee": "chimpanzee", "iguana": "lizard", "toucan": "toucan"}


def read_captions(txt: Path) -> dict[str, str]:
    """{'en': 'A crow.', 'fr': 'Un corbeau.', ...} from a stamp's NAME.txt."""
    if not txt.is_file():
        return {}
    lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
    out = {"en": lines[0].strip()} if lines and "=" not in lines[0] else {}
    for line in lines[1:]:
        m = re.match(r"^([a-zA-Z_@]+)\.utf8=(.*)$", line.strip())
        if m and m.group(2).strip():
            out.setdefault(m.group(1), m.group(2).strip())
    return out


def _animal_label(caption: str, stem: str) -> str:
    text = re.sub(r"^(a|an)\s+", "", caption.strip().rstrip(".").lower()) or stem.replace("_", " ")
    return ANIMAL_LABELS.get(text, text)


def _sound_clip(path: Path, captions: dict[str, str]) -> Clip | None:
    stem, group = path.stem, f"tuxpaint:{path.with_suffix('')}"
    if "/animals/" in str(path):
        label = _animal_label(captions.get("en", ""), stem)
        labels, caption = expand([label]), f"The call of {with_article(label)}."
    else:
        found = match(stem, SOUND_RULES)
        if found is None:
            return None
        labels, caption = found
    return Clip(id=safe_id("tuxpaint", stem), dataset="tuxpaint", recipe=file_recipe(path), labels=labels,
                caption=caption, group=group, licence=LICENCE)


def _speech_clip(path: Path, lang: str, text: str, group: str) -> Clip:
    language = "English" if lang == "en" else LANGUAGES[lang]
    return Clip(id=safe_id("tuxpaint", path.stem), dataset="tuxpaint", recipe=file_recipe(path),
                labels=["speech"], caption=f"A voice says in {language}: \"{text}\"", transcript=text,
                language=language, kind="speech", group=group, licence=LICENCE)


def load(root: Path | None = None, limit: int | None = None, per_language: int = 600) -> list[Clip]:
    """Sound stamps (curated) + English descriptions + up to `per_language` descriptions per other language."""
    root = root or ROOT
    sounds, speech = [], []
    taken: dict[str, int] = {}
    seen: set[str] = set()
    for txt in sorted(root.rglob("*.txt")):
        if "/symbols/" in str(txt):
            continue
        captions, base = read_captions(txt), txt.with_suffix("")
        group = f"tuxpaint:{base}"
        sound = base.with_suffix(".ogg")
        if sound.is_file() and (clip := _sound_clip(sound, captions)):
            sounds.append(clip)
        for desc in sorted(base.parent.glob(f"{base.name}_desc*.ogg")):
            lang = desc.stem[len(base.name) + len("_desc"):].lstrip("_") or "en"
            if lang not in captions or (lang != "en" and lang not in LANGUAGES):
                continue
            if lang != "en" and taken.get(lang, 0) >= per_language:
                continue
            clip = _speech_clip(desc, lang, captions[lang], group)
            if clip.id in seen:
                continue  # two stamps of one name in different folders: the first is kept
            seen.add(clip.id)
            taken[lang] = taken.get(lang, 0) + 1
            speech.append(clip)
    # mosquito.ogg has no NAME.txt
    for extra in sorted(root.rglob("*.ogg")):
        if not extra.with_suffix(".txt").exists() and "/animals/" in str(extra) and "_desc" not in extra.stem:
            sounds.append(_sound_clip(extra, {}))
    clips = sounds + speech
    return clips if limit is None else clips[:limit]
