"""How many clips of the independent sets, none of them speech, a model's transcriber gives words to: as the model
loads it (Whisper's no-speech gate and decode checks, then its tagger's speech gate) and behind Whisper's gate alone.
Screams, laughs, coughs, grunts and shouts are counted apart (voiced, not speech).

    .venv/bin/python scripts/independent_ood/transcripts_on_sound.py [MODEL] [SETS_ROOT] [OUT_JSON]

Defaults: alm-tiny, data/independent-ood, runs/independent-ood/transcripts.json (every clip's two transcripts)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

VOICED = {"scream", "laughter", "cough", "grunt", "shout"}  # human sounds that are voiced but not speech


def main() -> None:
    from alm.audio.io import load_audio
    from alm.inference import Assistant

    model = sys.argv[1] if len(sys.argv) > 1 else "alm-tiny"
    root = Path(sys.argv[2] if len(sys.argv) > 2 else REPO / "data/independent-ood")
    out = Path(sys.argv[3] if len(sys.argv) > 3 else REPO / "runs/independent-ood/transcripts.json")
    sets = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    if not sets:
        raise SystemExit(f"{root}: no set folders; build them with scripts/independent_ood/build.sh")
    assistant = Assistant.load(model, device="cpu")
    report = {}
    for folder in sets:
        rows = []
        for path in sorted(p for p in folder.glob("*/*") if p.is_file()):
            wave = load_audio(path)
            rows.append({"clip": f"{path.parent.name}/{path.name}",
                         "whisper_gate": assistant.transcriber.transcribe(wave).strip(),
                         "both_gates": assistant.transcribe([wave])[0].strip()})
        voiced = [r for r in rows if r["clip"].split("/")[0] in VOICED]
        other = [r for r in rows if r["clip"].split("/")[0] not in VOICED]
        summary = {"clips": len(rows), "not_voiced": len(other),
                   "given_words_both_gates": sum(bool(r["both_gates"]) for r in other),
                   "given_words_whisper_gate": sum(bool(r["whisper_gate"]) for r in other),
                   "voiced": len(voiced), "voiced_given_words_both_gates": sum(bool(r["both_gates"]) for r in voiced)}
        report[folder.name] = {"summary": summary, "clips": rows}
        print(folder.name, json.dumps(summary), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(out)


if __name__ == "__main__":
    main()
