"""One label vocabulary with parents, shared by every source.

Adapters give the most specific label; `expand` adds its ancestors ("crow" -> crow, bird,
animal), so a clip's labels are consistent across sources. `related` lists labels that must
never be asked as negatives of a clip (ancestors and descendants of its labels).
"""

from __future__ import annotations

from functools import lru_cache

# parent -> children. A label appears as a child at most once.
_TREE: dict[str, list[str]] = {
    "animal": ["bird", "insect", "dog", "cat", "cattle", "sheep", "goat", "pig", "horse", "donkey", "zebra",
               "camel", "deer", "bear", "lion", "tiger", "elephant", "giraffe", "hippopotamus", "monkey",
               "rodent", "marine mammal", "frog", "lizard", "koala", "wombat", "badger", "ferret", "bison", "fox"],
    "bird": ["crow", "goose", "duck", "rooster", "hen", "owl", "turkey", "seagull", "penguin", "cuckoo", "lark",
             "blackbird", "heron", "vulture", "toucan", "quetzal", "rhea", "chickens"],
    "insect": ["bee", "hornet", "mosquito", "grasshopper", "moth"],
    "cattle": ["cow", "bull"],
    "sheep": ["lamb", "ram"],
    "rodent": ["mouse", "rabbit", "squirrel", "beaver"],
    "marine mammal": ["whale", "orca", "dolphin", "sea lion"],
    "monkey": ["chimpanzee", "gorilla"],
    "dog": ["dog bark"],
    "music": ["musical instrument", "drum loop", "electronic music", "world music", "singing"],
    "singing": ["choir"],
    "musical instrument": ["string instrument", "wind instrument", "percussion", "keyboard instrument",
                           "synthesizer"],
    "string instrument": ["cello", "violin", "guitar", "harp", "banjo", "bass guitar"],
    "guitar": ["electric guitar", "acoustic guitar"],
    "wind instrument": ["bassoon", "trumpet", "flute", "clarinet", "saxophone", "trombone", "tuba", "horn",
                        "harmonica", "accordion", "brass"],
    "keyboard instrument": ["piano", "organ", "harpsichord", "electric piano"],
    "organ": ["church organ", "electric organ"],
    "percussion": ["drum", "cymbal", "cowbell", "tambourine", "triangle", "maracas", "castanets", "shaker",
                   "claves", "wood block", "clap", "xylophone", "gong", "tabla", "bongo", "timpani"],
    "drum": ["bass drum", "snare drum", "tom drum", "drum kit", "drum roll", "rimshot"],
    "cymbal": ["crash cymbal", "hi-hat", "ride cymbal"],
    "synthesizer": ["bass synthesizer", "synthesizer pad"],
    "tool": ["hammer", "saw", "mallet", "scissors", "pickaxe"],
    "household appliance": ["vacuum cleaner", "washing machine", "kettle"],
    "vehicle": ["car", "train", "helicopter", "fire truck", "ship horn"],
    "car": ["car engine"],
    "alarm": ["alarm clock", "siren", "alert sound"],
    "electronic sound": ["beep", "electronic blip", "glitch", "robot sound", "zap", "notification chime",
                         "whoosh", "test tone", "busy signal", "ringback tone", "ringtone"],
    "water": ["rain", "pouring water", "toilet flush", "water drip", "bubbling"],
    "weather": ["thunder", "rain"],
    "human sound": ["speech", "applause", "breathing", "burp", "heartbeat", "crowd cheering", "finger snap",
                    "footsteps", "knock", "laughter", "singing", "whistling"],
    "synthetic tone": ["sine tone", "square tone", "sawtooth tone", "tone sweep", "click"],
    "noise": ["white noise", "pink noise", "brown noise", "vinyl hiss"],
    "vinyl": ["vinyl scratch", "vinyl hiss"],
    "impact": ["explosion", "object falling", "door", "glass clink", "coins"],
    "explosion": ["fireworks"],
    "bell": ["church bell", "bicycle bell", "chime"],
    "machine": ["factory noise", "3d printer", "camera shutter", "cash register", "clock ticking"],
}

PARENT: dict[str, str] = {child: parent for parent, children in _TREE.items() for child in children
                          if child not in ("rain", "singing", "vinyl hiss")}
# labels listed under two parents: one parent here, the other added by EXTRA_PARENTS
EXTRA_PARENTS: dict[str, list[str]] = {"rain": ["water", "weather"], "singing": ["music", "human sound"],
                                       "vinyl hiss": ["noise", "vinyl"]}
PARENT.update({"rain": "weather", "singing": "human sound", "vinyl hiss": "noise"})


@lru_cache(maxsize=None)
def ancestors(label: str) -> tuple[str, ...]:
    """Parents, grandparents ... of a label (nearest first, no repeats)."""
    out: list[str] = []
    todo = [label]
    while todo:
        current = todo.pop(0)
        parents = EXTRA_PARENTS.get(current) or ([PARENT[current]] if current in PARENT else [])
        for p in parents:
            if p not in out and p != label:
                out.append(p)
                todo.append(p)
    return tuple(out)


def expand(labels: list[str]) -> list[str]:
    """Labels followed by all their ancestors, order kept, no repeats."""
    out: list[str] = []
    for label in labels:
        for x in (label, *ancestors(label)):
            if x not in out:
                out.append(x)
    return out


@lru_cache(maxsize=None)
def descendants(label: str) -> frozenset[str]:
    return frozenset(child for child in PARENT if label in ancestors(child))


def related(labels: list[str]) -> set[str]:
    """Labels that overlap the given ones (themselves, ancestors, descendants): never negatives."""
    out: set[str] = set()
    for label in labels:
        out |= {label, *ancestors(label), *descendants(label)}
    return out
