"""Fitted sound taggers kept by what they were fit on, so a stage run again (resumed, or a recipe that differs only
past the tagger: another aligner, LLM or data mix) reuses the fit instead of repeating it (on a 2-core CPU a
recipe's four fits, three cross-fitting folds and the final one, take 15-30 min).

An entry's key is the sha256 of everything the fit depends on: the fitting clips' pooled features and targets,
the tagger's settings (labels, names, kind, layers ...), the folds and their source groups, the seed and the
optimizer settings, and FIT_VERSION (raise it when `training.tagger.fit` or its cross-fitting changes what they
compute). An entry holds the final tagger and the fitting clips' cross-fitted probabilities; it is written to a
temporary folder and renamed, so a killed run leaves none half-written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from alm.files import atomic_folder
from alm.model.tagger import SoundTagger, TaggerSettings

FIT_VERSION = 1
HELD_OUT_FILE = "held_out.safetensors"
SET_AFTER_FIT = {"asked_threshold", "asked_top", "speech_gate",  # rules of use, set after the fit: not in the key
                 "speech_gate_words", "speech_gate_floor"}
LATER_FIELDS = {"hidden": 0, "dropout": 0.0, "sound_width": 0, "sound_block": False, "ensemble": 1,  # added later:
                "layers_only": 0, "layers_width": 0}  # keyed when set


def fit_key(features: torch.Tensor, targets: torch.Tensor, settings: TaggerSettings, folds: int,
            groups: list[str] | None, seed: int, fit_kwargs: dict) -> str:
    """The sha256 naming a fit: features (A, K, 2C), targets (A, L) and every setting the fit reads."""
    digest = hashlib.sha256()
    for tensor in (features, targets):
        digest.update(str((tuple(tensor.shape), str(tensor.dtype))).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    read = {k: v for k, v in asdict(settings).items() if k not in SET_AFTER_FIT}
    for name, default in LATER_FIELDS.items():  # a linear head's key is the one it had before these fields existed
        if read.get(name) == default:
            read.pop(name)
    plan = {"version": FIT_VERSION, "settings": read, "folds": folds, "groups": groups, "seed": seed, "fit": fit_kwargs}
    digest.update(json.dumps(plan, sort_keys=True).encode())
    return digest.hexdigest()


def load_fit(root: Path, key: str) -> tuple[SoundTagger, torch.Tensor] | None:
    """(tagger, cross-fitted probabilities (A, L)) of the fit named `key`, or None when there is none."""
    folder = root / key
    if not (folder / HELD_OUT_FILE).is_file():
        return None
    return SoundTagger.load(folder), load_file(folder / HELD_OUT_FILE)["held_out"]


def save_fit(root: Path, key: str, tagger: SoundTagger, held_out: torch.Tensor) -> None:
    done = root / key / HELD_OUT_FILE
    if done.is_file():  # another process of the stage made the same fit and kept it
        return
    try:
        with atomic_folder(root / key) as tmp:
            tagger.save(tmp)
            save_file({"held_out": held_out.detach().cpu().contiguous()}, tmp / HELD_OUT_FILE)
    except OSError:
        if not done.is_file():  # not a race with another process renaming its copy into place first
            raise
