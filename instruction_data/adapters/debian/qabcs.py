"""qABCs (`qabcs-data`, GPL-3+): an alphabet game's named noises and spoken words.

`abcs/LANG/abc1.properties` holds lines `CATEGORY:LETTER=WORD=HINT=ENGLISH[=NOISE]` (HINT, a syllable split, is
often empty): per letter and category (animals, instrument, misc, toys, food) a word spoken in LANG, recorded as
`abcs/LANG/sounds/words/WORD.ogg` in the languages that ship recordings, and, except for food, a noise
`abcs/all/noises/NOISE.ogg`. A noise is labelled only where its name says what sounds: an animal's name that is a
taxonomy animal under `animals`, an instrument's under `instrument`, and a short list of machines and things (a
helicopter, a train, a clock) anywhere; flags, toys, cartoon characters and names the taxonomy lacks are left out.
Spoken words are speech whose transcript is the word, one speaker per language (`origin` qabcs:LANG).
"""

from __future__ import annotations

import re
from pathlib import Path

from instruction_data.adapters.common import file_recipe
from instruction_data.adapters.debian.languages import language_name
from instruction_data.clips import Clip, safe_id
from instruction_data.taxonomy import PARENT, ancestors, expand
from instruction_data.text import default_caption

ROOT = Path("/usr/share/qabcs/abcs")
LICENCE = "GPL-3+ (qabcs-data)"
LINE = re.compile(r"^(?P<category>[a-z]+):[^=]*=(?P<word>[^=]*)=[^=]*=(?P<english>[^=]*)(?:=(?P<noise>[^=]*))?$")

# noise names that are not the taxonomy's word for their sound
ALIASES = {"calf": "cow", "foal": "horse", "eagle-owl": "owl", "grand_piano": "piano", "little_monkey": "monkey",
           "western_concert_flute": "flute", "natural_horn": "horn", "squeezebox": "accordion",
           "wood_grouse": "bird", "guinea_fowl": "bird", "pheasant": "bird", "quail": "bird", "sparrow": "bird",
           "stork": "bird", "albatross": "bird", "flamingo": "bird", "pelican": "bird", "emu": "bird",
           "hamster": "rodent", "chinchilla": "rodent", "jerboa": "rodent", "porcupine": "rodent"}
# labels a noise of any category may carry: things whose name is their sound
THINGS = {"airplane", "helicopter", "train", "rocket", "whistle", "fire", "clock ticking", "camera shutter"}
THING_ALIASES = {"clock": "clock ticking", "watch": "clock ticking", "camera_lens": "camera shutter"}
KIND = {"animals": "animal", "instrument": "musical instrument"}


def entries(properties: Path) -> list[dict[str, str]]:
    """The category, word, English name and noise (if any) of every item line of one language's file, then those of
    the file it names in `inheritsFrom:` (en_gb inherits en's items and records only the words it says otherwise)."""
    out, parent = [], None
    for line in properties.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("inheritsFrom:"):
            parent = properties.parent.parent / line.split(":", 1)[1].strip()
        elif m := LINE.match(line.strip()):
            out.append({k: (v or "").strip() for k, v in m.groupdict().items()})
    if parent is not None and parent.is_file() and parent != properties:
        out += entries(parent)
    return out


def noise_label(category: str, noise: str) -> str | None:
    """The most specific label of a noise, or None where its name does not say what sounds."""
    name = noise.replace("_", " ")
    if noise in THING_ALIASES or name in THINGS:
        return THING_ALIASES.get(noise, name)
    label = ALIASES.get(noise, name)
    kind = KIND.get(category)
    if kind and label in PARENT and kind in ancestors(label):
        return label
    return None


def _word_file(folder: Path, word: str) -> Path | None:
    for stem in dict.fromkeys((word, word.lower(), word.replace(" ", "_"), word.lower().replace(" ", "_"))):
        if (path := folder / f"{stem}.ogg").is_file():
            return path
    return None


def load(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    """The labelled noises (each once, whichever language's file names it first), then every language's words."""
    root = root or ROOT
    noises: dict[str, Clip] = {}
    words: dict[str, Clip] = {}  # by id: a word listed under two letters is read once
    for properties in sorted(root.glob("*/abc*.properties")):
        code = properties.parent.name
        language = language_name(code.split("_")[0])
        folder = properties.parent / "sounds" / "words"
        for entry in entries(properties):
            noise = entry["noise"]
            if noise and noise not in noises and (label := noise_label(entry["category"], noise)):
                path = root / "all" / "noises" / f"{noise}.ogg"
                if path.is_file():
                    noises[noise] = Clip(id=safe_id("qabcs", noise), dataset="qabcs", recipe=file_recipe(path),
                                         labels=expand([label]), caption=default_caption(label),
                                         group=f"qabcs:noise:{noise}", licence=LICENCE)
            word = entry["word"].replace("_", " ").lower()
            if not language or not word or not folder.is_dir() or not (path := _word_file(folder, entry["word"])):
                continue
            cid = safe_id("qabcs", code, entry["category"], entry["english"])  # ASCII, where the word may not be
            words.setdefault(cid, Clip(id=cid, dataset="qabcs", recipe=file_recipe(path), labels=["speech"],
                                       caption=f"A voice says in {language}: \"{word}\"", transcript=word,
                                       language=language, kind="speech", group=f"qabcs:{code}:{path.stem}",
                                       licence=LICENCE, origin=f"qabcs:{code}"))
    clips = [*noises.values(), *words.values()]
    return clips if limit is None else clips[:limit]
