"""Sonic Pi samples (`sonic-pi-samples`, CC0): 165 Freesound samples named by category."""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import audio_files, file_recipe
from instruction_data.adapters.debian.rules import Rule, match
from instruction_data.clips import Clip, safe_id

ROOT = Path("/usr/share/sonic-pi/samples")

RULES: list[Rule] = [
    (r"^ambi_choir", "choir", "A choir sings a sustained chord."),
    (r"^ambi_piano", "piano", "Soft ambient piano notes."),
    (r"^ambi_(dark_woosh|swoosh)", "whoosh", ""),
    (r"^ambi_glass", "glass clink", "A glass is rubbed and hums."),
    (r"^ambi_", "synthesizer pad", "An ambient synthesizer drone."),
    (r"^bass_", "bass synthesizer", "A deep synthesizer bass note."),
    (r"^(bd_|drum_bass|drum_heavy_kick|elec_.*kick)", "bass drum", "A bass drum kick."),
    (r"^drum_cowbell", "cowbell", "A cowbell is struck."),
    (r"^drum_cymbal_(closed|pedal)", "hi-hat", "A closed hi-hat is struck."),
    (r"^(drum_cymbal|drum_splash|elec_cymbal)", "crash cymbal", "A cymbal crashes."),
    (r"^drum_roll", "drum roll", "A drum roll."),
    (r"^(drum_snare|sn_|elec_.*snare)", "snare drum", "A snare drum hit."),
    (r"^(drum_tom|elec_fuzz_tom)", "tom drum", "A tom drum hit."),
    (r"^elec_beep", "beep", "An electronic beep."),
    (r"^elec_bell", "bell", "An electronic bell rings."),
    (r"^elec_chime", "chime", "An electronic chime."),
    (r"^elec_triangle", "triangle", "A triangle rings."),
    (r"^elec_wood", "wood block", "A wood block is knocked."),
    (r"^elec_", "electronic blip", "A short electronic blip."),
    (r"^glitch_robot|^mehackit_robot", "robot sound", "Robotic electronic sounds."),
    (r"^glitch_", "glitch", "Glitchy electronic percussion."),
    (r"^guit_", "electric guitar", "An electric guitar plays."),
    (r"^loop_tabla", "tabla", "A tabla rhythm."),
    (r"^loop_3d_printer", "3d printer", "A 3D printer is running."),
    (r"^loop_(amen|breakbeat|perc|safari|compus)", "drum loop", "A looping drum beat."),
    (r"^loop_industrial", "factory noise", "Rhythmic industrial machine noise."),
    (r"^loop_", "electronic music", "A loop of electronic music."),
    (r"^mehackit_phone", "ringtone", "A phone rings with an electronic tone."),
    (r"^misc_burp", "burp", "Someone burps."),
    (r"^misc_cineboom", "explosion", "A deep cinematic boom."),
    (r"^misc_crow", "crow", "A crow caws."),
    (r"^perc_bell", "bell", "A bell rings."),
    (r"^perc_door", "door", "A door knocks shut."),
    (r"^perc_impact", "object falling", "A heavy impact."),
    (r"^perc_snap", "finger snap", "A finger snap."),
    (r"^perc_(swash|swoosh)", "whoosh", ""),
    (r"^perc_till", "cash register", "A cash register opens with a ring."),
    (r"^tabla_", "tabla", "A single tabla stroke."),
    (r"^vinyl_hiss", "vinyl hiss", "The hiss and crackle of a vinyl record."),
    (r"^vinyl_", "vinyl scratch", "A vinyl record is scratched."),
]


def load(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    clips = []
    for path in audio_files(root or ROOT):
        found = match(path.stem, RULES)
        if found:
            labels, caption = found
            clips.append(Clip(id=safe_id("sonic_pi", path.stem), dataset="sonic_pi", recipe=file_recipe(path),
                              labels=labels, caption=caption, kind="music" if "music" in labels else "sound",
                              licence="CC0 (sonic-pi-samples, from Freesound)"))
    return clips if limit is None else clips[:limit]
