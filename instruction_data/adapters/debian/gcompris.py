"""GCompris sounds (`gcompris-qt-data`, GPL-3 / CC-BY-SA / Free Art), read from its Qt .rcc
bundles: musical instruments, farm animals, world music by region, and sound effects."""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import MAX_SECONDS
from instruction_data.adapters.debian.rcc import RccBundle
from instruction_data.adapters.debian.rules import Rule, match
from instruction_data.clips import Clip, safe_id
from instruction_data.taxonomy import expand

ROOT = Path("/usr/share/gcompris-qt/rcc")
LICENCE = "GPL-3 / CC-BY-SA / Free Art (gcompris-qt-data)"
INSTRUMENTS = {"snare_drum": "snare drum", "electric_guitar": "electric guitar", "drum_kit": "drum kit",
               "flute_traversiere": "flute", "bongo": "bongo"}
REGIONS = {"australia": "Australia", "japan": "Japan", "middleeast": "the Middle East", "italy": "Italy",
           "ireland": "Ireland", "america": "America", "africa": "Africa", "mexico": "Mexico"}

# matched against "bundle/stem"
RULES: list[Rule] = [
    (r"^explore_farm_animals/chickens", "chickens", "Chickens cluck."),
    (r"^memory-sound/.*CarEngine", "car engine", "A car engine starts and stops."),
    (r"^memory-sound/.*Fireballs", "whoosh", "Fireballs whoosh past."),
    (r"^memory-sound/.*Object_falling", "object falling", "An object falls to the ground."),
    (r"^memory-sound/.*gong", "gong", "A Buddhist gong resonates."),
    (r"^memory-sound/guitar", "acoustic guitar", "A guitar plays."),
    (r"^memory-sound/.*Factory_noise", "factory noise", "Noise from a factory."),
    (r"^memory-sound/.*Door_Open", "door", "A door opens."),
    (r"^memory-sound/.*Train", "train", "A train slows down."),
    (r"^memory-sound/.*Bark", "dog bark", "A dog barks."),
    (r"^memory-sound/.*Applauses", "applause", "People applaud."),
    (r"^memory-sound/.*Heart_beat", "heartbeat", "A heart beats."),
    (r"^memory-sound/.*Frogs", "frog", "Frogs croak in a pond during a storm."),
    (r"^memory-sound/.*Rain", "rain", "Rain falls in a garden."),
    (r"^guessnumber/helicopter", "helicopter", "A helicopter flies."),
    (r"^railroad/train", "train", "A train passes."),
    (r"^traffic/car", "car", "A car drives by."),
    (r"^(clickgame|watercycle)/bubble", "bubbling", "Water bubbles."),
    (r"^clickgame/drip", "water drip", "Water drips."),
    (r"^canal_lock/water_fill", "pouring water", "Water fills a lock."),
    (r"^canal_lock/door", "door", "A heavy gate moves."),
    (r"^mining/pickaxe", "pickaxe", "A pickaxe strikes rock."),
    (r"^melody/xylofon", "xylophone", "A xylophone note."),
    (r"^melody/knock", "knock", "Someone knocks."),
    (r"^money/", "coins", "Coins jingle."),
]


def _clip(bundle: Path, member: str, labels: list[str], caption: str, kind: str = "sound") -> Clip:
    stem = Path(member).stem
    return Clip(id=safe_id("gcompris", bundle.stem, stem), dataset="gcompris",
                recipe={"op": "rcc", "path": str(bundle), "member": member, "start": 0.0, "end": MAX_SECONDS},
                labels=labels, caption=caption, kind=kind, licence=LICENCE)


def _describe(bundle: Path, member: str) -> Clip | None:
    stem = Path(member).stem
    if bundle.stem == "instruments":
        label = INSTRUMENTS.get(stem, stem.replace("_", " "))
        return _clip(bundle, member, expand([label]), f"{label.capitalize()} music is played.", "music")
    if bundle.stem == "explore_world_music" and stem in REGIONS:
        region = REGIONS[stem]
        return _clip(bundle, member, expand(["world music"]), f"Traditional music from {region}.", "music")
    if bundle.stem == "explore_farm_animals" and stem != "chickens":
        return _clip(bundle, member, expand([stem]), f"A {stem} makes its call.")
    found = match(f"{bundle.stem}/{stem}", RULES)
    return _clip(bundle, member, *found) if found else None


def load(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    root = root or ROOT
    clips = []
    for bundle_path in sorted(root.glob("*.rcc")):
        bundle = RccBundle(bundle_path)
        for member in bundle.members():
            if member.lower().endswith((".ogg", ".wav", ".mp3")) and (clip := _describe(bundle_path, member)):
                clips.append(clip)
    return clips if limit is None else clips[:limit]


def read_member(path: str, member: str) -> bytes:
    """Bytes of one bundled file (used by rendering)."""
    return RccBundle(path).read(member)
