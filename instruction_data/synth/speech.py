"""Speech synthesized with espeak-ng: known text, language, voice (gender, accent) and speed."""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from instruction_data.adapters.debian import tuxpaint
from instruction_data.clips import Clip, safe_id
from instruction_data.errors import DataError
from instruction_data.synth.sentences import COMMANDS, long_sentences, passages, sentences

# espeak-ng voice -> accent description
ENGLISH_VOICES = {"en-us": "an American", "en-gb": "a British", "en-gb-scotland": "a Scottish",
                  "en-029": "a Caribbean", "en-gb-x-rp": "a British (Received Pronunciation)",
                  "en-gb-x-gbclan": "a Lancashire", "en-us-nyc": "a New York", "en-gb-x-gbcwmd": "a West Midlands"}
# variant -> (gender, extra description)
VARIANTS = {"m1": ("male", ""), "m2": ("male", ""), "m3": ("male", ""), "m4": ("male", ""), "m7": ("male", ""),
            "f1": ("female", ""), "f2": ("female", ""), "f3": ("female", ""), "f4": ("female", ""),
            "f5": ("female", ""), "whisper": ("male", "whispering"), "croak": ("male", "croaky")}
# more espeak-ng variants whose gender their files state (used for long sentences: many voices)
MORE_VARIANTS = {
    **{v: ("female", "") for v in ("Alicia", "Andrea", "Annie", "anika", "aunty", "belinda", "grandma", "linda",
                                   "steph", "steph2", "steph3")},
    **{v: ("male", "") for v in ("Andy", "Denis", "Diogo", "Henrique", "Hugo", "Lee", "Marco", "Storm", "antonio",
                                 "m5", "m6", "m8", "michel", "miguel", "sandro", "travis", "victor")},
    "whisperf": ("female", "whispering"),
}
# tuxpaint caption language -> (espeak voice, language name)
FOREIGN = {"de": ("de", "German"), "it": ("it", "Italian"), "pt": ("pt", "Portuguese"), "pl": ("pl", "Polish"),
           "sv": ("sv", "Swedish"), "fi": ("fi", "Finnish"), "tr": ("tr", "Turkish"), "cs": ("cs", "Czech"),
           "hu": ("hu", "Hungarian"), "es": ("es", "Spanish"), "fr": ("fr-fr", "French"), "nl": ("nl", "Dutch")}
LICENCE = "generated (espeak-ng, GPL-3; text generated or from tuxpaint-stamps-default captions)"


def speaker_text(voice: str, variant: str) -> str:
    gender, extra = VARIANTS.get(variant) or MORE_VARIANTS[variant]
    accent = ENGLISH_VOICES.get(voice)
    desc = f"a {extra + ' ' if extra else ''}{gender} voice"
    return f"{desc} with {accent} accent" if accent else desc


def _clip(cid: str, text: str, voice: str, variant: str, speed: int, language: str, group: str) -> Clip:
    speaker = speaker_text(voice, variant)
    return Clip(id=cid, dataset="synth_speech",
                recipe={"op": "speech", "text": text, "voice": voice, "variant": variant, "speed": speed},
                labels=["speech"], caption=f"{speaker[0].upper()}{speaker[1:]} says: \"{text}\"", transcript=text,
                speaker=speaker, language=language, kind="speech", group=group, licence=LICENCE,
                origin=f"synth_speech:{voice}")


def plan_speech(seed: int, n_sentences: int = 500, n_commands: int = 150, n_foreign: int = 150,
                n_long: int = 0, n_passages: int = 0, held_out: tuple[str, ...] = ()) -> list[Clip]:
    """Recipes for English sentences, one-word commands, short foreign-language captions,
    `n_long` sentences of 8-30 words and `n_passages` passages of 2-3 sentences (12-22 words), both spoken by many
    voices and variants. Passages are training material: no voice of `held_out` (the build's test_ood sources,
    `synth_speech:<voice>`) speaks one, so adding them leaves the held-out split as it was."""
    rng = random.Random(seed)
    clips: list[Clip] = []
    voices, variants = sorted(ENGLISH_VOICES), sorted(VARIANTS)
    for i, text in enumerate(sentences(n_sentences, seed)):
        clips.append(_clip(safe_id("speech", f"s{i:04d}"), text, rng.choice(voices), rng.choice(variants),
                           rng.randrange(120, 200, 10), "English", f"text:{text.lower()}"))
    for i in range(n_commands):
        word = COMMANDS[i % len(COMMANDS)]
        clips.append(_clip(safe_id("speech", f"c{i:04d}"), word, rng.choice(voices), rng.choice(variants),
                           rng.randrange(120, 200, 10), "English", f"text:{word}"))
    clips += _plan_foreign(rng, n_foreign)
    every_variant = sorted({*VARIANTS, *MORE_VARIANTS})
    for i, text in enumerate(long_sentences(n_long, seed)):
        clips.append(_clip(safe_id("speech", f"l{i:04d}"), text, rng.choice(voices), rng.choice(every_variant),
                           rng.randrange(130, 190, 10), "English", f"text:{text.lower()}"))
    voices_heard = [v for v in voices if f"synth_speech:{v}" not in held_out and "synth_speech" not in held_out]
    for i, text in enumerate(passages(n_passages if voices_heard else 0, seed)):  # 160-190 words a minute: < 10 s
        clips.append(_clip(safe_id("speech", f"p{i:04d}"), text, rng.choice(voices_heard), rng.choice(every_variant),
                           rng.randrange(160, 200, 10), "English", f"text:{text.lower()}"))
    return clips


def plan_piper(seed: int, n: int) -> list[Clip]:
    """`n` sentences of 8-30 words spoken by Piper's joe voice at varied speeds (none when not installed)."""
    from instruction_data.synth import piper

    if n <= 0 or not piper.available():
        return []
    rng = random.Random(f"{seed}:piper")
    clips = []
    for i, text in enumerate(long_sentences(n, seed + 7919)):
        clips.append(Clip(id=safe_id("piper", f"{i:04d}"), dataset="piper_speech",
                          recipe={"op": "piper", "text": text, "length_scale": round(rng.uniform(0.85, 1.2), 2)},
                          labels=["speech"], caption=f"A man with an American accent says: \"{text}\"",
                          transcript=text, speaker=piper.SPEAKER, language="English", kind="speech",
                          group=f"text:{text.lower()}", licence=piper.LICENCE, origin="piper_speech"))
    return clips


def _plan_foreign(rng: random.Random, n: int) -> list[Clip]:
    """Tux Paint captions in other languages, spoken by espeak-ng (none without tuxpaint)."""
    if not tuxpaint.ROOT.exists() or n <= 0:
        return []
    pool = []
    for txt in sorted(tuxpaint.ROOT.rglob("*.txt")):
        if "/symbols/" in str(txt):
            continue
        captions = tuxpaint.read_captions(txt)
        for lang, (voice, name) in FOREIGN.items():
            text = captions.get(lang, "")
            if 3 <= len(text) <= 80:
                pool.append((lang, voice, name, text, f"tuxpaint:{txt.with_suffix('')}"))
    rng.shuffle(pool)
    variants = sorted(v for v in VARIANTS if VARIANTS[v][1] == "")
    return [_clip(safe_id("speech", f"{lang}{i:04d}"), text, voice, rng.choice(variants),
                  rng.randrange(130, 180, 10), name, group)
            for i, (lang, voice, name, text, group) in enumerate(pool[:n])]


def synthesize(text: str, voice: str, variant: str, speed: int) -> tuple[np.ndarray, int]:
    """espeak-ng -> (samples, sample rate)."""
    import soundfile as sf

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise DataError("espeak-ng is not installed: `apt-get install espeak-ng` (see scripts/debian-packages.txt)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", f"{voice}+{variant}", "-s", str(speed), "-w", str(out), "--", text],
                       check=True, capture_output=True, timeout=60)
        wave, sr = sf.read(str(out), dtype="float32")
    return wave, sr
