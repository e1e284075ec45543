"""Small English helpers for phrasing labels in questions and answers."""

from __future__ import annotations

MASS_NOUNS = {
    "rain", "applause", "speech", "music", "thunder", "water", "fireworks", "white noise", "pink noise",
    "brown noise", "noise", "vinyl hiss", "breathing", "laughter", "singing", "footsteps", "pouring water",
    "factory noise", "crowd cheering", "electronic music", "world music", "glitch", "cattle", "chickens",
    "bubbling", "percussion", "weather", "coins", "traffic", "wind", "snoring", "crying",
}


def with_article(label: str) -> str:
    """'owl' -> 'an owl', 'rain' -> 'rain'."""
    if label in MASS_NOUNS or label.endswith("s") and not label.endswith(("ss", "us")):
        return label
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label


def sound_of(label: str) -> str:
    """'owl' -> 'the sound of an owl'."""
    return f"the sound of {with_article(label)}"


def default_caption(label: str) -> str:
    return f"{capitalize(sound_of(label))}."


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def join_and(items: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def seconds(value: float) -> str:
    """2.0 -> '2 seconds', 0.5 -> '0.5 seconds', 1 -> '1 second'."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text} second" + ("" if text == "1" else "s")


NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def ordinal(n: int) -> str:
    return ["first", "second", "third", "fourth", "fifth", "sixth"][n] if n < 6 else f"{n + 1}th"
