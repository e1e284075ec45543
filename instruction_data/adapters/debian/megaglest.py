"""MegaGlest (`megaglest-data`, CC-BY-SA-3.0): unit voices and effects, tileset ambience.

Labels come from file names: tileset ambience (`tilesets/<set>/sounds/{rain,owl,wolf,...}`),
water splashes, and the shared unit sounds (`commondata/sounds/<unit>_<action>N`, plus each
faction's own `units/<unit>/sounds/`). Animal units (cow, pig, chicken, sheep, bull, elephant,
bees) give animal calls; horses give hoof beats; human units' acknowledgements are speech with
no known transcript; deaths are screams. Identical files shipped by several tilesets or
factions are kept once; a faction is one origin.
"""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import audio_files, file_recipe
from instruction_data.adapters.debian.rules import Found, Rule, file_content, rule_clips
from instruction_data.clips import Clip

ROOT = Path("/usr/share/games/megaglest")
LICENCE = "CC-BY-SA-3.0 (megaglest-data)"
HUMANS = (r"(archer|archmage|axe_thrower|battlemage|cudgel|guard|horseman|initiate|princess|shaman|spearman|"
          r"stickfighter|summoner|swordman|technician|valkyrie|warrior|worker|dr|magician|genie|fakir)")

# matched against the path below ROOT without extension, e.g. "tilesets/forest/sounds/rain"
RULES: list[Rule] = [
    (r"tilesets/.*/rain$", "rain", "Rain falls steadily."),
    (r"tilesets/.*/owl$", "owl", "An owl hoots at night."),
    (r"tilesets/.*/wolf$", "wolf", "A wolf howls."),
    (r"tilesets/.*/chicken$", "chicken", "A chicken clucks."),
    (r"tilesets/.*/rooster$", "rooster", "A rooster crows."),
    (r"tilesets/.*/hawk$", "hawk", "A hawk screeches."),
    (r"tilesets/.*/(night|nightime)$", "night ambience", "Night-time ambience with crickets and animals."),
    (r"tilesets/.*/(day|sunny_day)$", "day ambience", "Daytime outdoor ambience with birds."),
    (r"tilesets/", None, ""),
    (r"water_sounds/water\d", "splash", "Something splashes into water."),
    (r"/menu/sound/click_[a-d]$", "click", "A click."),
    (r"/menu/sound/attention$", "alert sound", "An alert sound."),
    (r"/menu/", None, ""),
    (r"/(cow)_(ack|die|select)\d*$", "cow", "A cow moos."),
    (r"/(pig)_(ack|die|select|attack)\d*$", "pig", "A pig grunts and squeals."),
    (r"/chicken_(ack|die|select|standing)\d*$", "chicken", "A chicken clucks."),
    (r"/sheep(_die)?\d*$", "sheep", "A sheep bleats."),
    (r"/bull_(ack|attack|die|select)\d*$", "bull", "A bull bellows."),
    (r"/ele(attack)?\d*$", "elephant", "An elephant trumpets."),
    (r"/elewalk\d*$", "footsteps", "Heavy footsteps of an elephant."),
    (r"/beehive/sounds/bee\d*$", "bee", "Bees buzz."),
    (r"/eagle_(ack|select|die)\d*$", "eagle", "An eagle screeches."),
    (r"/(horseman|dr)_walk\d*$", "clip-clop", "Horse hooves clip-clop."),
    (r"/anvil\d*$", "anvil", "A hammer strikes an anvil."),
    (r"/(worker_mine|technician_mine)\d*$", "pickaxe", "A pickaxe strikes rock."),
    (r"/(worker_build|technician_build)\d*$", "hammer", "Someone hammers while building."),
    (r"/(behemoth|dragon|evil_dragon)_(ack|select|attack\w*|die|hit)\d*$", "roar", "A huge beast roars."),
    (r"/worker_harvest_wood\d*$", "chopping wood", "Someone chops wood with an axe."),
    (r"/arrow_hit\d*$", "arrow", "An arrow hits its target."),
    (r"/(machine_walk|catapult_walk)\d*$", "cart", "A heavy wooden machine rolls along."),
    (r"/tech_building_fall\d*$", "smash", "A building collapses."),
    (r"/knife\d*$", "sword", "A blade slashes."),
    (rf"/{HUMANS}_die\d*$", "scream", "Someone screams as they fall."),
    (r"/(technician|cudgel_lady)/sounds/technician_die\d*$", "scream", "Someone screams as they fall."),
    (rf"/{HUMANS}_(ack|select|sel)\d*$", "speech", "A soldier answers an order."),
    (r"/(ack|select)\d*$", "speech", "A soldier answers an order."),
]


def _origin(key: str) -> str:
    parts = key.split("/")
    if parts[0] == "techs" and "factions" in parts:
        return f"megaglest:{parts[parts.index('factions') + 1]}"
    return "megaglest:" + ("tilesets" if parts[0] == "tilesets" else "common")


def load(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    root = root or ROOT
    found = []
    for path in audio_files(root):
        key = path.relative_to(root).with_suffix("").as_posix()
        found.append(Found(key, file_recipe(path), file_content(path), _origin(key)))
    clips = rule_clips("megaglest", found, RULES, LICENCE, kind_of=lambda ls: "speech" if "speech" in ls else "sound")
    return clips if limit is None else clips[:limit]
