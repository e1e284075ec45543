"""Sound effects, ambience and voices of free games packaged in Debian, labelled by file name.

One adapter per package; each has its own rules (a regex on the path without extension, below
the package's root or inside its container) mapped onto the shared taxonomy. Files no rule
names are left out; identical files are kept once.

| source | package | licence |
|---|---|---|
| `warzone2100` | `warzone2100-data` (`base.wz`, a zip): announcer lines whose words are in `audio/audio.cfg`'s comments, taunts, effects | GPL-2+ / CC-BY-SA |
| `ufoai` | `ufoai-sound` (`base/0snd.pk3`, a zip): weapons, ambience, footsteps, doors, voices | GPL-2+ / CC-BY-SA / CC0 per file |
| `freedroidrpg` | `freedroidrpg-data` | GPL-2+ |
| `wesnoth` | `wesnoth-1.16-data` | GPL-2+ |
| `lincity_ng` | `lincity-ng-data` | GPL-2+ |
| `minetest` | `minetest-data` | CC-BY-SA-3.0 / CC0 per file |
| `widelands` | `widelands-data`: animals, farm animals, workshop sounds (its music is left out) | GPL-2+ |
"""

from __future__ import annotations

import re
from pathlib import Path

from instruction_data.adapters.debian import archives
from instruction_data.adapters.debian.rules import (
    Found,
    Rule,
    dedupe,
    found_files,
    rule_clips,
)
from instruction_data.clips import Clip, safe_id
from instruction_data.taxonomy import expand

WARZONE = Path("/usr/share/games/warzone2100/base.wz")
UFOAI = Path("/usr/share/games/ufoai/base/0snd.pk3")
FREEDROID = Path("/usr/share/freedroidrpg/data")
WESNOTH = Path("/usr/share/games/wesnoth/1.16")
LINCITY = Path("/usr/share/games/lincity-ng")
MINETEST = Path("/usr/share/games/minetest/games/minetest_game/mods")
WIDELANDS = Path("/usr/share/games/widelands/data")


def _members(container: Path, dataset: str) -> list[Found]:
    return [Found(re.sub(r"\.[^./]+$", "", i.filename), archives.zip_recipe(container, i.filename),
                  f"{i.file_size}:{i.CRC}", dataset) for i in archives.audio_members(container)]


def _limited(clips: list[Clip], limit: int | None) -> list[Clip]:
    return clips if limit is None else clips[:limit]


# ---- Warzone 2100 ----------------------------------------------------------------------------
WARZONE_LICENCE = "GPL-2+ / CC-BY-SA-3.0 (warzone2100-data)"
WARZONE_VOICES = {"memressp": "announcer", "extra": "announcer", "countdown": "announcer", "tutorial": "announcer",
                  "cmndrvoc": "announcer", "proxmessages": "announcer", "trnsppil": "pilots", "vtoltalk": "pilots",
                  "coltive": "collective", "nexus": "collective", "taunts": "taunts"}
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
WARZONE_RULES: list[Rule] = [
    (r"taunts/.*/haha", "laughter", "Someone laughs mockingly."),
    (r"nexus/laugh\d", "laughter", "A sinister electronic laugh."),
    (r"sfx/weapons/(rocket|hwtzflgt)$", "rocket", "A rocket launches."),
    (r"sfx/weapons/(mgbar\d|mgheavy|asltmg|mgtower)$", "machine gun", "A machine gun fires."),
    (r"sfx/weapons/(lrgcan|medcan|smlcan|hivelcan|rapdcan|mortar)$", "cannon", "A cannon fires."),
    (r"sfx/weapons/flmthrow$", "fire", "A flamethrower roars."),
    (r"sfx/weapons/splash$", "splash", "Something splashes into water."),
    (r"sfx/weapons/(gaussgun|bemlsr|rotlsr|plslsr)$", "zap", "A laser weapon zaps."),
    (r"sfx/explons/\w*expl\w*$", "explosion", "An explosion."),
    (r"sfx/explons/squish$", "squish", "A wet squish."),
    (r"sfx/explons/bldfall$", "smash", "A building collapses."),
    (r"sfx/vehicle/(tread|con-move)$", "engine", "A tracked vehicle's engine runs."),
    (r"sfx/vehicle/(vtol-move|tflight|thover)$", "jet engine", "A jet engine roars."),
    (r"sfx/misc/scream\d?$", "scream", "Someone screams."),
    (r"sfx/interfce/beep\d$", "beep", ""),
    (r"sfx/building/powerhum$", "hum", "An electric hum."),
    (r"sfx/building/steam$", "hiss", "Steam hisses."),
    (r"sfx/explons/richet\d$", "ricochet", "A bullet ricochets."),
    (r"sfx/vehicle/(hovstart|hovmove|hovstop|cyber-move|tstart|tland|vtolland|vtoloff)$", "engine",
     "A vehicle's engine."),
]


def _warzone_transcripts(container: Path) -> dict[str, str]:
    """{'pcv342': 'Power Generator Destroyed', ...} from audio.cfg's comments."""
    try:
        text = archives.read_text(container, "audio/audio.cfg")
    except Exception:  # noqa: BLE001 - a container without the file just has no transcripts
        return {}
    out = {}
    for m in re.finditer(r'audio\s+"([^"]+)\.ogg"[^\n]*?/\*\s*([^*]+?)\s*\*/', text):
        words = re.sub(r"\s+", " ", m.group(2).replace("&", "and")).strip().rstrip(":")
        if words and not words.isdigit() and len(words) > 1:
            out.setdefault(m.group(1), words)
    return out


def load_warzone(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    container = root or WARZONE
    transcripts = _warzone_transcripts(container)
    found = _members(container, "warzone2100")
    clips = []
    for f in dedupe(found):
        folder, stem = f.key.split("/")[-2], f.key.split("/")[-1]
        voice = WARZONE_VOICES.get(folder) or WARZONE_VOICES.get(f.key.split("/")[1] if "/" in f.key else "")
        if voice is None or re.search(r"haha|laugh", stem):
            continue
        words = transcripts.get(stem, "")
        if folder == "cmndrvoc" and stem.isdigit():
            words = DIGITS[int(stem)]
        caption = f"A voice announces: \"{words}\"" if words else "A voice speaks a short radio message."
        clips.append(Clip(id=safe_id("warzone2100", f.key.removeprefix("audio/")), dataset="warzone2100",
                          recipe=f.recipe, labels=expand(["speech"]), caption=caption, transcript=words,
                          language="English", kind="speech", licence=WARZONE_LICENCE,
                          origin=f"warzone2100:{voice}"))
    clips += rule_clips("warzone2100", found, WARZONE_RULES, WARZONE_LICENCE)
    return _limited(clips, limit)


# ---- UFO: Alien Invasion ---------------------------------------------------------------------
UFOAI_LICENCE = "GPL-2+ / CC-BY-SA / CC0 per file (ufoai-sound)"
UFOAI_RULES: list[Rule] = [
    (r"ambience/arcticwind$", "wind", "A cold wind blows."),
    (r"ambience/cricket_loop$", "cricket", "Crickets chirp."),
    (r"ambience/(fire\d*|smallfire|firesoft)$", "crackling fire", "A fire crackles."),
    (r"ambience/thunder\d$", "thunder", "Thunder rumbles."),
    (r"ambience/(water\d*|waterfontain)$", "flowing water", "Water flows."),
    (r"ambience/tv_static$", "static", "Radio or TV static."),
    (r"ambience/hum\d?$", "hum", "An electric hum."),
    (r"ambience/creak$", "creak", "Something creaks."),
    (r"ambience/(sand-city|city_abnd_ufoai_atm)$", "city ambience", "The ambience of a city."),
    (r"civilians/civfem(death|scream)", "scream", "A woman screams."),
    (r"civilians/(civ)?male(death)", "scream", "A man screams."),
    (r"civilians/(civ)?malehurt", "grunt", "A man grunts in pain."),
    (r"soldiers/(fe)?maledeath", "scream", "A soldier screams."),
    (r"soldiers/(fe)?malehurt", "grunt", "A soldier grunts in pain."),
    (r"doors/door\d-open$", "door open", "A door opens."),
    (r"doors/door\d-close$", "door close", "A door closes."),
    (r"doors/(creak_low_short)$", "creak", "A door creaks."),
    (r"footsteps/(carpet|dirt|grass|gravel|linoleum|metal|sand|snow|stone|tile|wood)\d*$", "footsteps",
     "Footsteps."),
    (r"footsteps/splash\d$", "splash", "Feet splash through water."),
    (r"misc/breakglass\d+$", "glass breaking", "Glass shatters."),
    (r"misc/break(wood|metal)\d+$", "smash", "Something breaks with a crash."),
    (r"seq/sword-hit$", "sword", "A sword strikes."),
    (r"ugv/diesel-(idle|move)$", "diesel engine", "A diesel engine runs."),
    (r"ui/beep\d$", "beep", ""),
    (r"ui/click(\d|_up|_down)$", "click", "A click."),
    (r"weapons/bullet-(chaingun|hmg|smg|needler|heavyneedler)-\d+x$", "machine gun", "A burst of gunfire."),
    (r"weapons/bullet-(pistol2?|rifle(-1x)?|shotgun|sniper|bolter|heavybolter|gauss|flechette|smg-1x)$", "gunshot",
     "A gunshot."),
    (r"weapons/explosion(-grenade|-rocket|-fire|-plasma)?$", "explosion", "An explosion."),
    (r"weapons/flamer-(big|small)$", "fire", "A flamethrower roars."),
    (r"weapons/(laser|plasma|ptl)-(blast|huge|large|medium|small)$", "zap", "A laser weapon zaps."),
    (r"weapons/rocket-human$", "rocket", "A rocket is fired."),
    (r"weapons/melee-swoosh$", "whoosh", ""),
    (r"ambience/steam$", "hiss", "Steam hisses."),
    (r"ambience/sparks(_short)?$", "crackle", "Electric sparks crackle."),
    (r"ambience/radiomessage$", "radio", "A crackly radio message."),
    (r"ambience/tv_newswav$", "television", "A television plays the news."),
    (r"ambience/disco$", "electronic music", "Dance music plays."),
    (r"ambience/jingle2?$", "jingle", "A short musical jingle."),
    (r"seq/(alienflyby|humanflyby)$", "aircraft", "An aircraft flies by."),
    (r"impact/water-impact$", "splash", "Something hits the water."),
    (r"weapons/(electro-taser|electro-taserdouble|plasma-blade|ugv-lasercannon-fire)$", "zap", "An electric zap."),
    (r"weapons/ugv-cannon-fire$", "cannon", "A cannon fires."),
    (r"weapons/explosion-(flashbang|smoke)$|geoscape/combat-(explosion|rocket-exp)$", "explosion",
     "An explosion."),
    (r"geoscape/combat-gun$", "gunshot", "Gunfire."),
    (r"geoscape/combat-air(laser|plasma)(-fast)?$", "zap", "A laser weapon zaps."),
    (r"weapons/reload-(grenade|laser|nail|pistol|rifle|rocket|shotgun|smg|sniper)$", "gun reload",
     "A gun is reloaded."),
    (r"weapons/grenade-bounce$", "bouncing", "A grenade bounces on the ground."),
    (r"geoscape/(info|mail|newmission|promotion|standard|ufospotted)$", "notification chime",
     "A short notification sound."),
    (r"geoscape/(basealert|alien-activity)$", "alert sound", "An alert sound."),
    (r"ui/item-drop$", "thud", "Something is put down with a thud."),
]


def load_ufoai(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    found = _members(root or UFOAI, "ufoai")
    return _limited(rule_clips("ufoai", found, UFOAI_RULES, UFOAI_LICENCE), limit)


# ---- FreedroidRPG ----------------------------------------------------------------------------
FREEDROID_LICENCE = "GPL-2+ (freedroidrpg-data)"
FREEDROID_RULES: list[Rule] = [
    (r"effects/Blast_Sound", "explosion", "An explosion."),
    (r"effects/Glass_Break", "glass breaking", "Glass shatters."),
    (r"effects/CameraTakesPicture", "camera shutter", "A camera takes a picture."),
    (r"effects/Influencer_Scream", "scream", "Someone screams."),
    (r"bullets/(Laser_Rifle|Phaser|Pulse|Plasma_Pistol|Single_Laser|Single_Pulse|Flash|Exterminator)$", "zap",
     "A laser weapon zaps."),
    (r"bullets/Military$", "gunshot", "A gunshot."),
    (r"bullets/Sword$|effects/swing_then_hit", "sword", "A blade swings and hits."),
    (r"effects/swing_then_nohit", "whoosh", "A blade swishes through the air."),
    (r"effects/tux_footstep$", "footsteps", "Footsteps."),
    (r"sound/music/", "music", "Background music from a game."),
    (r"item_sounds/Item_Drop_Sound", "thud", "Something drops with a thud."),
    (r"effects/open_chest_sound$", "creak", "A chest creaks open."),
    (r"bot_sounds/(First_Contact|Start_Attack)_Sound", "robot sound", "A robot bleeps."),
]


def load_freedroid(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    found = found_files(root or FREEDROID, "freedroidrpg")
    return _limited(rule_clips("freedroidrpg", found, FREEDROID_RULES, FREEDROID_LICENCE), limit)


# ---- Battle for Wesnoth ----------------------------------------------------------------------
WESNOTH_LICENCE = "GPL-2+ (wesnoth-1.16-data)"
WESNOTH_RULES: list[Rule] = [
    (r"ambient/birds\d$", "birdsong", "Birds sing."),
    (r"ambient/campfire$", "crackling fire", "A campfire crackles."),
    (r"ambient/morning$", "day ambience", "Morning ambience with birds."),
    (r"ambient/night$", "night ambience", "Night-time ambience."),
    (r"ambient/wardrums$", "drum", "War drums beat."),
    (r"witches-laugh$|dwarf-laugh$", "laughter", "Someone laughs."),
    (r"/bat-flapping$", "bat", "A bat flaps its wings."),
    (r"/(bow|crossbow)(-puny)?$", "arrow", "An arrow is shot."),
    (r"/dagger-swish$|/throw-\d$", "whoosh", ""),
    (r"/explosion$", "explosion", "An explosion."),
    (r"/fire$", "fire", "Fire roars."),
    (r"/gunshot$", "gunshot", "A gunshot."),
    (r"/(horse-canter|horse-elf-canter)$", "clip-clop", "A horse canters."),
    (r"/horse-(die|hit-\d)$", "neigh", "A horse neighs."),
    (r"/(human|human-female|human-old|dwarf|elf|orc|orc-small|troll|goblin)-die-\d$", "scream",
     "Someone screams as they fall."),
    (r"/(human|human-female|human-old|dwarf|elf|orc|orc-small|troll|goblin)-hit-\d$", "grunt",
     "Someone grunts in pain."),
    (r"/groan$", "groan", "Someone groans."),
    (r"/wolf-(growl|die|hit)-\d$", "wolf", "A wolf snarls."),
    (r"/lightning$", "thunder", "Lightning cracks with thunder."),
    (r"/cave-in$", "smash", "Rocks crash down."),
    (r"/gold$", "coins", "Coins jingle."),
    (r"/open-chest$", "creak", "A chest creaks open."),
    (r"/sword-1$", "sword", "A sword strikes."),
    (r"/fist$", "punch", "A punch lands."),
    (r"horn-signals/horn-\d$", "horn", "A horn signal is blown."),
    (r"/fanfare-short$", "fanfare", "A short fanfare."),
    (r"^sounds/bell$", "bell", "A bell rings."),
    (r"/water-blast$", "splash", "Water splashes."),
    (r"/hiss(-big|-die|-hit)?$", "hiss", "Something hisses like a snake."),
    (r"/wail(-long|-sml)?$", "wail", "A ghostly wail."),
    (r"/zombie-(attack|hit-\d)$", "groan", "A zombie groans."),
    (r"/(drake|yeti)-(die|hit(-\d)?)$", "roar", "A beast roars."),
    (r"/rumble$", "rumble", "A deep rumble."),
    (r"/(club|mace|staff|flail)$", "thud", "A heavy blow lands with a thud."),
    (r"^sounds/(chat-\d|chat-friend|chat-highlight|receive|join|leave)$", "notification chime",
     "A short notification sound."),
    (r"^sounds/(button|select|checkbox|slider)$", "click", "A click."),
]


def load_wesnoth(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    found = found_files(root or WESNOTH, "wesnoth")
    return _limited(rule_clips("wesnoth", found, WESNOTH_RULES, WESNOTH_LICENCE), limit)


# ---- LinCity-NG ------------------------------------------------------------------------------
LINCITY_LICENCE = "GPL-2+ (lincity-ng-data)"
LINCITY_RULES: list[Rule] = [
    (r"sounds/Fire\d$", "crackling fire", "A fire burns."),
    (r"sounds/Water\d$", "flowing water", "Water flows."),
    (r"sounds/RailTrain\d$", "train", "A train passes."),
    (r"sounds/(Rocket\d|RocketTakeoff\d)$", "rocket", "A rocket engine roars."),
    (r"sounds/RocketExplosion\d$", "explosion", "A rocket explodes."),
    (r"sounds/SportsCroud\d$", "crowd cheering", "A crowd cheers at a sports ground."),
    (r"sounds/Trafic(High|Low)\d$", "traffic", "Road traffic passes."),
    (r"sounds/Blacksmith\d$", "anvil", "A blacksmith hammers on an anvil."),
    (r"sounds/School\d$", "children playing", "Children play and shout."),
    (r"sounds/Click$", "click", "A click."),
    (r"sounds/Industry(High|Light)\d$", "factory noise", "Machines run in a factory."),
    (r"sounds/FireStation\d$", "siren", "A fire engine's siren."),
    (r"sounds/ParklandPlane\d$", "airplane", "An airplane flies over a park."),
    (r"sounds/Substation(\d|On|Off)$", "hum", "An electric hum."),
    (r"music/", "music", "Background music from a game."),
]


def load_lincity(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    found = found_files(root or LINCITY, "lincity_ng")
    return _limited(rule_clips("lincity_ng", found, LINCITY_RULES, LINCITY_LICENCE), limit)


# ---- Minetest --------------------------------------------------------------------------------
MINETEST_LICENCE = "CC-BY-SA-3.0 / CC0 per file (minetest-data)"
MINETEST_RULES: list[Rule] = [
    (r"_(dirt|grass|gravel|hard|ice|metal|sand|snow|wood)_footstep", "footsteps", "Footsteps."),
    (r"_water_footstep", "splash", "Feet splash through water."),
    (r"_break_glass", "glass breaking", "Glass shatters."),
    (r"_dig_(choppy|cracky|crumbly)|_gravel_dig", "digging", "Someone digs."),
    (r"_furnace_active|fire_fire|fire_(large|small)$", "crackling fire", "A fire crackles."),
    (r"player_damage$", "grunt", "Someone grunts in pain."),
    (r"_(door|fencegate|glass_door|steel_door|steel_bar_door)_open$", "door open", "A door opens."),
    (r"_(door|fencegate|glass_door|steel_door|steel_bar_door)_close$", "door close", "A door closes."),
    (r"env_sounds_water", "flowing water", "Water flows."),
    (r"tnt_explode$", "explosion", "An explosion."),
    (r"tnt_gunpowder_burning$|_cool_lava\.\d$", "sizzle", "Something sizzles."),
    (r"_place_node(_hard|_metal)?\.\d$|_dug_node\.\d$", "thud", "A block is put down with a thud."),
    (r"fire_flint_and_steel$", "scrape", "Flint scrapes on steel."),
    (r"_chest_(open|close)$", "creak", "A chest creaks."),
]


def load_minetest(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    found = found_files(root or MINETEST, "minetest")
    return _limited(rule_clips("minetest", found, MINETEST_RULES, MINETEST_LICENCE), limit)


# ---- Widelands ---------------------------------------------------------------------------------
WIDELANDS_LICENCE = "GPL-2+ (widelands-data)"
WIDELANDS_RULES: list[Rule] = [  # keys like "sound/animals/wolf_01", "world/critters/duck/duck_00"
    (r"animals/bird\d", "birdsong", "Birds sing."),
    (r"animals/wolf", "wolf", "A wolf howls."),
    (r"animals/frog", "frog", "A frog croaks."),
    (r"animals/crickets", "cricket", "Crickets chirp."),
    (r"animals/(stag|moose)", "deer", ""),
    (r"animals/boar", "pig", "A wild boar grunts."),
    (r"farm/donkey", "donkey", "A donkey brays."),
    (r"farm/horse", "horse", "A horse neighs."),
    (r"farm/ox", "cow", "An ox lows."),
    (r"farm/sheep", "sheep", "A sheep bleats."),
    (r"critters/duck/", "duck", "A duck quacks."),
    (r"/saw/(sawing|benchsaw)|sawmill/", "saw", "Wood is sawn."),
    (r"hammering/hammering|smiths/(smith|toolsmith)_", "hammer", "A hammer strikes metal."),
    (r"woodcutting/(fast_)?woodcutting", "chopping wood", "Someone chops wood."),
]


def load_widelands(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    found = found_files(root or WIDELANDS, "widelands")
    return _limited(rule_clips("widelands", found, WIDELANDS_RULES, WIDELANDS_LICENCE), limit)
