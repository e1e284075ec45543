"""A model between two trained alm models of one lineage: every weight tensor is (1 - alpha) * START + alpha * END,
the rest of the folder is END's. Weight-space ensembling of a fine-tuned model with the one it started from (WiSE-FT,
Wortsman et al. 2022) keeps much of what the later training gained while giving back less of what the earlier model
did well; here it is meant for a stage that trains the LoRA alone from another model (the speech stage,
`training/recipes/alm-tiny-speech/`, from alm-tiny), so the two share every frozen tensor and their LoRA factors
start from the same values. Nothing is trained; the result is recorded in OUT's training record (`interpolated`).

    .venv/bin/python scripts/interpolate_models.py alm-tiny runs/alm-tiny-speech-refold/stage4/model \
        runs/alm-tiny-speech-half --alpha 0.5

The models must hold the same weight files with the same tensor names and shapes, and the same sound tagger labels
(a tagger's output rows mean its labels); anything else is a one-line error."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alm.checkpoints import resolve_checkpoint  # noqa: E402
from alm.errors import AlmError  # noqa: E402
from training.interpolate import interpolate_folder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("start", help="the earlier model (a folder, or alm-tiny): alpha 0 gives its weights")
    ap.add_argument("end", help="the later model, trained from START: alpha 1 gives it")
    ap.add_argument("out", help="the new model's folder (must not exist)")
    ap.add_argument("--alpha", type=float, required=True, help="weight of END, in (0, 1)")
    args = ap.parse_args()
    if not 0 < args.alpha < 1:
        raise SystemExit(f"--alpha {args.alpha}: expected a weight in (0, 1)")
    if Path(args.out).exists():
        raise SystemExit(f"{args.out}: exists; give a new folder")
    try:
        blended = interpolate_folder(resolve_checkpoint(args.start), resolve_checkpoint(args.end), Path(args.out),
                                     args.alpha)
    except AlmError as exc:
        raise SystemExit(str(exc)) from None
    print(json.dumps({"out": args.out, "alpha": args.alpha, "tensors_blended": blended}))


if __name__ == "__main__":
    main()
