"""What is said: word error rate, character error rate and exact match against a transcript.

Answers and references are normalised the same way before scoring (case folded, punctuation
dropped, whitespace collapsed; accents and number words are kept, since they are what was
said). An answer that quotes the speech (`The speaker says: "Set an alarm."`) is read as the
quoted part. WER and CER are corpus-level (jiwer: edits summed over all items / reference
words or characters summed over all items), so long references weigh more; both are LOWER is
better and can exceed 1 when the answer inserts words.
"""

from __future__ import annotations

import re
import unicodedata

import jiwer

# opening -> closing quote marks read as quoting the speech (not ' : it is also an apostrophe)
QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "「": "」", "『": "』"}
APOSTROPHES = "'’ʼ`´"


def normalize_transcript(text: str) -> str:
    """Case-folded words without punctuation: "Don't stop, Anna!" -> "dont stop anna"."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    text = "".join("" if c in APOSTROPHES else " " if unicodedata.category(c)[0] in "PSZC" else c for c in text)
    return " ".join(text.split())


def extract_quote(answer: str) -> tuple[str, bool]:
    """The quoted part of an answer, and whether there was one.

    Every closed quotation is kept, joined by spaces (`says "yes" then "no"` -> "yes no"); an
    opening quote that is never closed (the answer ran out of tokens) keeps the rest of the answer.
    """
    text = str(answer)
    spans = []
    for opening, closing in QUOTES.items():
        spans += [(m.start(), m.group(1)) for m in
                  re.finditer(rf"{re.escape(opening)}([^{re.escape(closing)}]*){re.escape(closing)}", text)]
    spans = [(start, s) for start, s in spans if s.strip()]
    if spans:
        return " ".join(s.strip() for _, s in sorted(_outermost(spans))), True
    start = _unclosed(text)
    if start is not None and text[start + 1:].strip():
        return text[start + 1:].strip(), True
    return text.strip(), False


def _unclosed(text: str) -> int | None:
    """Where the earliest quotation that is opened but never closed starts, if any."""
    starts = []
    for opening, closing in QUOTES.items():
        last = text.rfind(opening)
        if last < 0:
            continue
        if opening == closing and text.count(opening) % 2 == 1:
            starts.append(last)
        elif opening != closing and last > text.rfind(closing):
            starts.append(last)
    return min(starts, default=None)


def _outermost(spans: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop spans found inside another span (“a "b" c” is one quotation)."""
    spans = sorted(spans, key=lambda s: (s[0], -len(s[1])))
    out: list[tuple[int, str]] = []
    end = -1
    for start, s in spans:
        if start >= end:
            out.append((start, s))
            end = start + len(s) + 2
    return out


def read_transcript(answer: str) -> tuple[str, bool]:
    """(normalised text the answer gives as said, whether it came from a quotation)."""
    text, quoted = extract_quote(answer)
    return normalize_transcript(text), quoted


def item_scores(reference: str, hypothesis: str) -> dict[str, float]:
    """One item: wer, cer and exact match of two normalised strings."""
    return {"wer": jiwer.wer(reference, hypothesis) if reference else float("nan"),
            "cer": jiwer.cer(reference, hypothesis) if reference else float("nan"),
            "exact_match": float(reference == hypothesis)}


def speech_scores(references: list[str], hypotheses: list[str]) -> dict[str, float]:
    """Corpus-level `wer`, `cer` and `exact_match` (share of identical normalised texts).

    `references` and `hypotheses` are already normalised; references must not be empty.
    """
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses differ in length")
    if not references:
        return {"wer": float("nan"), "cer": float("nan"), "exact_match": float("nan")}
    if not all(references):
        raise ValueError("a reference transcript is empty after normalisation")
    return {
        "wer": float(jiwer.wer(references, hypotheses)),
        "cer": float(jiwer.cer(references, hypotheses)),
        "exact_match": sum(r == h for r, h in zip(references, hypotheses)) / len(references),
    }
