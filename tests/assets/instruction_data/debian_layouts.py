"""Tiny fake copies of the Debian packages' layouts, generated into a folder at test time.

Each `make_<source>(root)` writes the few files that one adapter's label rules need (0.3 s
8 kHz tones named as the package names its sounds, plus its metadata files: soundthemes,
sounds.xml, drumkit.xml, audio.cfg inside a zip) and returns the path the adapter reads.
Nothing here is shipped as a binary: tests call these into tmp_path.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(freq: float = 440.0, seconds: float = 0.3) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav(path: Path, freq: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(freq), 8000, format="OGG" if path.suffix == ".ogg" else "WAV",
             **({} if path.suffix == ".ogg" else {"subtype": "PCM_16"}))
    return path


def wav_bytes(freq: float = 440.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, tone(freq), 8000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def text(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def make_hedgewars(root: Path) -> Path:
    for pack, event, f in (("Classic", "Hello", 300), ("Pirate", "Hello", 310), ("Classic", "Laugh", 320),
                           ("Default_es", "Boring", 330), ("Classic", "Hmm", 340)):
        wav(root / "Sounds" / "voices" / pack / f"{event}.ogg", f)
    wav(root / "Sounds" / "explosion.ogg", 500)
    wav(root / "Sounds" / "unknowable.ogg", 510)
    wav(root / "Music" / "Theme.ogg", 520)
    return root


def make_megaglest(root: Path) -> Path:
    first = wav(root / "tilesets" / "forest" / "sounds" / "rain.ogg", 200)
    wav(root / "tilesets" / "meadow" / "sounds" / "owl.ogg", 210)
    shutil.copyfile(first, root / "tilesets" / "meadow" / "sounds" / "rain.ogg")  # the same file again: kept once
    common = root / "techs" / "megapack" / "commondata" / "sounds"
    wav(common / "cow_ack1.wav", 220)
    wav(common / "swordman_select2.wav", 230)
    wav(root / "techs" / "megapack" / "factions" / "norsemen" / "units" / "swordman" / "sounds" / "swordman_die1.wav",
        240)
    wav(common / "mystery_thing.wav", 250)
    return root


def make_ktuberling(root: Path) -> Path:
    wav(root / "en" / "ball.ogg", 300)
    wav(root / "en" / "moon_fallingstar.ogg", 310)
    wav(root / "fr" / "patate_ballon.wav", 320)
    text(root / "en.soundtheme", '<language code="en">\n<sound name="ball" file="en/ball.ogg" />\n'
         '<sound name="moon_fallingstar" file="en/moon_fallingstar.ogg" />\n</language>\n')
    text(root / "fr.soundtheme", '<language code="fr">\n<sound name="ball" file="fr/patate_ballon.wav" />\n</language>\n')
    text(root / "id.soundtheme", '<language code="id">\n<sound name="ball" file="en/ball.ogg" />\n</language>\n')
    return root


def make_klettres(root: Path) -> Path:
    wav(root / "en" / "alpha" / "A.ogg", 300)
    wav(root / "cs" / "syllab" / "ad-0.ogg", 310)
    text(root / "en" / "sounds.xml", '<!-- header -->\n<klettres><sound name="A" file="en/alpha/A.ogg" />\n'
         '<sound name="A" file="en/alpha/A.ogg" /></klettres>\n')
    text(root / "cs" / "sounds.xml", '<klettres><sound name="BA" file="cs/syllab/ad-0.ogg" /></klettres>\n')
    return root


def make_qabcs(root: Path) -> Path:
    """Two languages' item files (one with recordings), and the noises they name."""
    for noise, hz in (("dog", 300), ("calf", 310), ("austrian_flag", 320), ("clock", 330), ("mouse", 340)):
        wav(root / "all" / "noises" / f"{noise}.ogg", hz)
    wav(root / "de" / "sounds" / "words" / "hund.ogg", 350)
    wav(root / "ru" / "sounds" / "words" / "аист.ogg", 360)
    text(root / "de" / "abc1.properties", "language:Deutsch\n#h\nanimals:h=hund==dog=dog\nfood:h=honig==honey\n"
         "misc:u=uhr==clock=clock\ntoys:m=maus==mouse=mouse\nmisc:o=flagge==austrian_flag=austrian_flag\n"
         "animals:k=kalb==calf=calf\nanimals:h=hund==dog=dog\n")
    text(root / "ru" / "abc1.properties", "language:Русский\nanimals:а=АИСТ=АИСТ=stork=stork\n")
    wav(root / "en" / "sounds" / "words" / "cat.ogg", 370)
    wav(root / "en_gb" / "sounds" / "words" / "doughnut.ogg", 380)
    text(root / "en" / "abc1.properties", "language:English (US)\nanimals:c=cat==cat=cat\nfood:d=donut==donut\n")
    text(root / "en_gb" / "abc1.properties", "inheritsFrom:en/abc1.properties\nfood:d=doughnut==donut\n")
    return root


def make_warzone(root: Path) -> Path:
    path = root / "base.wz"
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("audio/audio.cfg", 'audio\t"pcv342.ogg"\toneshot 100 1800 /*Power Generator Destroyed*/\n'
                                      'audio\t"beep1.ogg"\toneshot 30 1800 /*Close Window*/\n')
        z.writestr("audio/memressp/power/pcv342.wav", wav_bytes(300))
        z.writestr("audio/memressp/console/pcv342.wav", wav_bytes(300))  # the same line filed twice
        z.writestr("audio/taunts/taunt1/hahaha1.wav", wav_bytes(310))
        z.writestr("audio/tutorial/tut1.wav", wav_bytes(320))
        z.writestr("audio/sfx/explons/lrgexpl.wav", wav_bytes(330))
        z.writestr("audio/sfx/interfce/beep1.wav", wav_bytes(340))
        z.writestr("texpages/readme.txt", "not audio")
    return path


def make_ufoai(root: Path) -> Path:
    path = root / "0snd.pk3"
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, f in (("sound/ambience/thunder1", 300), ("sound/footsteps/gravel2", 310),
                        ("sound/doors/door1-open", 320), ("sound/weapons/bullet-smg-5x", 330),
                        ("sound/aliens/ortnok/die1", 340)):
            z.writestr(f"{name}.wav", wav_bytes(f))
    return path


def make_small_games(root: Path) -> dict[str, Path]:
    """freedroidrpg, wesnoth, lincity_ng, minetest, widelands: one labelled file and one unlabelled each."""
    fd, wn, lc, mt, wl = root / "freedroid", root / "wesnoth", root / "lincity", root / "minetest", root / "widelands"
    wav(fd / "sound" / "effects" / "Glass_Break.ogg", 300)
    wav(fd / "sound" / "effects" / "Shop_ItemSoldSound_0.ogg", 310)
    wav(wn / "data" / "core" / "sounds" / "wolf-growl-1.ogg", 320)
    wav(wn / "data" / "core" / "sounds" / "magic-holy-1.ogg", 330)
    wav(lc / "sounds" / "RailTrain1.wav", 340)
    wav(lc / "sounds" / "Commune1.wav", 350)
    wav(mt / "default" / "sounds" / "default_grass_footstep.1.ogg", 360)
    wav(mt / "doors" / "sounds" / "doors_door_open.ogg", 370)
    wav(mt / "default" / "sounds" / "default_item_smoke.ogg", 380)
    wav(wl / "sound" / "farm" / "sheep_00.ogg", 390)
    wav(wl / "world" / "critters" / "duck" / "duck_01.ogg", 395)
    wav(wl / "sound" / "military" / "under_attack.ogg", 400)
    return {"freedroidrpg": fd, "wesnoth": wn, "lincity_ng": lc, "minetest": mt, "widelands": wl}


def make_effects(root: Path) -> dict[str, Path]:
    """scorched3d (a dog, a labelled 25 s rain file, an unnamed blip), xemacs_sounds (a bark in .wav and .au, a cat
    only in .au) and brainparty (the same bark bytes as XEmacs's, kept once per package)."""
    sc, xe, bp = root / "scorched3d", root / "xemacs", root / "brainparty"
    wav(sc / "apoc" / "data" / "wav" / "misc" / "dog2.wav", 300)
    wav(sc / "none" / "data" / "wav" / "misc" / "lockon.wav", 310)
    (sc / "none" / "data" / "wav" / "misc").mkdir(parents=True, exist_ok=True)
    sf.write(str(sc / "none" / "data" / "wav" / "misc" / "rain.wav"), np.tile(tone(320), 84), 8000, subtype="PCM_16")
    wav(xe / "bark.wav", 330)
    xe.mkdir(parents=True, exist_ok=True)
    sf.write(str(xe / "bark.au"), tone(330), 8000, format="AU", subtype="PCM_16")
    sf.write(str(xe / "catmeow.au"), tone(340), 8000, format="AU", subtype="PCM_16")
    wav(bp / "meow.wav", 340)
    wav(bp / "card_flip.wav", 350)
    return {"scorched3d": sc, "xemacs_sounds": xe, "brainparty": bp}


def make_sound_themes(root: Path) -> dict[str, Path]:
    """Yaru and Deepin (sound-naming-spec names, one folder each) and Oxygen (event names, at the top of
    the shared sounds folder beside the other themes' folders)."""
    yaru, deepin = root / "Yaru" / "stereo", root / "deepin" / "stereo"
    for i, name in enumerate(("bell.oga", "complete.oga", "dialog-error.oga", "trash-empty.oga")):
        wav(yaru / name, 500 + 10 * i)
    for i, name in enumerate(("camera-shutter.wav", "screen-capture-complete.wav", "message.wav")):
        wav(deepin / name, 600 + 10 * i)
    for i, name in enumerate(("Oxygen-Im-Phone-Ring.ogg", "Oxygen-Sys-Warning.ogg", "Oxygen-Im-Message-In.ogg",
                              "Oxygen-Window-Close.ogg")):
        wav(root / name, 700 + 10 * i)
    return {"yaru": yaru, "deepin": deepin, "oxygen": root}


def make_hydrogen(root: Path) -> Path:
    kit = root / "TinyKit"
    for name in ("kick_soft.wav", "kick_hard.wav", "snare.wav", "hh_closed.wav", "bleep.wav"):
        wav(kit / name, 200 + len(name))
    text(kit / "drumkit.xml", """<?xml version="1.0"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>TinyKit</name><license>CC0</license>
 <instrumentList>
  <instrument><id>0</id><name>Kick</name>
   <layer><filename>kick_soft.wav</filename></layer><layer><filename>kick_hard.wav</filename></layer></instrument>
  <instrument><id>1</id><name>Snare Rimshot</name><filename>snare.wav</filename></instrument>
  <instrument><id>2</id><name>Closed HH</name><layer><filename>hh_closed.wav</filename></layer></instrument>
  <instrument><id>3</id><name>Bleep FX</name><layer><filename>bleep.wav</filename></layer></instrument>
 </instrumentList>
</drumkit_info>
""")
    return root
