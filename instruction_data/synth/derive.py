"""Clips made from rendered clips of one split: sequences at known onsets, repeats for counting,
speech over a background, speech over a telephone line, and label-preserving augmentations for classes with few
clips.

Planners take the split's rendered clips (durations known) and return new `Clip`s whose
recipes name their parts by clip id; `sources` lists those ids and `group` joins them, so a
derived clip never crosses splits.
"""

from __future__ import annotations

import random
from collections import Counter

from instruction_data.clips import Clip, Event, safe_id
from instruction_data.taxonomy import expand, related
from instruction_data.text import capitalize, number_word, with_article

MAX_PART = 3.0
MAX_TOTAL = 10.0
LICENCE = "derived: see the licences of the source clips"


def _sounds(clips: list[Clip], max_duration: float | None = None) -> list[Clip]:
    return [c for c in clips if c.labels and c.kind != "speech" and c.duration >= 0.2 and not c.sources
            and (max_duration is None or c.duration <= max_duration)]


def _derived(cid: str, parts: list[Clip], recipe: dict, labels: list[str], caption: str, **kw) -> Clip:
    ids = [p.id for p in parts]
    group = "+".join(sorted({p.group for p in parts}))
    origin = "+".join(sorted({p.origin for p in parts}))
    return Clip(id=cid, dataset="synth_mix", recipe=recipe, labels=labels, caption=caption, sources=ids,
                group=group, licence=LICENCE, origin=origin, **kw)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def plan_sequences(clips: list[Clip], n: int, seed: int, prefix: str) -> list[Clip]:
    """2-3 different sounds one after another, with their onsets and offsets."""
    rng, pool, out = random.Random(seed), _sounds(clips), []
    if len(pool) < 3:
        return out
    for i in range(n * 3):
        if len(out) >= n:
            break
        k = rng.choice([2, 2, 3])
        chosen: list[Clip] = []
        for clip in rng.sample(pool, min(len(pool), 12)):
            if clip.label not in related([c.label for c in chosen]):
                chosen.append(clip)
            if len(chosen) == k:
                break
        if len(chosen) < 2:
            continue
        t, parts, events = rng.uniform(0.1, 0.6), [], []
        for clip in chosen:
            length = min(clip.duration, MAX_PART)
            parts.append({"clip": clip.id, "onset": round(t, 3), "start": 0.0, "end": round(length, 3),
                          "gain_db": round(rng.uniform(-6, 0), 1)})
            events.append(Event(clip.label, round(t, 3), round(t + length, 3)))
            t += length + rng.uniform(0.2, 1.0)
        if t > MAX_TOTAL:
            continue
        caption = capitalize(", then ".join(with_article(e.label) for e in events)) + "."
        recipe = {"op": "mix", "parts": parts, "duration": round(min(t, MAX_TOTAL), 3)}
        out.append(_derived(safe_id(prefix, "seq", f"{i:04d}"), chosen, recipe, expand([e.label for e in events]),
                            caption, events=events, kind="sound"))
    return out


def plan_repeats(clips: list[Clip], n: int, seed: int, prefix: str) -> list[Clip]:
    """One short sound repeated 1-6 times: exact counts for counting questions."""
    rng, pool, out = random.Random(seed), _sounds(clips, max_duration=1.2), []
    for i in range(n if pool else 0):
        clip, count = rng.choice(pool), rng.randint(1, 6)
        gap = rng.uniform(0.2, 0.8)
        t, parts, events = rng.uniform(0.1, 0.5), [], []
        for _ in range(count):
            parts.append({"clip": clip.id, "onset": round(t, 3), "start": 0.0, "end": round(clip.duration, 3),
                          "gain_db": 0.0})
            events.append(Event(clip.label, round(t, 3), round(t + clip.duration, 3)))
            t += clip.duration + gap
        if t > MAX_TOTAL:
            continue
        times = "once" if count == 1 else "twice" if count == 2 else f"{number_word(count)} times"
        caption = f"{capitalize(with_article(clip.label))} sounds {times}."
        recipe = {"op": "mix", "parts": parts, "duration": round(t, 3)}
        out.append(_derived(safe_id(prefix, "rep", f"{i:04d}"), [clip], recipe, list(clip.labels), caption,
                            events=events, count=count, count_label=clip.label, kind=clip.kind))
    return out


def plan_speech_scenes(clips: list[Clip], n: int, seed: int, prefix: str) -> list[Clip]:
    """A voice over a quieter background sound: transcript and background label both known."""
    rng = random.Random(seed)
    speech = [c for c in clips if c.kind == "speech" and c.transcript and not c.sources and c.duration <= 8]
    backgrounds = [c for c in _sounds(clips) if c.duration >= 1.0]
    out = []
    for i in range(n if speech and backgrounds else 0):
        voice, bg = rng.choice(speech), rng.choice(backgrounds)
        length = round(voice.duration + 0.6, 3)
        parts = [{"clip": bg.id, "onset": 0.0, "start": 0.0, "end": round(min(bg.duration, length), 3),
                  "gain_db": round(rng.uniform(-16, -8), 1), "loop": True, "fit": length},
                 {"clip": voice.id, "onset": 0.3, "start": 0.0, "end": round(voice.duration, 3), "gain_db": 0.0}]
        caption = f"{voice.caption} In the background, {_lower_first(bg.caption)}"
        recipe = {"op": "mix", "parts": parts, "duration": length}
        events = [Event(bg.label, 0.0, length), Event("speech", 0.3, round(0.3 + voice.duration, 3))]
        out.append(_derived(safe_id(prefix, "scene", f"{i:04d}"), [voice, bg], recipe,
                            expand(["speech", *bg.labels]), caption, events=events, transcript=voice.transcript,
                            speaker=voice.speaker, language=voice.language, kind="speech"))
    return out


def plan_phone_speech(clips: list[Clip], n: int, seed: int, prefix: str) -> list[Clip]:
    """Copies of `n` transcribed speech clips (distinct, drawn by the seed) as heard over a telephone line (render op
    `phone`): same words, speaker and language. A voice recorded for a phone system (Asterisk's prompts, held out in
    corpus v4) sounds unlike every trained voice, and alm-tiny answered "Only a voice." to them beside a transcript it
    had: these teach the LLM that such a voice speaks too."""
    pool = [c for c in clips if c.kind == "speech" and c.transcript and not c.sources]
    out = []
    for clip in random.Random(seed).sample(pool, min(n, len(pool))):
        recipe = {"op": "augment", "clip": clip.id, "ops": [{"op": "phone"}]}
        caption = f"{clip.caption.rstrip()} It sounds like a telephone line."
        out.append(_derived(safe_id(prefix, "phone", clip.id), [clip], recipe, list(clip.labels), caption,
                            transcript=clip.transcript, speaker=clip.speaker, language=clip.language, kind="speech"))
    return out


AUGMENTS = ("gain", "noise", "speed", "shift", "reverb")


def _augment_ops(rng: random.Random) -> list[dict]:
    ops = []
    for name in rng.sample(AUGMENTS, rng.randint(1, 2)):
        if name == "gain":
            ops.append({"op": "gain", "db": round(rng.uniform(-10, 6), 1)})
        elif name == "noise":
            ops.append({"op": "noise", "snr_db": round(rng.uniform(10, 30), 1), "seed": rng.randrange(2**31)})
        elif name == "speed":
            ops.append({"op": "speed", "factor": round(rng.uniform(0.85, 1.15), 3)})
        elif name == "shift":
            ops.append({"op": "shift", "seconds": round(rng.uniform(0.2, 1.0), 3)})
        else:
            ops.append({"op": "reverb", "rt60": round(rng.uniform(0.3, 1.2), 2), "seed": rng.randrange(2**31)})
    return ops


def plan_augmentations(clips: list[Clip], min_per_class: int, seed: int, prefix: str) -> list[Clip]:
    """Variants of clips whose class has fewer than `min_per_class` clips; labels unchanged."""
    rng, pool = random.Random(seed), _sounds(clips)
    counts = Counter(c.label for c in pool)
    out = []
    for clip in pool:
        missing = min_per_class - counts[clip.label]
        per_clip = -(-missing // max(1, counts[clip.label])) if missing > 0 else 0
        for j in range(per_clip):
            ops = _augment_ops(rng)
            recipe = {"op": "augment", "clip": clip.id, "ops": ops}
            aug = Clip(id=safe_id(prefix, "aug", clip.id, str(j)), dataset=clip.dataset, recipe=recipe,
                       labels=list(clip.labels), caption=clip.caption, captions=list(clip.captions),
                       kind=clip.kind, sources=[clip.id], group=clip.group, licence=clip.licence,
                       origin=clip.origin)
            out.append(aug)
    return out


CHANGES = {"gain_up": "the second clip is louder", "gain_down": "the second clip is quieter",
           "noise": "noise was added in the second clip", "reverb": "the second clip has more echo (reverberation)",
           "speed_up": "the second clip is faster and higher pitched",
           "speed_down": "the second clip is slower and lower pitched"}


def change_ops(change: str, rng: random.Random) -> list[dict]:
    """One clearly audible edit, named by a key of CHANGES."""
    return {
        "gain_up": [{"op": "gain", "db": round(rng.uniform(8, 12), 1)}],
        "gain_down": [{"op": "gain", "db": round(rng.uniform(-14, -9), 1)}],
        "noise": [{"op": "noise", "snr_db": round(rng.uniform(3, 8), 1), "seed": rng.randrange(2**31)}],
        "reverb": [{"op": "reverb", "rt60": round(rng.uniform(1.2, 2.0), 2), "seed": rng.randrange(2**31)}],
        "speed_up": [{"op": "speed", "factor": round(rng.uniform(1.25, 1.4), 3)}],
        "speed_down": [{"op": "speed", "factor": round(rng.uniform(0.7, 0.8), 3)}],
    }[change]


def plan_changes(clips: list[Clip], n: int, seed: int, prefix: str) -> list[Clip]:
    """Edited copies of clips (recipe["change"] names the edit) for "what changed?" questions."""
    rng, pool, out = random.Random(seed), _sounds(clips), []
    for i in range(n if pool else 0):
        clip, change = rng.choice(pool), rng.choice(sorted(CHANGES))
        recipe = {"op": "augment", "clip": clip.id, "ops": change_ops(change, rng), "change": change}
        out.append(Clip(id=safe_id(prefix, "chg", f"{i:04d}"), dataset=clip.dataset, recipe=recipe,
                        labels=list(clip.labels), caption=clip.caption, kind=clip.kind, sources=[clip.id],
                        group=clip.group, licence=clip.licence, origin=clip.origin))
    return out


# labels of real ambience usable as a background bed
AMBIENCE = ("rain", "wind", "crackling fire", "flowing water", "ocean waves", "night ambience", "day ambience",
            "city ambience", "traffic", "crowd cheering", "birdsong", "cricket", "hum", "factory noise", "static",
            "diesel engine", "engine")
SNR_RANGE = (-5.0, 20.0)  # dB, foreground over background


def plan_background_mixes(clips: list[Clip], n: int, seed: int, prefix: str) -> list[Clip]:
    """A sound or a voice over a real ambience bed at a random SNR (both labels known, `mix` says which
    is which and the SNR). Foreground and background never share a related label."""
    rng = random.Random(seed)
    beds = [c for c in clips if c.label in AMBIENCE and c.duration >= 2.0 and not c.sources]
    fores = [c for c in clips if c.labels and not c.sources and 0.2 <= c.duration <= 8.0 and c.label not in AMBIENCE
             and (c.kind != "speech" or c.transcript)]
    out: list[Clip] = []
    for i in range(n if beds and fores else 0):
        fg, bed = rng.choice(fores), rng.choice(beds)
        if set(fg.labels) & related(bed.labels) or fg.label in related(bed.labels):
            continue
        snr = round(rng.uniform(*SNR_RANGE), 1)
        onset = round(rng.uniform(0.2, 1.0), 3)
        length = round(min(MAX_TOTAL, onset + fg.duration + rng.uniform(0.4, 1.2)), 3)
        fg_end = round(min(fg.duration, length - onset), 3)
        parts = [{"clip": bed.id, "onset": 0.0, "start": 0.0, "end": round(min(bed.duration, length), 3),
                  "gain_db": round(-snr, 1), "loop": True, "fit": length},
                 {"clip": fg.id, "onset": onset, "start": 0.0, "end": fg_end, "gain_db": 0.0}]
        caption = f"{fg.caption} In the background, {_lower_first(bed.caption)}"
        events = [Event(bed.label, 0.0, length), Event(fg.label, onset, round(onset + fg_end, 3))]
        labels = list(dict.fromkeys([*fg.labels, *bed.labels]))
        clip = _derived(safe_id(prefix, "bg", f"{i:04d}"), [fg, bed], {"op": "mix", "parts": parts, "duration": length},
                        labels, caption, events=events, transcript=fg.transcript, speaker=fg.speaker,
                        language=fg.language, kind=fg.kind)
        clip.mix = {"foreground": fg.label, "background": bed.label, "snr_db": snr}
        out.append(clip)
    return out
