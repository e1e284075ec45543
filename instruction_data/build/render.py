"""Recipes -> 16 kHz mono wav files, with duration and loudness measured.

Each recipe op has one function here. Rendering is pure (randomness lives in the recipe),
so the same plan gives the same bytes; a wav that already exists is read back, not redone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from alm.audio import SAMPLE_RATE, decode_audio_bytes, load_audio, to_mono_16k
from instruction_data.clips import Clip
from instruction_data.files import atomic_write_wav

SR = SAMPLE_RATE
SILENCE = 1e-3  # edge trimming threshold (about -60 dBFS)
MIN_SECONDS = 0.1
MIX_RMS_DB = -20.0  # parts of a mix are levelled to this RMS before their gain


class RenderContext:
    """Where rendered clips live; `wave(id)` reads one back (for mixes and augmentations)."""

    def __init__(self, root: Path, clips: dict[str, Clip]) -> None:
        self.root, self.clips = root, clips

    def path(self, clip: Clip) -> Path:
        return self.root / audio_path(clip)

    def wave(self, clip_id: str) -> np.ndarray:
        wave, _ = sf.read(str(self.path(self.clips[clip_id])), dtype="float32")
        return wave


READ_OPS = ("file", "rcc", "zip")  # audio read from a file: the id names it for good


def audio_path(clip: Clip) -> str:
    """Path of a clip's wav relative to the corpus root. A generated or derived clip's name carries a
    hash of its recipe: its id is an index in a plan, so a rebuild whose plan changed (other sources,
    counts or voices) must not reuse an old wav under the same id."""
    if clip.sources or clip.recipe.get("op") not in READ_OPS:
        digest = hashlib.sha256(json.dumps(clip.recipe, sort_keys=True).encode()).hexdigest()[:8]
        return f"audio/{clip.dataset}/{clip.id}-{digest}.wav"
    return f"audio/{clip.dataset}/{clip.id}.wav"


def rms_db(wave: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(wave, dtype=np.float64))) + 1e-9))


def _trim(wave: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(wave) > SILENCE)
    return wave[loud[0]: loud[-1] + 1] if loud.size else wave[:0]


def _cut(wave: np.ndarray, recipe: dict[str, Any]) -> np.ndarray:
    start = int(recipe.get("start", 0.0) * SR)
    end = int(recipe["end"] * SR) if recipe.get("end") is not None else None
    return _trim(wave[start:end])


def _file(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    return _cut(load_audio(recipe["path"]), recipe)


def _rcc(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    from instruction_data.adapters.debian.gcompris import read_member

    data = read_member(recipe["path"], recipe["member"])
    return _cut(decode_audio_bytes(data, f"{recipe['path']}:{recipe['member']}"), recipe)


def _zip(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    from instruction_data.adapters.debian.archives import read_member

    data = read_member(recipe["path"], recipe["member"])
    return _cut(decode_audio_bytes(data, f"{recipe['path']}:{recipe['member']}"), recipe)


def _gm(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    from instruction_data.synth.gm import batch_wave

    x = _cut(batch_wave(recipe, ctx.root / "cache" / "gm"), recipe)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    return x / peak * 0.8 if peak > 0 else x  # levelled: the soundfont's programs differ a lot in gain


def _piper(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    from instruction_data.synth.piper import synthesize

    wave, sr = synthesize(recipe["text"], recipe["length_scale"])
    return _cut(to_mono_16k(wave, sr, "piper"), {"end": 10.0})


def _speech(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    from instruction_data.synth.speech import synthesize

    wave, sr = synthesize(recipe["text"], recipe["voice"], recipe["variant"], recipe["speed"])
    return _cut(to_mono_16k(wave, sr, "espeak-ng"), {"end": 10.0})


def _tones(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    from instruction_data.synth.tones import render_tones

    return render_tones(recipe)


def _mix(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    out = np.zeros(int(recipe["duration"] * SR), dtype=np.float64)
    for part in recipe["parts"]:
        x = ctx.wave(part["clip"])[int(part["start"] * SR): int(part["end"] * SR)].astype(np.float64)
        if part.get("loop") and len(x):
            x = np.resize(x, int(part["fit"] * SR))  # repeat the background to fill the clip
        if len(x) == 0 or rms_db(x) < -70:
            continue  # a silent part adds nothing (and must not be amplified)
        x *= 10 ** ((MIX_RMS_DB - rms_db(x) + part["gain_db"]) / 20)
        start = int(part["onset"] * SR)
        end = min(len(out), start + len(x))
        out[start:end] += x[: end - start]
    peak = np.abs(out).max()
    return (out / peak * 0.95 if peak > 0.99 else out).astype(np.float32)


def _reverb_ir(rt60: float, seed: int) -> np.ndarray:
    n = int(rt60 * SR)
    decay = np.exp(-6.9 * np.arange(n) / n)  # -60 dB at rt60
    ir = np.random.default_rng(seed).standard_normal(n) * decay * 0.3
    ir[0] = 1.0
    return ir


PHONE_BAND = (300.0, 3400.0)  # Hz: the voice band of a telephone line
MU = 255  # G.711 mu-law


def phone_line(x: np.ndarray) -> np.ndarray:
    """The signal as a telephone line carries it: band-limited to PHONE_BAND, companded to 8-bit mu-law (G.711) and
    low-passed at 4 kHz, the Nyquist limit of its 8 kHz sampling, so the quantisation noise stays in that band."""
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    spectrum = np.fft.rfft(x)
    spectrum[(freqs < PHONE_BAND[0]) | (freqs > PHONE_BAND[1])] = 0
    voice = np.fft.irfft(spectrum, len(x))
    peak = float(np.abs(voice).max())
    if peak == 0:
        return voice
    y = voice / peak
    code = np.round(np.sign(y) * np.log1p(MU * np.abs(y)) / np.log1p(MU) * 127) / 127  # 8 bits: 255 levels
    y = np.sign(code) * np.expm1(np.abs(code) * np.log1p(MU)) / MU
    spectrum = np.fft.rfft(y)
    spectrum[freqs > SR / 4] = 0
    return np.fft.irfft(spectrum, len(x)) * peak


def _augment(recipe: dict[str, Any], ctx: RenderContext) -> np.ndarray:
    x = ctx.wave(recipe["clip"]).astype(np.float64)
    for op in recipe["ops"]:
        kind = op["op"]
        if kind == "gain":
            x = x * 10 ** (op["db"] / 20)
        elif kind == "noise":
            noise = np.random.default_rng(op["seed"]).standard_normal(len(x))
            x = x + noise * 10 ** ((rms_db(x) - op["snr_db"]) / 20)
        elif kind == "speed":  # play faster/slower: pitch and tempo change together
            x = to_mono_16k(x.astype(np.float32), int(round(SR * op["factor"]))).astype(np.float64)
        elif kind == "shift":
            x = np.concatenate([np.zeros(int(op["seconds"] * SR)), x])
        elif kind == "phone":
            x = phone_line(x)
        elif kind == "reverb":
            ir = _reverb_ir(op["rt60"], op["seed"])
            size = len(x) + len(ir) - 1
            wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)
            x = wet[: len(x) + int(0.3 * SR)] * (np.abs(x).max() / (np.abs(wet).max() + 1e-9))
    x = x[: int(10.0 * SR)]
    peak = np.abs(x).max()
    return (x / peak * 0.95 if peak > 0.99 else x).astype(np.float32)


OPS: dict[str, Callable[[dict[str, Any], RenderContext], np.ndarray]] = {
    "file": _file, "rcc": _rcc, "zip": _zip, "gm": _gm, "piper": _piper, "speech": _speech, "tones": _tones,
    "mix": _mix, "augment": _augment,
}


def render(clip: Clip, ctx: RenderContext) -> Clip:
    """Make (or reuse) the clip's wav and fill `audio`, `duration`, `loudness_db`.

    Raises AudioError (a subclass of AlmError) when the source cannot be decoded or is too short.
    """
    from alm.errors import AudioError

    path = ctx.path(clip)
    if path.is_file():
        wave, _ = sf.read(str(path), dtype="float32")
    else:
        wave = OPS[clip.recipe["op"]](clip.recipe, ctx)
        if len(wave) < MIN_SECONDS * SR:
            raise AudioError(f"{clip.id}: shorter than {MIN_SECONDS} s after trimming silence")
        peak = float(np.abs(wave).max())
        if peak > 1.0:
            wave = wave / peak * 0.99
        atomic_write_wav(path, wave, SR)
        wave, _ = sf.read(str(path), dtype="float32")  # measure what was written (16-bit)
    clip.audio = audio_path(clip)
    clip.duration = round(len(wave) / SR, 3)
    clip.loudness_db = round(rms_db(wave), 1)
    return clip
