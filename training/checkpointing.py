"""Periodic checkpoints of a stage: trainable weights, optimizer, scheduler, RNG states, data position.

A checkpoint is the folder `<run_dir>/checkpoints/step-NNNNNNNN/`, written in a temporary folder
beside it and renamed into place, so a run killed while writing leaves no half checkpoint. Only
parameters that train are saved (aligner, LoRA, the encoder if it trains): the frozen bases are
rebuilt from the recipe on resume.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from alm.errors import AlmError
from alm.files import atomic_folder

CHECKPOINTS = "checkpoints"
STEP_DIR = re.compile(r"^step-(\d{8})$")
WEIGHTS_FILE = "trainable.safetensors"
STATE_FILE = "state.json"


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if STEP_DIR.match(p.name) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def save_checkpoint(run_dir: Path, step: int, model, optimizer, scheduler, state: dict, rng_states: list[dict],
                    keep: int) -> Path:
    """Write checkpoint `step` atomically, then delete all but the newest `keep`."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    with atomic_folder(final) as tmp:
        save_file(trainable_state(model), str(tmp / WEIGHTS_FILE))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(rng_states, tmp / "rng.pt")  # one entry per process
        (tmp / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model, optimizer, scheduler, rank: int, num_processes: int) -> dict:
    """Restore weights, optimizer, scheduler and this process's RNG state; returns the saved state dict."""
    state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    if state.get("num_processes", 1) != num_processes:
        raise AlmError(f"{path}: made with {state.get('num_processes')} processes, resuming with {num_processes}; "
                       f"resume with the same number of processes")
    weights = load_file(str(path / WEIGHTS_FILE))
    params = dict(model.named_parameters())
    trainable = {n for n, p in params.items() if p.requires_grad}
    if set(weights) != trainable:
        odd = sorted(set(weights) ^ trainable)[0]
        raise AlmError(f"{path}: its trainable parameters differ from this stage's (e.g. {odd}); wrong run folder?")
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", map_location="cpu", weights_only=True))
    set_rng_state(torch.load(path / "rng.pt", weights_only=False)[rank])  # our own file: numpy state needs pickle
    return state


def remove_checkpoints(run_dir: Path) -> None:
    shutil.rmtree(Path(run_dir) / CHECKPOINTS, ignore_errors=True)
