"""Hedgewars (`hedgewars-data`, GPL-2 / various free, see its copyright): 15 voice packs of about 60
lines each, ~100 sound effects and the game's music.

Voice packs (`Sounds/voices/<pack>/<Event>.ogg`): one pack is one voice (one origin). Shouts,
laughs, grunts and coughs get their sound class; spoken lines are speech. The file name names
the game event, and only in the packs listed in SCRIPTED does the voice say the event's words:
VERIFIED lists the lines whose words Whisper-base transcribed exactly as the event's phrase (a
one-off check); those get the phrase as transcript, every other spoken line is speech with no
known words (themed packs say other things: "Amazing" is "Most splendid!" in the British pack). Packs in other languages carry their language.
"""

from __future__ import annotations

import re
from pathlib import Path

from instruction_data.adapters.common import audio_files, file_recipe
from instruction_data.adapters.debian.rules import (
    Found,
    Rule,
    file_content,
    match,
    rule_clips,
)
from instruction_data.clips import Clip, safe_id
from instruction_data.taxonomy import expand

ROOT = Path("/usr/share/games/hedgewars/Data")
LICENCE = "GPL-2 and other free licences (hedgewars-data)"
PACK_LANGUAGES = {"Default_es": "Spanish", "Default_pl": "Polish", "Default_ru": "Russian", "Default_uk": "Ukrainian",
                  "Russian_pl": "Polish"}
PACK_SPEAKERS = {"Pirate": "a man talking like a pirate", "Robot": "a robotic voice", "Singer": "a singing voice",
                 "Surfer": "a laid-back surfer voice", "Mobster": "a gangster voice", "HillBilly": "a hillbilly voice",
                 "British": "a man with a British accent", "Russian": "a man with a Russian accent"}
VERIFIED: dict[str, frozenset[str]] = {
    "British": frozenset({"Grenade", "Incoming", "Runaway", "Thisoneismine", "Watchit"}),
    "Classic": frozenset({"Amazing", "Enemydown", "Excellent", "Firstblood", "Hello", "Justyouwait", "Ohdear",
                          "Reinforcements", "Runaway", "Sameteam", "Thisoneismine", "Uh-oh", "Victory", "Whatthe",
                          "Youllregretthat"}),
    "Default": frozenset({"Thisoneismine", "Uh-oh", "Watchthis", "Whatthe"}),
}
# event file -> the words of the event
PHRASES = {
    "Amazing": "Amazing!", "Boring": "Boring!", "Brilliant": "Brilliant!", "Bugger": "Bugger!",
    "Byebye": "Bye bye!", "Comeonthen": "Come on then!", "Coward": "Coward!", "Cutitout": "Cut it out!",
    "Drat": "Drat!", "Enemydown": "Enemy down!", "Excellent": "Excellent!", "Fire": "Fire!",
    "Firstblood": "First blood!", "Flawless": "Flawless!", "Flyaway": "Fly away!", "Gonnagetyou": "Gonna get you!",
    "Grenade": "Grenade!", "Hello": "Hello!", "Hurry": "Hurry!", "Illgetyou": "I'll get you!",
    "Incoming": "Incoming!", "Justyouwait": "Just you wait!", "Kamikaze": "Kamikaze!",
    "Leavemealone": "Leave me alone!", "Melon": "Melon!", "Missed": "Missed!", "Nutter": "Nutter!",
    "Ohdear": "Oh dear!", "Oops": "Oops!", "Ouch": "Ouch!", "Reinforcements": "Reinforcements!",
    "Revenge": "Revenge!", "Runaway": "Run away!", "Sameteam": "Same team!", "Solong": "So long!",
    "Stupid": "Stupid!", "Takecover": "Take cover!", "Thisoneismine": "This one's mine!", "Traitor": "Traitor!",
    "Uh-oh": "Uh-oh!", "Victory": "Victory!", "Watchit": "Watch it!", "Watchthis": "Watch this!",
    "Whatthe": "What the...!", "Yessir": "Yes, sir!", "Youllregretthat": "You'll regret that!",
}
VOCAL: list[Rule] = [
    (r"^Laugh", "laughter", "Someone laughs."),
    (r"^(Ooff|Ow|Jump)\d", "grunt", "Someone grunts."),
    (r"^PoisonCough", "cough", "Someone coughs."),
    (r"^PoisonMoan", "groan", "Someone groans."),
    (r"^(Nooo|Firepunch\d)", "shout", "Someone shouts."),
    (r"^Hmm", None, ""),
]
EFFECTS: list[Rule] = [
    (r"^Music/", "music", "Background music from a game."),
    (r"^Sounds/Droplet\d", "water drip", "A drop of water falls."),
    (r"^Sounds/Kiss$", "kiss", "A loud kiss."),
    (r"^Sounds/Whistle$", "whistle", "Someone blows a whistle."),
    (r"^Sounds/bee$", "bee", "A bee buzzes."),
    (r"^Sounds/beep$", "beep", ""),
    (r"^Sounds/drillgun$", "drill", "A drill whirs."),
    (r"^Sounds/pickhammer$", "drill", "A jackhammer pounds."),
    (r"^Sounds/explosion$", "explosion", "An explosion."),
    (r"^Sounds/firepunch_hit$", "punch", "A heavy punch lands."),
    (r"^Sounds/flamethrower$", "fire", "A flamethrower roars."),
    (r"^Sounds/(gun|shotgunfire)$", "gunshot", "A gunshot."),
    (r"^Sounds/minigun$", "machine gun", "A machine gun fires."),
    (r"^Sounds/mortar$", "cannon", "A mortar fires."),
    (r"^Sounds/hammer$", "hammer", "A hammer strikes."),
    (r"^Sounds/hell_growl$", "roar", "A monster growls."),
    (r"^Sounds/hell_(ooff|ow|ugh)$", "grunt", "Someone grunts."),
    (r"^Sounds/(ice_beam|portalshot|portalopen)$", "zap", "An electronic zap."),
    (r"^Sounds/molotov$", "glass breaking", "A bottle shatters."),
    (r"^Sounds/plane$", "airplane", "An airplane flies over."),
    (r"^Sounds/(planewater|splash|rubberduck_water)$", "splash", "Something splashes into water."),
    (r"^Sounds/shutterclick$", "camera shutter", "A camera shutter clicks."),
    (r"^Sounds/steps$", "footsteps", "Footsteps."),
    (r"^Sounds/throwrelease$", "whoosh", ""),
    (r"^Sounds/whipcrack$", "whip", "A whip cracks."),
    (r"^Sounds/rubberduck_(die|drop)$", "squeak", "A rubber duck squeaks."),
    (r"^Sounds/(blowtorch|steam)$", "hiss", "A loud hiss of gas or steam."),
    (r"^Sounds/(bump|graveimpact|grenadeimpact)$", "thud", "A dull thud."),
    (r"^Sounds/melonimpact$", "squish", "Something soft splats."),
    (r"^Sounds/hogchant3$", "chant", "A group chants."),
]


def _voice(path: Path, pack: str) -> Clip | None:
    event = path.stem
    origin, language = f"hedgewars:{pack}", PACK_LANGUAGES.get(pack, "English")
    base = {"dataset": "hedgewars", "recipe": file_recipe(path), "licence": LICENCE, "origin": origin,
            "group": f"hedgewars:{pack}:{event}", "speaker": PACK_SPEAKERS.get(pack, "")}
    cid = safe_id("hedgewars", pack, event)
    if (hit := match(event, VOCAL)) is not None:
        labels, caption = hit
        return Clip(id=cid, labels=labels, caption=caption, kind="sound", **base)
    if any(re.search(p, event) for p, label, _ in VOCAL if label is None):
        return None
    words = PHRASES.get(event, "")
    known = bool(words) and event in VERIFIED.get(pack, ())
    caption = (f"A voice shouts: \"{words}\"" if known else
               f"A voice says a short line in {language}." if language != "English" else
               "A voice says a short line.")
    return Clip(id=cid, labels=expand(["speech"]), caption=caption, transcript=words if known else "",
                language=language, kind="speech", **base)


def load(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    root = root or ROOT
    clips: list[Clip] = []
    voices = root / "Sounds" / "voices"
    for path in audio_files(voices) if voices.is_dir() else []:
        if clip := _voice(path, path.parent.name):
            clips.append(clip)
    found = [Found(p.relative_to(root).with_suffix("").as_posix(), file_recipe(p), file_content(p))
             for p in audio_files(root) if voices not in p.parents]
    clips += rule_clips("hedgewars", found, EFFECTS, LICENCE)
    return clips if limit is None else clips[:limit]
