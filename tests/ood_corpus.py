"""A tiny corpus with every split `alm data build` writes, out-of-domain included: the fake corpus of
test_eval_runs (its test split), a training split of classification records (tones with a little
jitter, for the encoder probe), a test_ood split (classes the training split has, one of them
over-represented, as speech is in the real one) and a clip table with non-speech clips."""

from __future__ import annotations

import json
from pathlib import Path

from test_eval_runs import _record, _tone, make_corpus

from instruction_data.files import write_records

TONES = {"dog": 300, "rain": 500, "speech": 700, "bell": 900}  # the fake corpus's classes and pitches


def _classification(rid: str, name: str, path: str, origin: str) -> object:
    meta = {"clip_id": rid, "labels": [name], "answer": name, "class": name, "origin": origin}
    return _record(f"{rid}:classification:0", "classification", "What sound is this?", f"It is {name}.", [path], meta)


def make_ood_corpus(root: Path) -> Path:
    make_corpus(root)
    train = []
    for name, freq in TONES.items():
        for k in range(4):  # four training clips per class, slightly different pitch and loudness
            path = _tone(root / "audio" / "train" / f"{name}-{k}.wav", freq * (1 + 0.02 * (k - 1.5)),
                         gain=0.2 + 0.05 * k)
            train.append(_classification(f"{name}-{k}", name, path, "trainsrc"))
    ood, clips = [], []
    for name, freq in TONES.items():
        for k in range(5 if name == "speech" else 1):  # speech over-represented, as in the real test_ood
            clip = f"ood-{name}-{k}"
            path = _tone(root / "audio" / "ood" / f"{clip}.wav", freq * (1 + 0.01 * k), seconds=0.5)
            ood.append(_classification(clip, name, path, "heldout"))
            kind = "speech" if name == "speech" else "sound"
            clips.append({"split": "test_ood", "audio": path, "clip_id": clip, "kind": kind, "labels": [name],
                          "transcript": "set an alarm for tonight please" if kind == "speech" else ""})
        meta = {"clip_id": name, "labels": [name], "origin": "heldout", "captions": [f"A {name}."]}
        ood.append(_record(f"ood-{name}:caption:0", "caption", "Describe the audio.", f"A {name}.",
                           [clips[-1]["audio"]], meta))
        for mode in ("random", "popular", "adversarial"):
            other = {"dog": "rain", "rain": "bell", "speech": "dog", "bell": "speech"}[name]
            for answer, asked in (("yes", name), ("no", other)):
                ood.append(_record(f"ood-{name}:existence:{mode}-{answer}", "existence", f"Is there {asked}?",
                                   f"{answer.title()}.", [clips[-1]["audio"]],
                                   {**meta, "answer": answer, "asked_label": asked}, negative_mode=mode))
        ood.append(_record(f"ood-{name}:existence:unsure", "existence", "Is there a moth?", "I cannot tell.",
                           [clips[-1]["audio"]], {**meta, "answer": "unsure"}))
        ood.append(_record(f"ood-{name}:loudness:0", "loudness", "Is it loud or quiet?", "Loud.",
                           [clips[-1]["audio"]], {**meta, "answer": "loud"}))
    said = {"short": "Stop.", "long": "Please set an alarm for seven tomorrow morning, thank you."}
    for length, text in said.items():
        path = _tone(root / "audio" / "ood" / f"voice-{length}.wav", 700)
        ood.append(_record(f"voice-{length}:speech_content:0", "speech_content", "What is said?", text, [path],
                           {"transcript": text, "language": "English", "origin": "voicepack", "answer": text}))
    ood.append(_record("ood-dog:speech_content:none", "speech_content", "What is said?", "No one speaks.",
                       [clips[0]["audio"]], {"transcript": "", "answer": "no speech", "origin": "heldout"}))
    write_records(root / "train.jsonl", train)
    write_records(root / "test_ood.jsonl", ood)
    clips.append({"split": "test", "audio": "audio/fake/bell.wav", "clip_id": "bell", "kind": "sound",
                  "labels": ["bell"], "transcript": ""})
    (root / "clips.jsonl").write_text("".join(json.dumps(c) + "\n" for c in clips))
    return root
