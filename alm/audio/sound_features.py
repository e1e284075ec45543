"""Input features of the general-sound encoder (`alm.model.sound_encoder`), per Whisper window.

- aisfx's CNN: the clip resampled to 44.1 kHz and peak-normalised, a 2048-point STFT every 1024
  samples (Hann, centred), power through 96 HTK-scale mel filters (each of unit area, 0-22050 Hz),
  log10(1 + 10^4 x), scaled by 1/9.4578 (the package's "original" normalisation). The package computes
  its spectrograms with Essentia or librosa; this is the librosa recipe in torch.
- a transformers model on raw waveforms: its own feature extractor (usually zero mean, unit variance).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr
import torch

CNN_MARKER = "alm_sound_cnn.json"  # a folder holding an aisfx-style CNN converted by alm
CNN_RATE, CNN_FFT, CNN_HOP, CNN_MELS = 44_100, 2048, 1024, 96
CNN_SCALE = 9.457798957824707  # aisfx's normalisation maximum ("original")


@lru_cache(maxsize=1)
def _mel_filters() -> torch.Tensor:
    from transformers.audio_utils import mel_filter_bank

    bank = mel_filter_bank(num_frequency_bins=CNN_FFT // 2 + 1, num_mel_filters=CNN_MELS, min_frequency=0.0,
                           max_frequency=CNN_RATE / 2, sampling_rate=CNN_RATE, norm=None, mel_scale="htk")
    bank = torch.tensor(bank, dtype=torch.float32)  # F, 96
    return bank / bank.sum(0, keepdim=True).clamp_min(1e-10)


def cnn_log_mel(window: np.ndarray, sample_rate: int = 16_000) -> np.ndarray:
    """(N,) samples -> (96, S) normalised log-mel, S = 1 + N * 44100 / sample_rate // 1024 frames."""
    y = soxr.resample(np.asarray(window, dtype=np.float32), sample_rate, CNN_RATE).astype(np.float32)
    y = y / max(float(np.abs(y).max()), 1e-9)
    stft = torch.stft(torch.from_numpy(y), CNN_FFT, CNN_HOP, window=torch.hann_window(CNN_FFT), center=True,
                      pad_mode="constant", return_complex=True)  # F, S
    mel = _mel_filters().T @ stft.abs().pow(2)  # 96, S
    return (torch.log10(mel * 1e4 + 1) / CNN_SCALE).numpy()  # 96, S


class SoundFeatures:
    """The sound encoder's input for one window: channels first, (F, S), like Whisper's log-mel (M, Tm)."""

    def __init__(self, extractor=None):
        self.extractor = extractor  # None: aisfx's CNN log-mel; else a transformers feature extractor

    @classmethod
    def for_encoder(cls, name: str) -> "SoundFeatures":
        """For `AlmConfig.sound_encoder`: `builtin:aisfx` (or a folder of such a CNN), else a Hub model's extractor."""
        if name == "builtin:aisfx":
            return cls()
        from alm.weights import resolve_base

        folder = Path(resolve_base(name))
        if (folder / CNN_MARKER).is_file():
            return cls()
        from transformers import AutoFeatureExtractor

        return cls(AutoFeatureExtractor.from_pretrained(str(folder)))

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """(N,) 16 kHz samples -> (96, S) log-mel (the CNN) or (1, N) normalised samples (waveform models)."""
        if self.extractor is None:
            return cnn_log_mel(window)
        values = self.extractor(window, sampling_rate=16_000, return_tensors="np")["input_values"][0]
        return values[None].astype(np.float32)
