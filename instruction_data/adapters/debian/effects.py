"""Single recordings named by what they are, from small game, editor and office packages: a dog's bark, a cat, a cow,
a rooster, gulls, thunder, a helicopter, a crowd. Each package is its own source (its own dataset), so a class it
shares with other packages gains a source; the corpus had no trainable dog before these and qabcs.

| source | package | root | licence |
|---|---|---|---|
| `trophy` | `trophy-data` | a car racing game's effects | GPL-2 |
| `etw` | `etw-data` | Eat The Whistle, a football game: crowds, a referee's whistle, a dog | GPL-2+ |
| `brainparty` | `brainparty-data` | a puzzle game: sheep, a cat, glass, guns | GPL-3+ / CC-BY-SA-3.0 |
| `xemacs_sounds` | `xemacs21-basesupport` | XEmacs's `etc/sounds`: a bark, a cat, a cuckoo, laughs | GPL |
| `mate_sounds` | `mate-media-common` | MATE's alert sounds (a bark, a drip, a glass) | GPL-2+ |
| `scorched3d` | `scorched3d-data` | a tank game: farm animals, birds, gulls, frogs, thunder, rain, waves, jets | GPL-2+ |
| `libreoffice_gallery` | `libreoffice-common` | gallery sounds: applause, a cow, a horse, a train, a gong | MPL-2.0 |

Only files whose names settle what sounds are labelled (`RULES`: a regex on the path below the root, without the
extension); game jingles, menu blips and names that could be many things are left out. A file longer than two corpus
clips gives up to `MAX_WINDOWS` consecutive clips, one group, so they never cross splits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import soundfile as sf

from instruction_data.adapters.common import AUDIO_EXTENSIONS, MAX_SECONDS, file_recipe, limited
from instruction_data.adapters.debian.rules import Rule, found_files, rule_clips
from instruction_data.clips import Clip

EXTENSIONS = (*AUDIO_EXTENSIONS, ".au")  # XEmacs ships some sounds only as Sun .au
MAX_WINDOWS = 3


@dataclass(frozen=True)
class Package:
    dataset: str
    package: str
    root: Path
    licence: str
    rules: list[Rule]


DOG = (r"(^|/)(dog\d?|bark)$", "dog bark", "A dog barks.")
CAT = (r"(^|/)(meow|catmeow)$", "cat", "A cat meows.")
PACKAGES: dict[str, Package] = {p.dataset: p for p in [
    Package("trophy", "trophy-data", Path("/usr/share/games/trophy/sounds"), "GPL-2 (trophy-data)", [
        DOG,
        (r"^carhorn$", "car horn", "A car horn honks."),
        (r"^engine$", "car engine", "A car engine runs."),
        (r"^(shoot|shot)$", "gunshot", "A gunshot."),
    ]),
    Package("etw", "etw-data", Path("/usr/share/games/etw"), "GPL-2+ (etw-data)", [
        DOG,
        (r"^crowd/crowd\d+$|^snd/crowd$", "crowd cheering", "A football crowd cheers."),
        (r"^snd/fischio(corto|lungo)$", "whistle", "A referee blows a whistle."),
    ]),
    Package("brainparty", "brainparty-data", Path("/usr/share/games/brainparty"),
            "GPL-3+ / CC-BY-SA-3.0 (brainparty-data)", [
        CAT,
        (r"^baa\d?$", "sheep", "A sheep bleats."),
        (r"^explosion$", "explosion", "An explosion."),
        (r"^glass_break$", "glass breaking", "Glass shatters."),
        (r"^gun\d$", "gunshot", "A gunshot."),
        (r"^swoosh_long$", "whoosh", "A whoosh."),
        (r"^zap$", "zap", "An electric zap."),
    ]),
    Package("xemacs_sounds", "xemacs21-basesupport", Path("/usr/share/xemacs21/xemacs-packages/etc/sounds"),
            "GPL (xemacs21-basesupport)", [
        DOG, CAT,
        (r"^cuckoo$", "cuckoo", "A cuckoo calls."),
        (r"^drip$", "water drip", "A drop of water drips."),
        (r"^hammer$", "hammer", "A hammer strikes."),
        (r"^kiss$", "kiss", "A kiss."),
        (r"^monkey$", "monkey", "A monkey screeches."),
        (r"^shotgun$", "gunshot", "A shotgun fires."),
        (r"^snore$", "snoring", "Someone snores."),
        (r"^whip$", "whip", "A whip cracks."),
        (r"^clink$", "glass clink", "Glasses clink."),
        (r"^cry$", "crying", "Someone cries."),
        (r"^(laugh|Evil_Laugh|Snicker)$", "laughter", "Someone laughs."),
        (r"^explosion$", "explosion", "An explosion."),
        (r"^flush$", "toilet flush", "A toilet flushes."),
        (r"^whistle$", "whistle", "A whistle blows."),
        (r"^drumroll$", "drum roll", "A drum roll."),
        (r"^yell\d?$", "shout", "Someone yells."),
    ]),
    Package("mate_sounds", "mate-media-common", Path("/usr/share/sounds/mate/default/alerts"),
            "GPL-2+ (mate-media-common)", [
        DOG,
        (r"^drip$", "water drip", "A drop of water drips."),
        (r"^glass$", "glass clink", "A glass rings as it is struck."),
    ]),
    Package("scorched3d", "scorched3d-data", Path("/usr/share/games/scorched3d/data/globalmods"),
            "GPL-2+ (scorched3d-data)", [
        DOG,
        (r"/misc/carhorn\d$", "car horn", "A car horn honks."),
        (r"/misc/cessna$", "airplane", "A small propeller plane flies."),
        (r"/misc/cheeringloop$", "crowd cheering", "A crowd cheers."),
        (r"/misc/citysounds$", "city ambience", "The sounds of a city street."),
        (r"/misc/(cows|moo)$", "cow", "A cow moos."),
        (r"/misc/firetruck$", "fire truck", "A fire truck's siren wails."),
        (r"/misc/policecar$", "siren", "A police siren wails."),
        (r"/misc/(helicopter|apache_\d)$", "helicopter", "A helicopter flies."),
        (r"/misc/rooster$", "rooster", "A rooster crows."),
        (r"/misc/(scream\d|screaming)$", "scream", "Someone screams."),
        (r"/misc/sheep$", "sheep", "A sheep bleats."),
        (r"/misc/(birdchirp\d|birds\d)$", "birdsong", "Birds chirp."),
        (r"/misc/(f16_\d|f18_\d|jet)$", "jet engine", "A jet flies over."),
        (r"/misc/frogs$", "frog", "Frogs croak."),
        (r"/misc/gull\d$", "seagull", "A seagull cries."),
        (r"/misc/oceanwaves$", "ocean waves", "Ocean waves break."),
        (r"/misc/rain$", "rain", "Rain falls."),
        (r"/misc/rocket$", "rocket", "A rocket launches."),
        (r"/misc/splash$", "splash", "A splash of water."),
        (r"/(misc|explosions)/thunder\d?$", "thunder", "Thunder rumbles."),
        (r"/misc/wolf$", "wolf", "A wolf howls."),
        (r"/misc/factoryloop\d$", "factory noise", "Machines run in a factory."),
        (r"/misc/camera$", "camera shutter", "A camera shutter clicks."),
        (r"/explosions/bees$", "bee", "Bees buzz."),
        (r"/explosions/(exp|small|medium|large|xlarge)$", "explosion", "An explosion."),
        (r"/shoot/machinegun$", "machine gun", "A machine gun fires."),
        (r"/shoot/shotgun$", "gunshot", "A shotgun fires."),
    ]),
    Package("libreoffice_gallery", "libreoffice-common", Path("/usr/lib/libreoffice/share/gallery/sounds"),
            "MPL-2.0 (libreoffice-common)", [
        (r"^applause$", "applause", "An audience applauds."),
        (r"^cow$", "cow", "A cow moos."),
        (r"^horse$", "horse", "A horse neighs."),
        (r"^train$", "train", "A train passes."),
        (r"^gong$", "gong", "A gong is struck."),
        (r"^explos$", "explosion", "An explosion."),
        (r"^kongas$", "conga", "Congas are played."),
        (r"^glasses$", "glass clink", "Glasses clink."),
    ]),
]}


def _windows(clip: Clip) -> list[Clip]:
    """The clip, then (for a file longer than two clips) up to MAX_WINDOWS - 1 more of its consecutive windows."""
    try:
        seconds = sf.info(clip.recipe["path"]).duration
    except (RuntimeError, sf.LibsndfileError):
        return [clip]  # rendering reports an undecodable file
    n = min(MAX_WINDOWS, int(seconds // MAX_SECONDS)) if seconds >= 2 * MAX_SECONDS else 1
    return [clip] + [replace(clip, id=f"{clip.id}-{i}", recipe=file_recipe(clip.recipe["path"], start=i * MAX_SECONDS),
                             group=clip.id) for i in range(1, n)]


def load(dataset: str, root: Path | None = None, limit: int | None = None) -> list[Clip]:
    package = PACKAGES[dataset]
    clips = rule_clips(dataset, found_files(root or package.root, dataset, EXTENSIONS), package.rules, package.licence)
    return limited([w for clip in clips for w in _windows(clip)], limit)


def loaders() -> dict[str, tuple]:
    """name -> (loader, Debian packages, root), as `instruction_data.adapters.DEBIAN_SOURCES` holds them."""
    return {p.dataset: (partial(load, p.dataset), (p.package,), p.root) for p in PACKAGES.values()}
