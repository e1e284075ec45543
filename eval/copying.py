"""Did the LLM copy the transcript it read? What is said, split between the transcriber and the LLM.

A speech-aware model (LTU-AS style) reads Whisper's transcript of each clip beside the audio tokens, behind its
no-speech gate (and its tagger's speech gate), and is trained to answer "what is said?" with that transcript word for
word. Its WER then has two parts: the transcript's own errors, and what the LLM does with it. On each speech item
this asks the model's own transcriber (`Runner.transcriber`, the transcripts the model reads; cached like the floors'
transcripts) and reports, under the benchmark's `breakdown["copying"]`:

- `given` / `withheld`: items whose clip got a transcript, and items the gates gave none ("");
- `copied`: given items whose answer, read as the scorer reads it (`read_transcript`), is the transcript normalised;
- `wer_read`: the read transcripts scored as answers: what copying would score (with nothing said where withheld);
- `wer_if_copied`: the model's answers with each given transcript put in its place: what the LLM loses by not
  copying, the withheld items kept as the model answered them;
- `examples`: a few given items it did not copy (transcript, answer).

Per item, the model's row gets `given_transcript`: the transcript and whether the answer copied it.
"""

from __future__ import annotations

from typing import Any

from eval.metrics.speech import normalize_transcript, speech_scores
from eval.scored import MODEL, Scored

SHOWN = 5  # given transcripts the answer did not copy, kept as examples


def add_copying(scored: Scored, references: list[str], transcripts: list[str], transcriber: dict[str, Any]) -> None:
    """Add `breakdown["copying"]` and each item's `given_transcript` (in its model row). `references`: the items'
    normalised reference transcripts; `transcripts`: what the model's transcriber gave each item's clips (raw text;
    "" = withheld); `transcriber`: its description (`eval.asr.describe`)."""
    answers = [row[MODEL]["read"] if isinstance(row.get(MODEL), dict) else None for row in scored.items]
    read = [normalize_transcript(t) for t in transcripts]
    given = [bool(r) for r in read]
    copied = [g and a == r for g, a, r in zip(given, answers, read)]
    for row, text, g, c in zip(scored.items, transcripts, given, copied):
        if isinstance(row.get(MODEL), dict):
            row[MODEL]["given_transcript"] = {"text": text, "copied": c if g else None}
    answered = [a if a is not None else "" for a in answers]
    in_place = [r if g else a for g, r, a in zip(given, read, answered)]
    scored.breakdown["copying"] = {
        "transcriber": transcriber,
        "items": len(read),
        "given": sum(given),
        "withheld": len(read) - sum(given),
        "copied": sum(copied),
        "wer_read": speech_scores(references, read)["wer"] if references else float("nan"),
        "wer_if_copied": speech_scores(references, in_place)["wer"] if references else float("nan"),
        "examples": [{"transcript": t, "answer": row[MODEL].get("answer")}
                     for row, t, g, c in zip(scored.items, transcripts, given, copied) if g and not c][:SHOWN],
    }
