"""bfloat16 `linear` for a few input rows on CPU (one-token decode steps), from a small C kernel (`gemv_bf16.c`).

Why: a decode step of a small LLM is a chain of matrix-vector products that should stream the weights at memory
speed. PyTorch's bfloat16 `linear` with one input row reached 12-17 GB/s on this project's 2-core CPU, against
a memory copy's 15-17 GB/s (read side; a sum reads at 30); the plain C loop in `gemv_bf16.c`, compiled for
this CPU, with a thread pool of its own (why not OpenMP: see the C file), reached 23-38 GB/s on the same matrices.

`load()` builds the kernel on first use (`alm.kernels.build`, cached per CPU and compiler), checks it against
`torch.nn.functional.linear` on a small product, and returns a `Gemv`, or None when there is no compiler, the
build or the check fails, or `ALM_NATIVE_KERNELS=0`; then callers use PyTorch (the reason is logged once).
"""

from __future__ import annotations

import ctypes
import logging
import os
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from alm.kernels.build import shared_library

log = logging.getLogger(__name__)
SOURCE = Path(__file__).with_name("gemv_bf16.c")
MAX_ROWS = 2  # input rows (tokens) per call; from 4 rows on PyTorch's matmul was faster here (compute, not memory)


class Gemv:
    """`gemv(x, w)` = `F.linear(x, w)` for bfloat16 CPU tensors, x (..., n) with at most MAX_ROWS rows, w (out, n)."""

    max_rows = MAX_ROWS

    def __init__(self, library: ctypes.CDLL, how: str):
        self.how = how  # compiler and flags, for reports
        self._fn = library.alm_gemv_bf16
        self._fn.restype = None
        self._fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.c_long,
                             ctypes.c_long, ctypes.c_int]

    @staticmethod
    def takes(x: torch.Tensor, w: torch.Tensor) -> bool:
        return (x.dtype == w.dtype == torch.bfloat16 and x.device.type == w.device.type == "cpu"
                and x.numel() <= MAX_ROWS * x.shape[-1] and w.is_contiguous() and w.dim() == 2)

    def __call__(self, x: torch.Tensor, w: torch.Tensor, threads: int | None = None) -> torch.Tensor:
        rows, n = w.shape
        if x.shape[-1] != n:
            raise ValueError(f"gemv: input width {x.shape[-1]} is not the weight's {n}")
        x = x.contiguous()
        m = x.numel() // n
        y = torch.empty(*x.shape[:-1], rows, dtype=w.dtype)  # ..., out
        self._fn(w.data_ptr(), x.data_ptr(), y.data_ptr(), m, n, rows, threads or torch.get_num_threads())
        return y


def _agrees(gemv: Gemv) -> bool:
    """The kernel against PyTorch on odd shapes (vector tails, several rows, more rows than threads)."""
    generator = torch.Generator().manual_seed(0)
    for m, n, rows in ((1, 257, 37), (3, 576, 130)):
        x = torch.randn(m, n, generator=generator).to(torch.bfloat16)
        w = torch.randn(rows, n, generator=generator).to(torch.bfloat16)
        want, got = F.linear(x, w).float(), gemv(x, w).float()
        if not torch.allclose(got, want, rtol=2e-2, atol=2e-2 * float(want.abs().max())):
            return False
    return True


@lru_cache(maxsize=1)
def load() -> Gemv | None:
    """The built, checked kernel, or None (see the module docstring); once per process."""
    if os.environ.get("ALM_NATIVE_KERNELS", "1") == "0":
        log.info("native kernels off (ALM_NATIVE_KERNELS=0): decode steps use PyTorch's matmul")
        return None
    path, how = shared_library(SOURCE)
    if path is None:
        log.warning("decode steps use PyTorch's matmul (slower on CPU): %s", how)
        return None
    try:
        gemv = Gemv(ctypes.CDLL(str(path)), how)
    except OSError as exc:
        log.warning("decode steps use PyTorch's matmul: cannot load %s: %s", path, exc)
        return None
    if not _agrees(gemv):
        log.warning("decode steps use PyTorch's matmul: the kernel built by %s disagrees with it", how)
        return None
    return gemv
