"""Tones, sweeps, noise and clicks with exact counts, pitches, timings and levels.

`plan_tones` draws every parameter into a recipe ({"op": "tones", "parts": [...]}) and
`render_tones` turns a recipe into samples without further randomness (noise uses the seed
stored in the recipe).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from instruction_data.clips import Clip, Event, safe_id
from instruction_data.taxonomy import expand
from instruction_data.text import number_word, seconds

SR = 16_000
LICENCE = "generated (numpy)"
WAVES = {"sine": "sine tone", "square": "square tone", "saw": "sawtooth tone"}
NOISES = ("white", "pink", "brown")


def _part(kind: str, onset: float, dur: float, **kw: Any) -> dict[str, Any]:
    return {"kind": kind, "onset": round(onset, 3), "dur": round(dur, 3), **kw}


def _plan_beeps(rng: random.Random, i: int) -> Clip:
    n, freq = rng.randint(1, 8), rng.choice([300, 440, 523, 660, 880, 1000, 1200, 1500, 2000])
    dur, gap = rng.uniform(0.08, 0.3), rng.uniform(0.15, 0.5)
    t, parts, events = rng.uniform(0.1, 0.6), [], []
    for _ in range(n):
        parts.append(_part("sine", t, dur, freq=freq))
        events.append(Event("beep", round(t, 3), round(t + dur, 3)))
        t += dur + gap
    words = number_word(n)
    return _clip(f"beeps{i:04d}", ["beep"], f"{words.capitalize()} short {freq} Hz beep{'s' * (n > 1)}.", parts,
                 t + 0.3, rng, events=events, count=n, count_label="beep", pitch_hz=freq, pitch_contour="steady")


def _plan_tone(rng: random.Random, i: int) -> Clip:
    wave = rng.choice(sorted(WAVES))
    freq, dur = rng.choice([110, 220, 330, 440, 550, 660, 880, 1320, 1760, 2640, 3520]), rng.uniform(0.8, 4.0)
    caption = f"A steady {freq} Hz {WAVES[wave]} lasting {seconds(dur)}."
    return _clip(f"tone{i:04d}", [WAVES[wave]], caption, [_part(wave, 0.2, dur, freq=freq)], dur + 0.4, rng,
                 pitch_hz=freq, pitch_contour="steady")


def _plan_sweep(rng: random.Random, i: int) -> Clip:
    lo, hi = rng.choice([150, 200, 300, 400]), rng.choice([1000, 1500, 2000, 3000])
    rising, dur = rng.random() < 0.5, rng.uniform(1.0, 4.0)
    f0, f1 = (lo, hi) if rising else (hi, lo)
    contour = "rising" if rising else "falling"
    caption = f"A tone sweeps {'up' if rising else 'down'} from {f0} Hz to {f1} Hz."
    return _clip(f"sweep{i:04d}", ["tone sweep"], caption, [_part("sweep", 0.2, dur, freq=f0, freq_end=f1)],
                 dur + 0.4, rng, pitch_contour=contour)


def _plan_noise(rng: random.Random, i: int) -> Clip:
    color, dur = rng.choice(NOISES), rng.uniform(1.0, 4.0)
    return _clip(f"noise{i:04d}", [f"{color} noise"], f"A burst of {color} noise lasting {seconds(dur)}.",
                 [_part("noise", 0.2, dur, color=color, seed=rng.randrange(2**31))], dur + 0.4, rng)


def _plan_clicks(rng: random.Random, i: int) -> Clip:
    n, gap = rng.randint(1, 10), rng.uniform(0.2, 0.6)
    t, parts, events = rng.uniform(0.1, 0.5), [], []
    for _ in range(n):
        parts.append(_part("click", t, 0.01))
        events.append(Event("click", round(t, 3), round(t + 0.01, 3)))
        t += gap
    return _clip(f"clicks{i:04d}", ["click"], f"{number_word(n).capitalize()} click{'s' * (n > 1)}.", parts,
                 t + 0.2, rng, events=events, count=n, count_label="click")


def _plan_pair(rng: random.Random, i: int) -> Clip:
    f0 = rng.choice([220, 330, 440, 660, 880])
    f1 = rng.choice([f for f in (220, 330, 440, 660, 880, 1320) if f != f0])
    d = rng.uniform(0.4, 1.0)
    higher = "higher" if f1 > f0 else "lower"
    parts = [_part("sine", 0.2, d, freq=f0), _part("sine", 0.4 + d, d, freq=f1)]
    events = [Event("sine tone", 0.2, round(0.2 + d, 3)), Event("sine tone", round(0.4 + d, 3), round(0.4 + 2 * d, 3))]
    return _clip(f"pair{i:04d}", ["sine tone"], f"Two tones: {f0} Hz, then a {higher} {f1} Hz tone.", parts,
                 0.6 + 2 * d, rng, events=events, pitch_hz=f0, pitch_contour="rising" if f1 > f0 else "falling")


PLANNERS = (_plan_beeps, _plan_tone, _plan_sweep, _plan_noise, _plan_clicks, _plan_pair)


def _clip(name: str, labels: list[str], caption: str, parts: list[dict], duration: float, rng: random.Random,
          **kw: Any) -> Clip:
    gain_db = round(rng.uniform(-30.0, -3.0), 1)
    recipe = {"op": "tones", "parts": parts, "duration": round(min(duration, 10.0), 3), "gain_db": gain_db}
    return Clip(id=safe_id("tones", name), dataset="synth_tones", recipe=recipe, labels=expand(labels),
                caption=caption, kind="tone", licence=LICENCE, **kw)


def plan_tones(n: int, seed: int) -> list[Clip]:
    """`n` tone clips, cycling through the kinds."""
    rng = random.Random(seed)
    return [PLANNERS[i % len(PLANNERS)](rng, i) for i in range(n)]


def _noise(color: str, n: int, seed: int) -> np.ndarray:
    white = np.random.default_rng(seed).standard_normal(n)
    if color == "white":
        return white
    spectrum = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    spectrum /= np.sqrt(f) if color == "pink" else f
    out = np.fft.irfft(spectrum, n)
    return out / (np.abs(out).max() + 1e-9)


def _render_part(part: dict[str, Any]) -> np.ndarray:
    n = max(1, int(part["dur"] * SR))
    t = np.arange(n) / SR
    kind = part["kind"]
    if kind == "click":
        return np.concatenate([[1.0, -0.8, 0.5, -0.3], np.zeros(max(0, n - 4))])[:max(n, 4)]
    if kind == "noise":
        x = _noise(part["color"], n, part["seed"]) * 0.5
    elif kind == "sweep":
        f0, f1 = part["freq"], part["freq_end"]
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * part["dur"]))
        x = np.sin(phase)
    else:
        phase = 2 * np.pi * part["freq"] * t
        x = {"sine": np.sin(phase), "square": np.sign(np.sin(phase)) * 0.6,
             "saw": 2 * ((part["freq"] * t) % 1.0) - 1}[kind]
    ramp = min(n // 4, int(0.01 * SR))
    if ramp:
        env = np.ones(n)
        env[:ramp], env[-ramp:] = np.linspace(0, 1, ramp), np.linspace(1, 0, ramp)
        x = x * env
    return x


def render_tones(recipe: dict[str, Any]) -> np.ndarray:
    """A tones recipe -> (T,) float32 at 16 kHz."""
    out = np.zeros(int(recipe["duration"] * SR))
    for part in recipe["parts"]:
        x = _render_part(part)
        start = int(part["onset"] * SR)
        end = min(len(out), start + len(x))
        out[start:end] += x[: end - start]
    return (out * 10 ** (recipe["gain_db"] / 20)).astype(np.float32)
