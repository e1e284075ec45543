"""Why the no-speech gate withholds a transcript, on short speech and on clips without speech.

A gated transcriber gives "" both when Whisper's no-speech probability is above the gate and when the decode fails its
checks (`alm.transcribe.failed_decode`), so the LLM reads `(speech transcript: "")` for silence, for a sound and for a
word Whisper could not make out alike. Per clip this prints which of the two withheld it ("gate", "checks"), or that
a transcript was kept, with the no-speech probability, the decode's mean log-probability and its text: do the two
reasons tell unclear speech from no speech? Seeded draws of the corpus's train split: speech clips whose transcript
has at most `--max-words` words (the short words to which alm-tiny answers "no one speaks") and sound clips.

    .venv/bin/python scripts/gate_reasons.py --corpus data/corpus-v4 --n 200 --out runs/gate-reasons.json

The decode is the CTranslate2 transcriber's own, one greedy pass over each clip's first 30 s window, as
`Ct2Transcriber.transcribe_batch` makes it (its helpers are called one by one to keep both verdicts)."""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alm.audio.io import load_audio  # noqa: E402
from alm.model.audio_tokens import SAMPLE_RATE  # noqa: E402
from alm.transcribe import WINDOW_SECONDS, Ct2Transcriber, failed_decode, token_budget  # noqa: E402
from eval.metrics.speech import normalize_transcript  # noqa: E402

BATCH = 16


def draw(corpus: Path, n: int, max_words: int) -> list[tuple[str, dict]]:
    if not (corpus / "clips.jsonl").is_file():
        raise SystemExit(f"{corpus}: no clips.jsonl; give a corpus built by `alm data build`")
    clips = [json.loads(line) for line in (corpus / "clips.jsonl").open(encoding="utf-8")]
    train = [c for c in clips if c["split"] == "train"]
    speech = [c for c in train if c["transcript"].strip() and len(c["transcript"].split()) <= max_words]
    sound = [c for c in train if not c["transcript"].strip() and c["kind"] == "sound"]
    rng = random.Random(0)
    return [("speech", c) for c in rng.sample(speech, min(n, len(speech)))] + \
           [("no speech", c) for c in rng.sample(sound, min(n, len(sound)))]


def verdicts(transcriber: Ct2Transcriber, waves: list, gate: float) -> list[dict]:
    """Per first window: no-speech probability, the ungated greedy decode, its mean log-probability, and the reason
    a gated transcriber withholds it (or "kept")."""
    chunk = [(i, 0, len(w), w) for i, w in enumerate(waves)]
    encoded = transcriber._encode(chunk)
    prompts = [transcriber._prompt(lang) for lang in transcriber._languages(encoded, len(chunk))]
    probs = transcriber._no_speech(encoded, prompts)
    budget = token_budget(max(len(w) for w in waves) / SAMPLE_RATE)
    results = transcriber.model.generate(encoded, prompts, beam_size=1, max_length=budget + len(prompts[0]),
                                         suppress_blank=True, return_scores=True)
    out = []
    for p, result in zip(probs, results):
        text, logprob = transcriber._text(result.sequences_ids[0]), result.scores[0]
        why = "gate" if p > gate else "checks" if failed_decode(text, logprob, p) else "kept" if text else "empty"
        out.append({"no_speech_prob": round(p, 3), "mean_logprob": round(logprob, 2), "text": text, "withheld": why})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="data/corpus-v4")
    ap.add_argument("--n", type=int, default=200, help="clips of each kind")
    ap.add_argument("--max-words", type=int, default=2)
    ap.add_argument("--gate", type=float, default=0.45, help="the no-speech gate (alm-tiny's)")
    ap.add_argument("--out", help="write every clip's verdict here (JSON)")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    sample = draw(corpus, args.n, args.max_words)
    transcriber = Ct2Transcriber("builtin:whisper-base", no_speech_threshold=None)
    rows = []
    for start in tqdm(range(0, len(sample), BATCH), desc="decoding", unit="batch", dynamic_ncols=True):
        part = sample[start:start + BATCH]
        waves = [load_audio(str(corpus / c["audio"]))[: int(WINDOW_SECONDS * SAMPLE_RATE)] for _, c in part]
        for (kind, clip), verdict in zip(part, verdicts(transcriber, waves, args.gate)):
            rows.append({"kind": kind, "origin": clip["origin"], "reference": clip["transcript"], **verdict,
                         "exact": normalize_transcript(verdict["text"]) == normalize_transcript(clip["transcript"])})
    if args.out:
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, ensure_ascii=False, indent=0), encoding="utf-8")
        tmp.replace(args.out)
    for kind in ("speech", "no speech"):
        mine = [r for r in rows if r["kind"] == kind]
        print(f"{kind} ({len(mine)} clips): " + ", ".join(f"{why} {count}" for why, count in
                                                          Counter(r["withheld"] for r in mine).most_common()))
        for why in ("gate", "checks", "kept"):
            probs = sorted(r["no_speech_prob"] for r in mine if r["withheld"] == why)
            if probs:
                quartiles = [probs[round(q * (len(probs) - 1))] for q in (0, 0.25, 0.5, 0.75, 1)]
                exact = sum(r["exact"] for r in mine if r["withheld"] == why)
                print(f"  {why}: no-speech probability min/quartiles/max {quartiles}; decodes word for word {exact}")


if __name__ == "__main__":
    main()
