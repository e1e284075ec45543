"""Deterministic English sentences for synthesized speech: short commands and statements."""

from __future__ import annotations

import random

COMMANDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "zero", "one", "two",
            "three", "four", "five", "six", "seven", "eight", "nine", "forward", "backward", "follow", "learn"]

_SLOTS: dict[str, list[str]] = {
    "place": ["kitchen", "garden", "station", "library", "office", "harbour", "market", "museum", "bakery",
              "school", "hospital", "airport", "park", "bridge", "garage", "theatre"],
    "thing": ["lights", "radio", "heater", "music", "television", "fan", "oven", "alarm", "kettle", "computer"],
    "person": ["my sister", "the doctor", "our teacher", "the driver", "your neighbour", "the baker",
               "my grandfather", "the pilot", "a farmer", "the captain"],
    "time": ["at seven", "at noon", "tomorrow morning", "on Friday", "in ten minutes", "tonight",
             "after lunch", "next week", "at half past three", "before sunrise"],
    "animal": ["dog", "cat", "horse", "cow", "duck", "owl", "crow", "sheep", "goat", "frog"],
    "colour": ["red", "blue", "green", "yellow", "white", "black", "orange", "purple"],
    "object": ["umbrella", "bicycle", "blanket", "letter", "basket", "ticket", "lamp", "map", "key", "box"],
    "number": ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"],
    "city": ["Boston", "Paris", "Lisbon", "Oslo", "Cairo", "Lima", "Dublin", "Vienna", "Seoul", "Denver"],
}
_TEMPLATES = [
    "Please turn {onoff} the {thing} in the {place}.",
    "The train to {city} leaves {time}.",
    "{Person} will meet us at the {place} {time}.",
    "I heard a {animal} near the {place}.",
    "Can you bring the {colour} {object} to the {place}?",
    "There are {number} people waiting at the {place}.",
    "Don't forget your {object} {time}.",
    "The {animal} is sleeping under the {colour} {object}.",
    "Call {person} {time}, please.",
    "We need {number} tickets for the flight to {city}.",
    "Is the {place} open {time}?",
    "Put the {object} next to the {thing}.",
    "{Person} lost a {colour} {object} in {city}.",
    "The {thing} in the {place} is broken again.",
    "Set an alarm for {time}.",
    "My {animal} likes the {colour} {object}.",
]


def sentences(n: int, seed: int) -> list[str]:
    """`n` distinct sentences, the same for the same seed."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n and len(seen) < 20 * n + 100:
        template = rng.choice(_TEMPLATES)
        values = {k: rng.choice(v) for k, v in _SLOTS.items()}
        values["Person"] = values["person"][:1].upper() + values["person"][1:]
        values["onoff"] = rng.choice(["on", "off"])
        text = template.format(**values)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out
