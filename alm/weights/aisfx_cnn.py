"""Convert aisfx's checkpoint (a pickled (state_dict, datasets) tuple) into a safetensors folder of its CNN.

The pickle is read with `torch.load(weights_only=True)` and only numpy's scalar and dtype classes
allowed, so nothing in the file can run code. Only the embedding network is kept: the per-dataset
classification heads are specific to the sound libraries aisfx was trained on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from alm.errors import WeightsError

STEPS = 2  # read, save
PREFIX = "embedding_net."


def convert_aisfx_cnn(weights: tuple[Path, ...], extras: dict[str, Path], out_dir: Path,
                      step: Callable[[str], None]) -> None:
    (checkpoint,) = weights
    step("reading the checkpoint")
    from numpy._core.multiarray import scalar

    allowed = [(scalar, "numpy.core.multiarray.scalar"), np.dtype, type(np.dtype("int64"))]
    with torch.serialization.safe_globals(allowed):
        state, _datasets = torch.load(checkpoint, map_location="cpu", weights_only=True)
    cnn = {k.removeprefix(PREFIX): v.float().contiguous() for k, v in state.items() if k.startswith(PREFIX)}
    if "conv_block1.conv1.weight" not in cnn:
        raise WeightsError(f"{checkpoint}: no aisfx embedding network in the checkpoint")
    step("saving")
    from alm.model.sound_encoder import save_cnn

    save_cnn(cnn, out_dir)
