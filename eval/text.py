"""Reading free-text answers: normalisation, yes/no parsing, matching a short answer.

Models answer in sentences ("Yes, I can hear a dog."), references are words ("yes", "dog").
These rules turn the first into the second; they are the same for every model and every
baseline, and each scored item keeps what was read from its answer.
"""

from __future__ import annotations

import re
import unicodedata

NUMBER_WORDS = {
    "zero": "0", "none": "0", "one": "1", "once": "1", "two": "2", "twice": "2", "three": "3", "thrice": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
    "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16",
    "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
}
ARTICLES = {"a", "an", "the"}
YES_WORDS = {"yes", "yeah", "yep", "true", "correct", "present", "audible"}
NO_WORDS = {"no", "nope", "false", "not", "never", "absent", "none", "nothing", "cannot", "cant", "dont", "doesnt",
            "isnt", "arent", "wasnt", "neither", "without"}


def normalize(text: str, numbers: bool = True) -> str:
    """Lower case, accents folded, punctuation dropped, articles dropped, number words -> digits."""
    text = "".join(c for c in unicodedata.normalize("NFKD", str(text)) if not unicodedata.combining(c))
    text = text.lower().replace("n't", "nt").replace("'", "")
    text = re.sub(r"[^\w\s.]", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)  # keep decimal points only
    words = [w for w in text.split() if w not in ARTICLES]
    if numbers:
        words = [NUMBER_WORDS.get(w, w) for w in words]
    return " ".join(words)


def words(text: str, numbers: bool = True) -> list[str]:
    return normalize(text, numbers).split()


def parse_yes_no(answer: str) -> str | None:
    """'yes', 'no', or None when the answer says neither.

    The first word decides when it is yes/no ("No, ..." / "Yes, ..."); otherwise any negation
    means no and any affirmative word means yes (POPE's reading of free-text answers).
    """
    tokens = words(answer, numbers=False)
    if not tokens:
        return None
    if tokens[0] in ("yes", "no"):
        return tokens[0]
    if any(t in NO_WORDS for t in tokens):
        return "no"
    if any(t in YES_WORDS for t in tokens):
        return "yes"
    return None


def contains_phrase(text_norm: str, phrase_norm: str) -> bool:
    """Whole-word containment of a normalised phrase in a normalised text."""
    if not phrase_norm:
        return False
    return re.search(rf"(?<!\w){re.escape(phrase_norm)}(?!\w)", text_norm) is not None


def parse_pope(answer: str) -> tuple[str, bool]:
    """POPE's reading of a yes/no answer -> (answer, explicit).

    A leading yes/no decides. Otherwise a negation in the first sentence means no and anything
    else means yes (as POPE's evaluation script reads answers). `explicit` is False when the
    answer had neither a leading yes/no nor a negation, so "yes" is only the default.
    """
    tokens = words(answer, numbers=False)
    if tokens and tokens[0] in ("yes", "no"):
        return tokens[0], True
    first = re.split(r"(?<!\d)[.!?\n]", str(answer).strip(), maxsplit=1)[0]
    if any(t in NO_WORDS for t in words(first, numbers=False)):
        return "no", True
    return "yes", any(t in YES_WORDS for t in tokens)


NEGATIONS = {"not", "no", "nt", "never", "neither", "nor"}


def match_answer(answer: str, candidates: list[str]) -> str | None:
    """The candidate (normalised) that the answer gives, or None when it gives none or is undecided.

    The earliest candidate named wins ("The first clip is louder than the second" -> "first"),
    except one right after a negation ("not loud, quiet" -> "quiet"); "loud or quiet" restating
    the question is undecided. An answer that is exactly a candidate wins outright; a candidate
    inside a longer one that also matches ("drum" in "bass drum") does not count on its own.
    """
    text = normalize(answer)
    cands = sorted({normalize(c) for c in candidates if normalize(c)})
    if text in cands:
        return text
    hits = []  # (start, -length, candidate, end)
    for c in cands:
        for m in re.finditer(rf"(?<!\w){re.escape(c)}(?!\w)", text):
            before = text[: m.start()].split()
            if before and before[-1] in NEGATIONS:
                continue
            hits.append((m.start(), -len(c), c, m.end()))
    if not hits:
        return None
    hits.sort()
    first = hits[0]
    later = [h for h in hits[1:] if h[0] >= first[3] and h[2] != first[2]]
    if later and text[first[3]: later[0][0]].strip() == "or":
        return None
    return first[2]
