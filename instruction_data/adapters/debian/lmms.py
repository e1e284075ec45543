"""LMMS samples (`lmms-common`, GPL-2+): drums, instruments, basses, effects, misc, by folder
and name. Single-cycle waveforms (shapes/, waveforms/) are left out."""

from __future__ import annotations

from pathlib import Path

from instruction_data.adapters.common import audio_files, file_recipe
from instruction_data.adapters.debian.rules import Rule, match
from instruction_data.clips import Clip, safe_id

ROOT = Path("/usr/share/lmms/samples")

# matched against "folder/stem"
RULES: list[Rule] = [
    (r"^(shapes|waveforms|drumsynth)/", None, ""),
    (r"^drums/(bassdrum|kick)|^beats/rave_kick", "bass drum", "A bass drum kick."),
    (r"^drums/clap", "clap", "A hand clap."),
    (r"^drums/clav", "claves", "Claves click."),
    (r"^drums/crash", "crash cymbal", "A cymbal crashes."),
    (r"^drums/hihat|^beats/rave_hihat", "hi-hat", "A hi-hat is struck."),
    (r"^drums/ride", "ride cymbal", "A ride cymbal rings."),
    (r"^drums/(rim|sidestick|snare_rim|nasty_rim)", "rimshot", "A rimshot clicks."),
    (r"^drums/shaker", "shaker", "A shaker is shaken."),
    (r"^drums/(snare|nasty_snare)|^beats/rave_snare", "snare drum", "A snare drum hit."),
    (r"^drums/tom", "tom drum", "A tom drum hit."),
    (r"^drums/wood", "wood block", "A wood block is knocked."),
    (r"^drums/zap", "zap", "An electronic zap."),
    (r"^drums/nasty_bass", "bass drum", "A distorted bass drum."),
    (r"^basses/", "bass synthesizer", "A synthesizer bass line."),
    (r"^bassloops/", "bass synthesizer", "A looping synthesizer bass line."),
    (r"^beats/", "drum loop", "A looping drum beat."),
    (r"^effects/explode", "explosion", "An explosion."),
    (r"^effects/wind_chimes", "chime", "Wind chimes tinkle."),
    (r"^effects/", "whoosh", "A synthesized sweeping sound effect."),
    (r"^instruments/church_organ", "church organ", "A church organ plays."),
    (r"^instruments/cello", "cello", "A cello plays."),
    (r"^instruments/bassslap", "bass guitar", "A slapped bass guitar."),
    (r"^instruments/steel_guitar_(medium|heavy)", "electric guitar", "A distorted guitar plays."),
    (r"^instruments/steel_guitar", "acoustic guitar", "A steel-string guitar plays."),
    (r"^instruments/trumpet", "trumpet", "A trumpet plays."),
    (r"^instruments/flute", "flute", "A flute plays."),
    (r"^instruments/violin", "violin", "A violin plays."),
    (r"^instruments/piano", "piano", "A piano plays."),
    (r"^instruments/e_organ", "electric organ", "An electric organ plays."),
    (r"^instruments/e_piano", "electric piano", "An electric piano plays a chord."),
    (r"^instruments/harpsichord", "harpsichord", "A harpsichord plays."),
    (r"^latin/latin_guitar", "acoustic guitar", "A Latin guitar phrase."),
    (r"^latin/latin_brass", "brass", "A Latin brass section plays."),
    (r"^misc/applause", "applause", "An audience applauds."),
    (r"^misc/breath", "breathing", "Someone breathes in and out."),
    (r"^misc/raving_crowd", "crowd cheering", "A crowd cheers."),
    (r"^misc/metronome", "clock ticking", "A metronome ticks."),
    (r"^misc/(dong|metalish_dong)", "bell", "A metallic bell dongs."),
    (r"^misc/snaph", "finger snap", "A finger snap."),
    (r"^stringsnpads/(strings|orion_string|heaven_strings|space_strings)", "synthesizer pad",
     "Sustained synthesizer strings."),
    (r"^stringsnpads/(chorus|rave_choir|bell_choir)", "choir", "A synthesized choir sings."),
    (r"^stringsnpads/", "synthesizer pad", "A sustained synthesizer pad."),
]


def load(root: Path | None = None, limit: int | None = None) -> list[Clip]:
    root = root or ROOT
    clips = []
    for path in audio_files(root):
        key = path.relative_to(root).with_suffix("").as_posix()
        found = match(key, RULES)
        if found:
            labels, caption = found
            clips.append(Clip(id=safe_id("lmms", key), dataset="lmms", recipe=file_recipe(path), labels=labels,
                              caption=caption, kind="music" if "music" in labels else "sound",
                              licence="GPL-2+ (lmms-common)"))
    return clips if limit is None else clips[:limit]
