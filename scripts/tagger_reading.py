"""A trained alm model that reads its sound tagger another way: how many tags the notes give (`top_k`), whether
the tagger's speech gate withholds transcripts (`speech_gate`, `speech_gate_words`, `speech_gate_floor`,
`alm.model.tagger`), and where Whisper's own no-speech gate in front of it sits (`no_speech_gate`, the model's
config). Nothing is trained; the model is copied to OUT with those settings changed, and the change is recorded in
its training record (`tagger_reading`), so an evaluation of OUT is an evaluation of exactly that reading.

    .venv/bin/python scripts/tagger_reading.py runs/alm-tiny-vocal/stage3/model runs/vocal-top1g --top-k 1 --speech-gate

Session 43 read alm-tiny (v5y: trained on three tags, no tagger gate) so: with one tag and the gate it named 150 of the
330 held-out class items (three tags: 144), with two and the gate 149 (training/README.md, "Session 43")."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alm.checkpoints import resolve_checkpoint  # noqa: E402
from alm.errors import AlmError  # noqa: E402
from alm.files import atomic_folder  # noqa: E402
from alm.model.tagger import TAGGER_FILE, TaggerSettings  # noqa: E402

RECORD = "training_record.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a trained alm model with a sound tagger (a folder, or alm-tiny)")
    ap.add_argument("out", help="the new model's folder (must not exist)")
    ap.add_argument("--top-k", type=int, default=None, help="tags given per clip (unset: as the model has it)")
    ap.add_argument("--speech-gate", action=argparse.BooleanOptionalAction, default=None,
                    help="withhold the transcript of a clip whose 'speech' the tagger calls unlikely")
    ap.add_argument("--speech-gate-words", type=int, default=None,
                    help="with the gate, keep a transcript of at least this many distinct words anyway (0: none)")
    ap.add_argument("--speech-gate-floor", type=float, default=None,
                    help="with --speech-gate-words, no transcript (and no decode) where 'speech' is under this "
                         "probability")
    ap.add_argument("--whisper-gate", type=float, default=None,
                    help="Whisper's no-speech probability above which a window gets no transcript (the config's)")
    args = ap.parse_args()
    try:
        source = resolve_checkpoint(args.model)
    except AlmError as exc:
        raise SystemExit(str(exc)) from None
    out = Path(args.out)
    if out.exists():
        raise SystemExit(f"{out}: exists; give a new folder")
    if not (source / TAGGER_FILE).is_file():
        raise SystemExit(f"{args.model}: no sound tagger ({TAGGER_FILE}) to read another way")
    settings = TaggerSettings(**json.loads((source / TAGGER_FILE).read_text()))
    changes = {k: v for k, v in (("top_k", args.top_k), ("speech_gate", args.speech_gate),
                                 ("speech_gate_words", args.speech_gate_words),
                                 ("speech_gate_floor", args.speech_gate_floor)) if v is not None}
    config = json.loads((source / "config.json").read_text())
    gate = {"no_speech_gate": args.whisper_gate} if args.whisper_gate is not None else {}
    if gate and not 0 < args.whisper_gate <= 1:
        raise SystemExit(f"--whisper-gate {args.whisper_gate}: expected a probability in (0, 1]")
    if not changes and not gate:
        raise SystemExit("nothing to change: give --top-k, --speech-gate / --no-speech-gate, --speech-gate-words, "
                         "--speech-gate-floor or --whisper-gate")
    if changes.get("top_k", 1) < 1:
        raise SystemExit(f"--top-k {args.top_k}: expected at least 1")
    try:
        dataclasses.replace(settings, **changes)  # validated as any tagger's settings
    except ValueError as exc:
        raise SystemExit(f"{args.model}: {exc}") from None
    was = {**{k: getattr(settings, k) for k in changes}, **{k: config.get(k) for k in gate}}
    with atomic_folder(out) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        data = json.loads((tmp / TAGGER_FILE).read_text())
        data.update(changes)
        (tmp / TAGGER_FILE).write_text(json.dumps(data, indent=1) + "\n")
        if gate:
            (tmp / "config.json").write_text(json.dumps({**config, **gate}, indent=2) + "\n")
        changes = {**changes, **gate}
        if (tmp / RECORD).is_file():
            record = json.loads((tmp / RECORD).read_text())
            earlier = record.get("tagger_reading")  # a reading changed before this one stays on record
            record["tagger_reading"] = {"from": str(args.model), "was": was, "now": changes,
                                        **({"earlier": earlier} if earlier else {})}
            (tmp / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({"out": str(out), "was": was, "now": changes}))


if __name__ == "__main__":
    main()
