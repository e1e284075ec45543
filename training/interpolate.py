"""Weight-space interpolation of two trained alm models of one lineage (WiSE-FT, Wortsman et al. 2022): every weight
tensor (1 - alpha) * START + alpha * END, the rest of the folder END's. The CLI is `scripts/interpolate_models.py`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from alm.errors import AlmError
from alm.files import atomic_folder
from alm.model.tagger import TAGGER_FILE
from training.engine import RECORD_FILE


def interpolate_folder(start: Path, end: Path, out: Path, alpha: float) -> dict[str, int]:
    """Write OUT as END's folder with each weight file's tensors blended; return tensors blended per file."""
    weight_files = sorted(p.relative_to(end) for p in end.rglob("*.safetensors"))
    missing = [str(f) for f in weight_files if not (start / f).is_file()]
    if missing or not weight_files:
        raise AlmError(f"{start}: has no {', '.join(missing) or 'weight files'} to blend with {end}")
    if tagger_labels(start) != tagger_labels(end):
        raise AlmError(f"{start} and {end}: their sound taggers name different labels; nothing to blend")
    blended = {}
    with atomic_folder(out) as tmp:
        shutil.copytree(end, tmp, dirs_exist_ok=True)
        for name in weight_files:
            a, b = load_file(str(start / name)), load_file(str(end / name))
            if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in b):
                raise AlmError(f"{name}: the two models' tensors differ in names or shapes; not one lineage")
            changed = [k for k in b if b[k].is_floating_point() and not a[k].equal(b[k])]
            blended[str(name)] = len(changed)
            if changed:  # a file with nothing to blend is END's, already copied
                mixed = {**b, **{k: ((1 - alpha) * a[k].float() + alpha * b[k].float()).to(b[k].dtype)
                                 for k in changed}}
                save_file(mixed, str(tmp / name), metadata={"format": "pt"})
        if (tmp / RECORD_FILE).is_file():
            record = json.loads((tmp / RECORD_FILE).read_text())
            record["interpolated"] = {"from": str(start), "to": str(end), "alpha": alpha, "tensors": blended}
            (tmp / RECORD_FILE).write_text(json.dumps(record, indent=1) + "\n")
    return blended


def tagger_labels(model: Path) -> list[str] | None:
    """The labels a model's sound tagger names (its output rows), None without a tagger."""
    return json.loads((model / TAGGER_FILE).read_text()).get("labels") if (model / TAGGER_FILE).is_file() else None
