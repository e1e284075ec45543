"""Where models run and in what precision: `--device auto` and the dtype that is fast there.

`resolve_device("auto")` picks CUDA, then Apple's MPS, then the CPU. `fast_dtype(device)` is
bfloat16 on GPUs that run it (float16 on older CUDA GPUs) and on CPUs with native bfloat16
(AVX512-BF16 or AMX), float32 elsewhere. `DEVICE_HELP` is the one help text every command's
`--device` option shows.
"""

from __future__ import annotations

import os

import torch

from alm.errors import AlmError

AUTO = "auto"
DEVICE_HELP = "auto (cuda, then mps, then cpu; the default), cpu, cuda, cuda:1, mps ..."


def resolve_device(device: str | torch.device | None = AUTO) -> str:
    """"auto" (or None) -> "cuda" / "mps" / "cpu", whichever is there first; any other name is checked and returned."""
    if device is None or str(device) == AUTO:
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    name = str(device)
    try:
        kind = torch.device(name).type
    except (RuntimeError, TypeError):
        raise AlmError(f"--device {name!r}: not a device (use {DEVICE_HELP})") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise AlmError(f"--device {name}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise AlmError(f"--device {name}: MPS is not available here; use --device cpu")
    return name


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bfloat16 matmuls run natively (faster than float32, half the bytes)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def fast_dtype(device: str | torch.device) -> torch.dtype:
    """The inference dtype that is fast on `device` (see the module docstring)."""
    kind = torch.device(str(device)).type
    if kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if kind == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def is_gpu(device: str | torch.device) -> bool:
    return torch.device(str(device)).type in ("cuda", "mps")


def cpu_threads() -> int:
    """Threads torch should use on this machine: the cores this process may run on (`ALM_THREADS` overrides)."""
    if os.environ.get("ALM_THREADS"):
        return max(1, int(os.environ["ALM_THREADS"]))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)
