"""Log-mel features per Whisper window, and stacking windows of different lengths into one batch.

Shared by the processor and the vLLM engine so both see the same input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import WhisperFeatureExtractor

from alm.model.audio_tokens import SAMPLE_RATE, split_windows


def mel_windows(wave: np.ndarray, window_seconds: float, extractor: WhisperFeatureExtractor) -> list[np.ndarray]:
    """(N,) 16 kHz -> list of (M, Tm) log-mel windows, each at its own length (no padding to 30 s)."""
    return [
        extractor(window, sampling_rate=SAMPLE_RATE, padding=False, truncation=False,
                  return_tensors="np")["input_features"][0]
        for window in split_windows(wave, window_seconds)
    ]


def pad_windows(blocks: Sequence[np.ndarray | torch.Tensor]) -> torch.Tensor:
    """Windows (M, Tm_i), or blocks of windows (W_i, M, Tm_i), -> one zero-padded (sum W_i, M, max Tm_i) float32."""
    tensors = [torch.as_tensor(b).reshape(-1, *b.shape[-2:]) for b in blocks]  # each W_i, M, Tm_i
    length = max(t.shape[-1] for t in tensors)
    return torch.cat([torch.nn.functional.pad(t, (0, length - t.shape[-1])) for t in tensors]).float()
