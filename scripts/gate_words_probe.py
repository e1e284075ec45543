"""How many distinct words should a transcript have to pass the tagger's speech gate anyway (`speech_gate_words`,
`alm.model.tagger`)? Collects, for a seeded draw of corpus v4's clips, the transcript Whisper's own gate lets through
and whether the model's tagger hears speech, then counts for each word limit K the non-speech clips given words
(inventions on sound) and the spoken clips kept:

    .venv/bin/python scripts/gate_words_probe.py collect [--model alm-tiny] [--out runs/gate-words/clips.jsonl]
    .venv/bin/python scripts/gate_words_probe.py report [--out runs/gate-words/clips.jsonl]

The draw: every non-speech clip of the held-out split (test_ood) and 300 of its spoken ones; 400 non-speech and 200
spoken clips of the validation split; 500 non-speech clips of the training split. `collect` appends a line per clip
and resumes where it stopped (about 1 s a clip on a 2-core CPU). Session 47 picked K = 4 from its report
(training/README.md, "Session 47")."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DRAW = (("test_ood", None, 300), ("validation", 400, 200), ("train", 500, 0))  # split, non-speech, spoken (None: all)
LIMITS = (2, 3, 4, 5, 6)


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

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["audio"] for line in out.open(encoding="utf-8")} if out.exists() else set()
    todo = [c for c in draw(Path(args.corpus)) if c["audio"] not in done]
    assistant = Assistant.load(args.model, device="cpu")
    tagger = assistant.model.tagger
    if tagger is None or not assistant.transcriber:
        raise SystemExit(f"{args.model}: needs a sound tagger and speech transcripts")
    with out.open("a", encoding="utf-8") as fh:
        for clip in tqdm(todo, desc="clips", unit="clip"):
            wave = load_audio(Path(args.corpus) / clip["audio"])
            probs = assistant._clip_probabilities([wave])  # 1, L
            row = {"audio": clip["audio"], "split": clip["split"], "origin": clip.get("origin"),
                   "labels": clip["labels"], "transcript": clip.get("transcript", ""),
                   "whisper": assistant.transcriber.transcribe(wave).strip(),  # behind Whisper's gate alone
                   "heard": tagger.hears_speech(probs)[0]}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()


def report(args) -> None:
    from alm.model.tagger import distinct_words

    rows = [json.loads(line) for line in Path(args.out).open(encoding="utf-8")]
    table = {}
    for split, *_ in DRAW:
        for kind, spoken in (("non-speech", False), ("spoken", True)):
            part = [r for r in rows if r["split"] == split and bool(r["transcript"]) == spoken]
            if not part:
                continue
            worded = [r for r in part if r["whisper"]]
            table[f"{split} {kind}"] = {
                "clips": len(part), "whisper_gate": len(worded),
                "tagger_gate": sum(r["heard"] for r in worded),
                **{f"words>={k}": sum(r["heard"] or distinct_words(r["whisper"]) >= k for r in worded) for k in LIMITS}}
    print(json.dumps(table, indent=1))
    print("non-speech clips the tagger vetoes whose transcript has 2+ distinct words:")
    for r in rows:
        if not r["transcript"] and r["whisper"] and not r["heard"] and distinct_words(r["whisper"]) >= 2:
            print(f"  {r['split']:10} {r['origin']:30} {r['labels'][0]:16} {distinct_words(r['whisper'])} "
                  f"{r['whisper'][:60]!r}")


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
