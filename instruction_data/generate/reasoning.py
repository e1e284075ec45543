"""Open-ended, reasoning questions from templates: the offline default generator.

Answers combine what is known about the clip (caption, labels, transcript, events) with
common-sense facts of its category (`knowledge.py`). The endpoint generator
(`endpoint.py`) writes the same kind of records with a text LLM instead.
"""

from __future__ import annotations

import random

from instruction_data.clips import Clip
from instruction_data.generate.common import make_record
from instruction_data.generate.knowledge import Facts, facts_for
from instruction_data.schema import Record
from instruction_data.taxonomy import expand
from instruction_data.text import capitalize, seconds, with_article

GENERATOR = "templates"


def _because(clip: Clip) -> str:
    """A clause giving the evidence: 'since someone says "..."' or 'judging by what you hear (...)'."""
    if clip.transcript:
        return f"since someone says \"{clip.transcript}\""
    text = (clip.caption or with_article(clip.label)).rstrip(".")
    return f"judging by what you hear ({text[:1].lower() + text[1:]})"


def _speech_context(transcript: str) -> str:
    text = transcript.strip()
    if text.endswith("?"):
        return "a question, so the speaker expects an answer"
    if text.split(" ")[0].lower().strip(",.") in {"please", "call", "set", "put", "don't", "turn", "stop", "go",
                                                   "can", "bring", "follow"}:
        return "a request or instruction, so the listener is expected to act"
    return "a statement or an announcement that shares information"


def _is_scene(clip: Clip) -> bool:
    return len({e.label for e in clip.events}) > 1


def _scene_pairs(clip: Clip) -> list[tuple[str, str]]:
    """Several different sounds: walk through them in order, each with its likely cause."""
    steps = []
    for e in clip.events:
        found = facts_for(expand([e.label]))
        cause = f" ({found[1].cause})" if found else ""
        steps.append(f"{with_article(e.label)} at {seconds(e.onset)}{cause}")
    return [("Describe step by step what happens in this recording.",
             f"First {steps[0]}; " + "; ".join(f"then {s}" for s in steps[1:]) + ".")]


def _pairs(clip: Clip, facts: Facts) -> list[tuple[str, str]]:
    because = _because(clip)
    pairs = [
        ("Where might this audio have been recorded? Explain briefly.", f"Probably {facts.place}, {because}."),
        ("What is most likely producing this sound, and how can you tell?",
         f"{capitalize(facts.cause)}, {because}."),
        ("What should a listener do after hearing this?", f"{capitalize(facts.action)}."),
        ("What might happen next?", f"{capitalize(facts.next)}."),
        ("How might this sound make a listener feel?", f"Probably {facts.feeling}."),
    ]
    if clip.transcript:
        pairs.append(("What is the purpose of what is said?",
                      f"The speaker says \"{clip.transcript}\", which is {_speech_context(clip.transcript)}."))
    return pairs


def template_records(clip: Clip, rng: random.Random, n: int = 2) -> list[Record]:
    """Up to `n` open-ended records for a clip (none when no category fits)."""
    if _is_scene(clip):
        pairs, category = _scene_pairs(clip), "scene"
    else:
        found = facts_for(clip.labels)
        if found is None:
            return []
        category, facts = found
        pairs = _pairs(clip, facts)
    chosen = rng.sample(pairs, min(n, len(pairs)))
    return [make_record([clip], "open_ended", q, a, f"t{i}", generator=GENERATOR, category=category)
            for i, (q, a) in enumerate(chosen)]
