"""Human voices in two KDE education games, each language folder one set of speakers.

- KTuberling (`ktuberling-data`, GPL-2+ / CC-BY / CC0): object names spoken in 25 languages;
  `sounds/<lang>.soundtheme` maps an English object name to `<lang>/<file>`. English clips get
  the name as transcript; other languages get only the language (the words themselves are not
  in the package, and a caption glossing the English name would describe words the clip does
  not say).
- KLettres (`klettres-data`, GPL-2+ / CC0): letters and syllables spoken in 22 languages;
  `<lang>/sounds.xml` names each file's letter or syllable, which is its exact transcript.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from instruction_data.adapters.common import file_recipe
from instruction_data.adapters.debian.languages import language_name
from instruction_data.clips import Clip, safe_id

KTUBERLING_ROOT = Path("/usr/share/ktuberling/sounds")
KLETTRES_ROOT = Path("/usr/share/klettres")
KTUBERLING_LICENCE = "GPL-2+ / CC-BY / CC0 (ktuberling-data)"
KLETTRES_LICENCE = "GPL-2+ / CC0 (klettres-data)"
# ktuberling object names whose words differ from the name
SPOKEN = {"fallingstar": "falling star", "palmtree": "palm tree", "sphynx": "sphinx", "brocolli": "broccoli",
          "moonwalker": "moon walker"}


def _sounds(xml_text: str) -> list[tuple[str, str]]:
    """(name, file) of every <sound name=... file=...> element (the files are not always valid XML)."""
    try:
        root = ET.fromstring(xml_text)
        return [(e.get("name", ""), e.get("file", "")) for e in root.iter("sound")]
    except ET.ParseError:
        return re.findall(r'<sound\s+name="([^"]*)"\s+file="([^"]*)"', xml_text)


def ktuberling_word(name: str) -> str:
    """'moon_fallingstar' -> 'falling star', 'egypt_palmtree' -> 'palm tree', 'ball' -> 'ball'."""
    word = name.split("_", 1)[1] if "_" in name else name
    return SPOKEN.get(word, word.replace("_", " "))


def load_ktuberling(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    root = root or KTUBERLING_ROOT
    clips, seen = [], set()
    for theme in sorted(root.glob("*.soundtheme")):
        code = theme.stem
        language = language_name(code)
        if not language:
            continue
        for name, rel in _sounds(theme.read_text(encoding="utf-8", errors="replace")):
            path = root / rel
            if not name or not path.is_file() or not rel.startswith(f"{code}/"):
                continue  # a theme may borrow another language's recording: that one is read there
            cid = safe_id("ktuberling", code, Path(rel).stem)
            if cid in seen:
                continue
            seen.add(cid)
            word = ktuberling_word(name)
            english = language == "English"
            caption = f"A voice says: \"{word}\"" if english else f"A voice says a word in {language}."
            clips.append(Clip(id=cid, dataset="ktuberling",
                              recipe=file_recipe(path), labels=["speech"], caption=caption,
                              transcript=word if english else "", language=language, kind="speech",
                              group=f"ktuberling:{code}:{name}", licence=KTUBERLING_LICENCE,
                              origin=f"ktuberling:{code}"))
    return clips if limit is None else clips[:limit]


def load_klettres(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    root = root or KLETTRES_ROOT
    clips, seen = [], set()
    for xml in sorted(root.glob("*/sounds.xml")):
        code = xml.parent.name
        language = language_name(code)
        if not language:
            continue
        for name, rel in _sounds(xml.read_text(encoding="utf-8", errors="replace")):
            path = root / rel
            if not name.strip() or not path.is_file() or not rel.startswith(f"{code}/"):
                continue
            cid = safe_id("klettres", code, Path(rel).parent.name, Path(rel).stem)
            if cid in seen:
                continue  # one recording listed under two names (e.g. a letter and a syllable): the first wins
            seen.add(cid)
            text = name.strip()
            what = "letter" if "/alpha/" in rel else "syllable"
            text = text if what == "letter" else text.lower()
            clips.append(Clip(id=cid, dataset="klettres", recipe=file_recipe(path), labels=["speech"],
                              caption=f"A voice says in {language}: \"{text}\"", transcript=text,
                              language=language, kind="speech", group=f"klettres:{rel}",
                              licence=KLETTRES_LICENCE, origin=f"klettres:{code}"))
    return clips if limit is None else clips[:limit]
