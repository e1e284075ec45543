"""Deterministic English sentences for synthesized speech: short commands, statements, long sentences and
passages of several sentences."""

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


# ---- long sentences (8-30 words) for "what is said" ------------------------------------------------
_LONG_SLOTS: dict[str, list[str]] = {
    **_SLOTS,
    "adj": ["quiet", "busy", "old", "narrow", "bright", "empty", "crowded", "small", "famous", "cold", "warm",
            "wooden", "new", "dark", "green", "tall"],
    "verb_past": ["found", "painted", "repaired", "carried", "ordered", "borrowed", "cleaned", "lost", "opened",
                  "wrapped", "sold", "checked", "moved", "returned", "described", "photographed"],
    "food": ["bread", "soup", "apples", "rice", "cheese", "coffee", "tea", "oranges", "pancakes", "tomatoes"],
    "weather": ["it started to rain", "the wind picked up", "the sun came out", "the fog lifted",
                "snow began to fall", "the sky turned grey", "a storm rolled in", "the air grew warmer"],
    "job": ["nurse", "engineer", "gardener", "painter", "librarian", "mechanic", "chef", "postman", "teacher",
            "fisherman"],
    "feeling": ["happy", "tired", "surprised", "nervous", "proud", "curious", "relieved", "hungry"],
}
_CLAUSES = [
    "{Person} {verb_past} the {colour} {object} near the {place}",
    "the {adj} {place} was full of people {time}",
    "{weather}",
    "we walked to the {place} to buy some {food}",
    "the {job} said the {thing} would be fixed {time}",
    "nobody knew why the {animal} was so {feeling}",
    "my neighbour keeps a {animal} in the garden behind the {place}",
    "the {number} children waited outside the {adj} {place}",
    "{person} wrote a long letter to a friend in {city}",
    "the {thing} in the {place} stopped working again",
    "I left my {object} on the train to {city}",
    "the {job} from {city} arrived with {number} heavy boxes",
    "everyone felt {feeling} when the music started",
    "the {adj} road to the {place} was closed for repairs",
    "she cooked {food} for {number} guests",
    "the old {object} was hidden under a pile of {food}",
    "they planned to visit {city} {time}",
    "a {animal} ran across the {adj} street",
]
_JOINERS = [", and ", ", but ", " because ", ", so ", " while ", " after ", " before ", " until ", " although "]


def long_sentences(n: int, seed: int, min_words: int = 8, max_words: int = 30) -> list[str]:
    """`n` distinct sentences of `min_words` to `max_words` words (lengths spread evenly), same for the seed."""
    def draw(rng: random.Random) -> str:
        target = rng.randint(min_words, max_words)
        parts: list[str] = []
        words = 0
        while words < target:
            values = _long_values(rng)  # drawn before the clause, as corpora v2-v4 were built
            clause = rng.choice(_CLAUSES).format(**values)
            parts.append(clause)
            words += len(clause.split())
        return _joined(parts, rng) + "."

    return _distinct(n, random.Random(f"{seed}:long"), draw, min_words, max_words)


def passages(n: int, seed: int, min_words: int = 12, max_words: int = 22) -> list[str]:
    """`n` distinct passages of 2-3 sentences (`min_words` to `max_words` words in all, so that spoken at 160 words a
    minute or faster they fit a 10 s clip), the same for the seed.

    "What is said?" on a recording of several sentences asks for all of them. An LLM trained on one sentence a clip
    stops copying at the first full stop (alm-tiny on the held-out Asterisk prompts: "That is not a valid password."
    for "That is not a valid password. Please try again."); these teach it to go on."""
    def draw(rng: random.Random) -> str:
        sentences_ = []
        for _ in range(rng.choice((2, 2, 3))):
            clauses = []
            for _ in range(rng.choice((1, 1, 2))):
                values = _long_values(rng)
                clauses.append(rng.choice(_CLAUSES).format(**values))
            sentences_.append(_joined(clauses, rng) + rng.choice((".", ".", ".", "!")))
        return " ".join(sentences_)

    return _distinct(n, random.Random(f"{seed}:passage"), draw, min_words, max_words)


def _distinct(n: int, rng: random.Random, draw, min_words: int, max_words: int) -> list[str]:
    """Up to `n` distinct texts of `draw(rng)` with `min_words` to `max_words` words, in the order drawn (at most
    50 n + 100 draws)."""
    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n and tries < 50 * n + 100:
        tries += 1
        text = draw(rng)
        if min_words <= len(text.split()) <= max_words and text not in seen:
            seen.add(text)
            out.append(text)
    return out


def _joined(clauses: list[str], rng: random.Random) -> str:
    """The clauses as one sentence (a joiner drawn between each two), capitalised, without its full stop."""
    text = clauses[0]
    for clause in clauses[1:]:
        text += rng.choice(_JOINERS) + clause
    return text[:1].upper() + text[1:]


def _long_values(rng: random.Random) -> dict[str, str]:
    values = {k: rng.choice(v) for k, v in _LONG_SLOTS.items()}
    values["Person"] = values["person"][:1].upper() + values["person"][1:]
    return values
