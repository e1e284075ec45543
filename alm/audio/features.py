"""Log-mel features per Whisper window: shared by the processor and the vLLM engine so both see the same input."""

from __future__ import annotations

import numpy as np
from transformers import WhisperFeatureExtractor

from alm.model.audio_tokens import SAMPLE_RATE, split_windows


def mel_windows(wave: np.ndarray, window_seconds: float, extractor: WhisperFeatureExtractor) -> list[np.ndarray]:
    """(N,) 16 kHz -> list of (M, Tm) log-mel windows, each at its own length (no padding to 30 s)."""
    return [
        extractor(window, sampling_rate=SAMPLE_RATE, padding=False, truncation=False,
                  return_tensors="np")["input_features"][0]
        for window in split_windows(wave, window_seconds)
    ]
