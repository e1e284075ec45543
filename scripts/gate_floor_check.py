"""Which transcripts would a `speech_gate_floor` take away? For every clip an evaluation read (its results.json) or
a folder holds, the tagger's verdict with the floor; for each clip under it (not decoded), the transcript the model
gives without the floor. Only those clips' notes, and so answers, can change. Session 48 checked 0.01 so
(training/README.md, "Session 48"):

    .venv/bin/python scripts/gate_floor_check.py 0.01 runs/eval/first-split/results.json data/independent-ood
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AUDIO = ("wav", "ogg", "flac", "mp3")


def clip_paths(sources: list[str]) -> list[str]:
    """The audio of every item of the given results.json files, and every audio file under the given folders."""
    paths: set[str] = set()
    for source in sources:
        if source.endswith(".json"):
            for bench in json.loads(Path(source).read_text())["benchmarks"].values():
                for item in bench["items"]:
                    paths.update(item["audio"])
        else:
            paths.update(p for p in glob.glob(f"{source}/**/*", recursive=True) if p.rsplit(".", 1)[-1] in AUDIO)
    return sorted(paths)


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: gate_floor_check.py FLOOR RESULTS.json|FOLDER ... [--model alm-tiny]")
    from tqdm import tqdm

    from alm.audio.io import load_audio
    from alm.inference import Assistant

    args = sys.argv[1:]
    model = args.pop(args.index("--model") + 1) if "--model" in args else "alm-tiny"
    args = [a for a in args if a != "--model"]
    floor, paths = float(args[0]), clip_paths(args[1:])
    assistant = Assistant.load(model, device="cpu")
    settings = assistant.model.tagger.settings
    under, lost = 0, []
    for start in tqdm(range(0, len(paths), 16), desc="clips (x16)"):
        chunk = paths[start : start + 16]
        waves = [load_audio(p) for p in chunk]
        probs = assistant._clip_probabilities(waves)  # A, L
        settings.speech_gate_floor = floor
        verdicts = assistant.model.tagger.hears_speech(probs)
        settings.speech_gate_floor = 0.0
        for k, (path, wave, heard) in enumerate(zip(chunk, waves, verdicts)):
            if heard is None:
                under += 1
                text = assistant.transcribe([wave], probs=probs[k : k + 1])[0]
                if text:
                    lost.append((path, text))
    print(json.dumps({"clips": len(paths), "under_floor": under, "transcripts_lost": lost}, ensure_ascii=False,
                     indent=1))


if __name__ == "__main__":
    main()
