"""How many distinct words should a transcript have to pass the tagger's speech gate anyway (`speech_gate_words`,
`alm.model.tagger`), and where should Whisper's own no-speech gate (`no_speech_gate` in the model's config) sit in
front of it? Collects, for a seeded draw of corpus v4's clips, Whisper's no-speech probability, its transcript
behind the widest gate swept (0.9; Whisper's decode checks on, `alm.transcribe.failed_decode`) and whether the
model's tagger hears speech; a narrower gate G gives the transcript where the probability is at most G. `report`
counts, for each gate G and word limit K, the non-speech clips given words (inventions on sound) and the spoken clips
kept, with the word error rate of the spoken clips' transcripts against their references (a withheld transcript
counts as every word deleted):

    .venv/bin/python scripts/gate_words_probe.py collect [--model alm-tiny] [--out runs/gate-words/clips.jsonl]
    .venv/bin/python scripts/gate_words_probe.py report [--out runs/gate-words/clips.jsonl]

The draw: every non-speech clip of the held-out split (test_ood) and 300 of its spoken ones; 400 non-speech and 200
spoken clips of the validation split; 500 non-speech clips of the training split. `collect` appends a line per clip
and resumes where it stopped (about 3 s a clip on a 2-core CPU beside an evaluation). Session 47 picked K = 4 from
its report (training/README.md, "Session 47"); session 48 added the gate sweep ("Session 48")."""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DRAW = (("test_ood", None, 300), ("validation", 400, 200), ("train", 500, 0))  # split, non-speech, spoken (None: all)
LIMITS = (2, 3, 4, 5, 6)
BATCH = 16  # clips a step (Whisper decodes a batch at once)
GATES = (0.45, 0.6, 0.7, 0.8, 0.9)  # Whisper's no-speech gate


def draw(corpus: Path, seed: int = 0) -> list[dict]:
    """The clips `collect` reads (see the module docstring): non-speech clips carry no 'speech' label and no
    transcript; spoken ones have a transcript."""
    clips = [json.loads(line) for line in (corpus / "clips.jsonl").open(encoding="utf-8")]
    rng = random.Random(seed)
    picked = []
    for split, n_sound, n_spoken in DRAW:
        sound = [c for c in clips if c["split"] == split and "speech" not in c["labels"] and not c.get("transcript")]
        spoken = [c for c in clips if c["split"] == split and c.get("transcript")]
        rng.shuffle(sound)
        rng.shuffle(spoken)
        picked += sound[:n_sound] + spoken[:n_spoken]
    return picked


def collect(args) -> None:
    from tqdm import tqdm

    from alm.audio.io import load_audio
    from alm.inference import Assistant
    from alm.transcribe import load_transcriber

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["audio"] for line in out.open(encoding="utf-8")} if out.exists() else set()
    todo = [c for c in draw(Path(args.corpus)) if c["audio"] not in done]
    assistant = Assistant.load(args.model, device="cpu")
    tagger = assistant.model.tagger
    if tagger is None or not assistant.transcriber:
        raise SystemExit(f"{args.model}: needs a sound tagger and speech transcripts")
    # every window under the widest gate decoded, with the decode checks a gated transcriber applies; a narrower
    # gate is read off `no_speech`
    ungated = load_transcriber(assistant.model.config.audio_base, device="cpu",
                               backend=assistant.transcriber.backend, no_speech_threshold=max(GATES))
    with out.open("a", encoding="utf-8") as fh, tqdm(total=len(todo), desc="clips", unit="clip") as bar:
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            waves = [load_audio(Path(args.corpus) / clip["audio"]) for clip in batch]
            heard = tagger.hears_speech(assistant._clip_probabilities(waves))  # B, L -> B
            for clip, p, text, h in zip(batch, ungated.no_speech_probs(waves), ungated.transcribe_batch(waves),
                                        heard):
                row = {"audio": clip["audio"], "split": clip["split"], "origin": clip.get("origin"),
                       "labels": clip["labels"], "transcript": clip.get("transcript", ""),
                       "no_speech": p, "decoded": text.strip(), "heard": h}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            bar.update(len(batch))


def given(row: dict, gate: float, words: int | None) -> str:
    """The transcript a clip's row gets behind Whisper's gate `gate` and then, unless `words` is None, the tagger's
    speech gate keeping transcripts of `words`+ distinct words (0: the tagger's veto alone), as
    `SoundTagger.keeps_transcript` keeps them (a row the tagger put under its `speech_gate_floor`, `heard` None,
    keeps none)."""
    text = row["decoded"] if row["no_speech"] <= gate else ""
    if words is None or not text:
        return text
    return text if speech_gate(words).keeps_transcript(text, row["heard"]) else ""


@functools.cache
def speech_gate(words: int):
    """A tagger whose speech gate keeps transcripts of `words`+ distinct words (only its rule is read)."""
    from alm.model.tagger import SoundTagger, TaggerSettings

    return SoundTagger(TaggerSettings(labels=["speech"], width=1, speech_gate=True, speech_gate_words=words))


def word_error_rate(rows: list[dict], gate: float, words: int | None) -> float:
    """Corpus-level WER of the spoken rows' given transcripts against their references."""
    import jiwer

    from eval.metrics.speech import normalize_transcript

    refs = [normalize_transcript(r["transcript"]) for r in rows]
    hyps = [normalize_transcript(given(r, gate, words)) for r in rows]
    keep = [(ref, hyp) for ref, hyp in zip(refs, hyps) if ref]
    return jiwer.wer([ref for ref, _ in keep], [hyp for _, hyp in keep]) if keep else float("nan")


def report(args) -> None:
    from alm.model.tagger import distinct_words

    rows = [json.loads(line) for line in Path(args.out).open(encoding="utf-8")]
    head = ["gate", "Whisper's gate", "+ tagger's", *(f"K={k}" for k in LIMITS), "WER at K=4"]
    for split, *_ in DRAW:
        for kind, spoken in (("non-speech", False), ("spoken", True)):
            part = [r for r in rows if r["split"] == split and bool(r["transcript"]) == spoken]
            if not part:
                continue
            print(f"\n{split}, {kind}: clips given a transcript, of {len(part)}")
            print(" | ".join(head[:-1] + head[-1:] * spoken))
            for gate in GATES:
                cells = [gate, *(sum(bool(given(r, gate, words)) for r in part) for words in (None, 0, *LIMITS))]
                cells += [f"{word_error_rate(part, gate, 4):.3f}"] * spoken
                print(" | ".join(str(c) for c in cells))
    print("non-speech clips the tagger vetoes whose transcript (every window decoded) has 2+ distinct words:")
    for r in rows:
        if not r["transcript"] and r["decoded"] and not r["heard"] and distinct_words(r["decoded"]) >= 2:
            print(f"  {r['split']:10} {r['origin']:30} {r['labels'][0]:16} p={r['no_speech']:.2f} "
                  f"{distinct_words(r['decoded'])} {r['decoded'][:60]!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["collect", "report"])
    ap.add_argument("--model", default="alm-tiny")
    ap.add_argument("--corpus", default=str(ROOT / "data/corpus-v4"))
    ap.add_argument("--out", default=str(ROOT / "runs/gate-words/clips.jsonl"))
    args = ap.parse_args()
    if args.step == "collect" and not (Path(args.corpus) / "clips.jsonl").is_file():
        raise SystemExit(f"{args.corpus}: no clips.jsonl; build the corpus with `alm data build`")
    if args.step == "report" and not Path(args.out).is_file():
        raise SystemExit(f"{args.out}: nothing collected yet; run `collect` first")
    (collect if args.step == "collect" else report)(args)


if __name__ == "__main__":
    main()
