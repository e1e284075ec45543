"""Hydrogen drum kits (`hydrogen-drumkits`, GPL / CC0 / CC-BY-SA per kit): 14 kits, each
`drumkits/<kit>/drumkit.xml` naming its instruments (Kick, Snare Rimshot, Hi-Hat Pedal ...) and
the sample files of each velocity layer. A kit is one origin; its licence is the one its
drumkit.xml states. Instruments are mapped onto the taxonomy by name.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from instruction_data.adapters.common import file_recipe
from instruction_data.adapters.debian.rules import Rule, match
from instruction_data.clips import Clip, safe_id

ROOT = Path("/usr/share/hydrogen/data/drumkits")
LICENCE = "hydrogen-drumkits: {licence}"

# matched against the lowercased instrument name
RULES: list[Rule] = [
    (r"rim ?shot|rim click|side ?stick|\bstick\b", "rimshot", "A rimshot on a snare drum."),
    (r"snare roll", "drum roll", "A snare drum roll."),
    (r"kick|bass ?drum|bassdrum", "bass drum", "A bass drum kick."),
    (r"snare", "snare drum", "A snare drum hit."),
    (r"hi-?hat|\bhh\b|\bhat\b|closed hh|open hh|pedal hh|side o?hh", "hi-hat", "A hi-hat is struck."),
    (r"splash", "splash cymbal", "A splash cymbal crashes."),
    (r"ride|paiste bell", "ride cymbal", "A ride cymbal rings."),
    (r"crash|cymbal", "crash cymbal", "A crash cymbal."),
    (r"tom", "tom drum", "A tom drum hit."),
    (r"clap", "clap", "A hand clap."),
    (r"cowbell", "cowbell", "A cowbell is struck."),
    (r"tambourine", "tambourine", "A tambourine shakes."),
    (r"marac", "maracas", "Maracas shake."),
    (r"finger snap", "finger snap", "A finger snap."),
    (r"bongo", "bongo", "A bongo drum is struck."),
    (r"conga", "conga", "A conga drum is struck."),
    (r"clave", "claves", "Claves click together."),
    (r"woodblock|wood block", "wood block", "A wood block is knocked."),
    (r"cajon", "cajon", "A cajon is struck."),
    (r"djembe", "djembe", "A djembe is struck."),
    (r"(sangban|dununba|kenkeni).*bell", "bell", "The bell of a dunun drum is struck."),
    (r"sangban|dununba|kenkeni", "dunun", "A dunun bass drum is struck."),
    (r"waterglass", "glass clink", "A glass of water is struck."),
    (r"whistle", "whistle", "A whistle is blown."),
    (r"\bzap", "zap", "An electronic zap."),
]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in node if c.tag.rsplit("}", 1)[-1] == name]


def _text(node: ET.Element, name: str) -> str:
    found = _children(node, name)
    return (found[0].text or "").strip() if found else ""


def _licence(root: ET.Element) -> str:
    text = _text(root, "license")
    return re.sub(r"\s+", " ", text)[:80] or "see /usr/share/doc/hydrogen-drumkits/copyright"


def load_kit(kit: Path) -> list[Clip]:
    try:
        root = ET.parse(kit / "drumkit.xml").getroot()
    except (ET.ParseError, OSError):
        return []
    licence = LICENCE.format(licence=_licence(root))
    lists = [n for n in root.iter() if n.tag.rsplit("}", 1)[-1] == "instrument"]
    clips, seen = [], set()
    for inst in lists:
        name = _text(inst, "name")
        hit = match(name.lower(), RULES) if name else None
        if hit is None:
            continue
        labels, caption = hit
        files = [_text(layer, "filename") for layer in _children(inst, "layer")] or [_text(inst, "filename")]
        for j, fname in enumerate(f for f in files if f):
            path = kit / fname
            if not path.is_file() or path in seen:
                continue
            seen.add(path)
            clips.append(Clip(id=safe_id("hydrogen", kit.name, name, str(j)), dataset="hydrogen",
                              recipe=file_recipe(path, end=4.0), labels=labels, caption=caption, kind="music",
                              group=f"hydrogen:{kit.name}:{name}", licence=licence, origin=f"hydrogen:{kit.name}"))
    return clips


def load(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    root = root or ROOT
    clips = [c for kit in sorted(p for p in root.iterdir() if p.is_dir()) for c in load_kit(kit)]
    return clips if limit is None else clips[:limit]
