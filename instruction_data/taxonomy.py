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
               "rodent", "marine mammal", "frog", "lizard", "koala", "wombat", "badger", "ferret", "bison", "fox",
               "wolf", "bat", "snake", "spider", "roar"],
    "bird": ["crow", "goose", "duck", "chicken", "owl", "turkey", "seagull", "penguin", "cuckoo", "lark",
             "blackbird", "heron", "vulture", "toucan", "quetzal", "rhea", "eagle", "hawk", "birdsong"],
    "chicken": ["rooster", "hen", "chickens"],
    "insect": ["bee", "hornet", "mosquito", "grasshopper", "moth", "cricket", "fly"],
    "cattle": ["cow", "bull"],
    "sheep": ["lamb", "ram"],
    "horse": ["clip-clop", "neigh"],
    "rodent": ["mouse", "rabbit", "squirrel", "beaver"],
    "marine mammal": ["whale", "orca", "dolphin", "sea lion"],
    "monkey": ["chimpanzee", "gorilla"],
    "dog": ["dog bark", "growling"],
    "music": ["musical instrument", "drum loop", "electronic music", "world music", "singing", "orchestra",
              "fanfare", "jingle"],
    "singing": ["choir", "chant"],
    "musical instrument": ["string instrument", "wind instrument", "percussion", "keyboard instrument",
                           "synthesizer"],
    "string instrument": ["cello", "violin", "viola", "double bass", "guitar", "harp", "banjo", "bass guitar",
                          "sitar", "koto", "shamisen", "dulcimer", "pizzicato", "string section"],
    "guitar": ["electric guitar", "acoustic guitar", "guitar fret noise"],
    "electric guitar": ["distorted guitar", "jazz guitar"],
    "acoustic guitar": ["nylon-string guitar", "steel-string guitar"],
    "bass guitar": ["slap bass", "fretless bass"],
    "saxophone": ["soprano saxophone", "alto saxophone", "tenor saxophone", "baritone saxophone"],
    "trumpet": ["muted trumpet"],
    "piano": ["honky-tonk piano"],
    "string section": ["tremolo strings"],
    "wind instrument": ["brass", "woodwind", "harmonica", "accordion", "bagpipes", "whistle"],
    "brass": ["trumpet", "trombone", "tuba", "horn", "french horn", "brass section"],
    "woodwind": ["bassoon", "flute", "clarinet", "saxophone", "oboe", "english horn", "piccolo", "recorder",
                 "pan flute", "ocarina", "shakuhachi", "shehnai"],
    "keyboard instrument": ["piano", "organ", "harpsichord", "electric piano", "clavinet"],
    "organ": ["church organ", "electric organ", "hammond organ", "reed organ"],
    "percussion": ["drum", "cymbal", "cowbell", "tambourine", "triangle", "maracas", "castanets", "shaker",
                   "claves", "wood block", "clap", "mallet percussion", "gong", "tabla", "bongo", "timpani", "conga",
                   "timbales", "agogo", "cabasa", "guiro", "cuica", "vibraslap", "taiko drum", "steelpan",
                   "kalimba"],
    "mallet percussion": ["xylophone", "marimba", "vibraphone", "glockenspiel", "celesta", "music box",
                          "tubular bells"],
    "drum": ["bass drum", "snare drum", "tom drum", "drum kit", "drum roll", "rimshot", "electronic drum", "cajon",
             "djembe", "dunun"],
    "cymbal": ["crash cymbal", "hi-hat", "ride cymbal", "china cymbal", "splash cymbal", "reverse cymbal"],
    "synthesizer": ["bass synthesizer", "synthesizer pad", "synthesizer lead"],
    "tool": ["hammer", "saw", "mallet", "scissors", "pickaxe", "drill", "anvil", "digging", "chopping wood"],
    "household appliance": ["vacuum cleaner", "washing machine", "kettle"],
    "vehicle": ["car", "train", "helicopter", "fire truck", "ship horn", "aircraft", "rocket", "tank", "cart",
                "traffic", "boat"],
    "aircraft": ["airplane", "jet engine"],
    "car": ["car engine", "car horn"],
    "alarm": ["alarm clock", "siren", "alert sound"],
    "telephone": ["telephone bell ringing", "ringtone", "busy signal", "ringback tone"],
    "electronic sound": ["beep", "electronic blip", "glitch", "robot sound", "zap", "notification chime",
                         "whoosh", "test tone", "static", "hum", "radio", "television"],
    "water": ["rain", "pouring water", "toilet flush", "water drip", "bubbling", "splash", "flowing water",
              "ocean waves"],
    "weather": ["thunder", "rain", "wind"],
    "fire": ["crackling fire"],
    "human sound": ["speech", "applause", "breathing", "burp", "heartbeat", "crowd cheering", "finger snap",
                    "footsteps", "knock", "laughter", "singing", "whistling", "scream", "shout", "grunt", "groan",
                    "cough", "kiss", "eating", "children playing", "wail", "snoring", "crying"],
    "synthetic tone": ["sine tone", "square tone", "sawtooth tone", "tone sweep", "click"],
    "noise": ["white noise", "pink noise", "brown noise", "vinyl hiss"],
    "vinyl": ["vinyl scratch", "vinyl hiss"],
    "impact": ["explosion", "object falling", "door", "glass", "coins", "smash", "punch", "sword", "arrow",
               "squish", "whip"],
    "glass": ["glass clink", "glass breaking"],
    "door": ["door open", "door close", "creak"],
    "explosion": ["fireworks", "boom"],
    "gunshot": ["machine gun", "cannon"],
    "gun": ["gunshot", "gun reload", "ricochet"],
    "bell": ["church bell", "bicycle bell", "chime", "jingle bell"],
    "machine": ["factory noise", "3d printer", "camera shutter", "cash register", "clock ticking", "engine",
                "mechanical fan", "lawn mower"],
    "engine": ["diesel engine"],
    "ambience": ["night ambience", "day ambience", "city ambience"],
    "onomatopoeia": ["squeak", "hiss", "thud", "rumble", "sizzle", "scrape", "bouncing", "crackle"],
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


def specific(labels: list[str]) -> list[str]:
    """The labels that are not an ancestor of another label in the list ('crow' of crow, bird, animal)."""
    above = {a for label in labels for a in ancestors(label)}
    return [label for label in labels if label not in above]


def related(labels: list[str]) -> set[str]:
    """Labels that overlap the given ones (themselves, ancestors, descendants): never negatives."""
    out: set[str] = set()
    for label in labels:
        out |= {label, *ancestors(label), *descendants(label)}
    return out
