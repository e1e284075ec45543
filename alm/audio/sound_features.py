"""Input features of the general-sound encoder (`alm.model.sound_encoder`), per Whisper window.

- YAMNet (`alm.model.yamnet`): the window at 16 kHz, 25 ms periodic-Hann frames every 10 ms, 512-point FFT
  magnitude through 64 HTK-scale mel filters (125-7500 Hz, unnormalised), log(x + 0.001): YAMNet's own features.
- aisfx's CNN: the clip resampled to 44.1 kHz and peak-normalised, a 2048-point STFT every 1024
  samples (Hann, centred), power through 96 HTK-scale mel filters (each of unit area, 0-22050 Hz),
  log10(1 + 10^4 x), scaled by 1/9.4578 (the package's "original" normalisation). The package computes
  its spectrograms with Essentia or librosa; this is the librosa recipe in torch.
- a transformers model on raw waveforms: its own feature extractor (usually zero mean, unit variance).
- an Audio Spectrogram Transformer: its extractor's Kaldi-style log-mel (25 ms frames every 10 ms, 128
  bands, normalised by AudioSet's mean and spread), over the whole window rather than cut or padded to the
  model's 1,024 frames: the encoder cuts it into spans (`alm.model.hub_sound_encoders`).
- CLAP's audio tower (HTSAT): the window resampled to 48 kHz and cut into the extractor's 10 s spans, each
  through the extractor as CLAP was trained (the last span padded by repeating its audio, then silence;
  a fusion model's four channels are four copies), spans side by side in time.
"""

from __future__ import annotations

import copy
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import soxr
import torch
import torch.nn.functional as F

CNN_MARKER = "alm_sound_cnn.json"  # a folder holding an aisfx-style CNN converted by alm
CNN_RATE, CNN_FFT, CNN_HOP, CNN_MELS = 44_100, 2048, 1024, 96
CNN_SCALE = 9.457798957824707  # aisfx's normalisation maximum ("original")
FBANK_FRAME, FBANK_HOP = 400, 160  # an AST extractor's frame length and shift, in 16 kHz samples
YAMNET_FFT, YAMNET_BANDS, YAMNET_PATCH = 512, 64, 96  # YAMNet's FFT size, mel bands and frames per patch (0.96 s)
YAMNET_LOG_OFFSET = float(np.log(0.001))  # YAMNet's log(mel + 0.001) of silence


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


@lru_cache(maxsize=1)
def _yamnet_filters() -> torch.Tensor:
    """(257, 64) HTK mel filters 125-7500 Hz, triangles in mel (TensorFlow's `linear_to_mel_weight_matrix`, which
    YAMNet uses; transformers' draws them in Hz), unnormalised, the DC bin in no band."""
    def hz_to_mel(f):
        return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)
    mel = hz_to_mel(np.linspace(0, 8000, YAMNET_FFT // 2 + 1))[:, None]  # F, 1
    edges = np.linspace(hz_to_mel(125.0), hz_to_mel(7500.0), YAMNET_BANDS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    bank = np.maximum(0, np.minimum((mel - lower) / (centre - lower), (upper - mel) / (upper - centre)))  # F, 64
    bank[0] = 0.0
    return torch.tensor(bank, dtype=torch.float32)


def yamnet_log_mel(window: np.ndarray) -> np.ndarray:
    """(N,) 16 kHz samples -> (64, S) log-mel, S = 1 + (N - 400) // 160 frames (at least one; YAMNet's encoder pads a
    window shorter than one patch with silence)."""
    y = torch.from_numpy(np.asarray(window, dtype=np.float32))
    y = F.pad(y, (0, max(0, FBANK_FRAME - len(y))))
    frames = y.unfold(0, FBANK_FRAME, FBANK_HOP)  # S, 400
    window_fn = torch.hann_window(FBANK_FRAME, periodic=True)
    magnitude = torch.fft.rfft(frames * window_fn, YAMNET_FFT).abs()  # S, 257
    return torch.log(magnitude @ _yamnet_filters() + 0.001).T.contiguous().numpy()  # 64, S


def marker_kind(folder: Path) -> str | None:
    """The kind a folder converted by alm records in its marker ("aisfx-cnn", "yamnet"), None without a marker."""
    import json

    marker = folder / CNN_MARKER
    return json.loads(marker.read_text()).get("kind", "aisfx-cnn") if marker.is_file() else None


def load_feature_extractor(path: str, name: str | None = None, hub: dict | None = None):
    """The transformers feature extractor of a Hub sound encoder (id or folder; `hub`: access arguments for
    `from_pretrained`); WeightsError when there is none."""
    from transformers import AutoFeatureExtractor

    from alm.errors import WeightsError, first_line

    try:
        with warnings.catch_warnings():  # AST's 128 bands over 257 FFT bins leave its lowest filters empty, as in AST
            warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")
            return AutoFeatureExtractor.from_pretrained(path, **(hub or {}))
    except (OSError, ValueError, ImportError) as exc:
        raise WeightsError(f"cannot load the feature extractor of sound encoder {name or path!r}: "
                           f"{first_line(exc)}") from None


class SoundFeatures:
    """The sound encoder's input for one window: channels first, (F, S), like Whisper's log-mel (M, Tm), and how
    many of its S frames hold the window's audio (all of them, except after a CLAP window's last span)."""

    def __init__(self, extractor=None, yamnet: bool = False):
        self.extractor = extractor  # None: a CNN alm converted (aisfx's, or YAMNet with yamnet=True); else a transformers
        # feature extractor
        kinds = {"ASTFeatureExtractor": "fbank", "ClapFeatureExtractor": "clap"}
        self.kind = ("yamnet" if yamnet else "cnn") if extractor is None else kinds.get(type(extractor).__name__,
                                                                                         "waveform")

    @classmethod
    def for_encoder(cls, name: str) -> "SoundFeatures":
        """For `AlmConfig.sound_encoder`: `builtin:aisfx` / `builtin:yamnet` (or a folder alm converted them into), else
        a Hub model's extractor."""
        if name in ("builtin:aisfx", "builtin:yamnet"):
            return cls(yamnet=name == "builtin:yamnet")
        from alm.weights import resolve_base

        folder = Path(resolve_base(name))
        kind = marker_kind(folder)
        if kind is not None:
            return cls(yamnet=kind == "yamnet")
        return cls(load_feature_extractor(str(folder), name))

    def __call__(self, window: np.ndarray) -> tuple[np.ndarray, int]:
        """(N,) 16 kHz samples -> (96, S) log-mel (aisfx's CNN), (64, S) log-mel (YAMNet), (M, S) log-mel (AST),
        (C * M, P * S) log-mel spans (CLAP) or (1, N) normalised samples (waveform models); and the number of frames
        that hold the audio."""
        if self.kind in ("cnn", "yamnet"):
            spec = cnn_log_mel(window) if self.kind == "cnn" else yamnet_log_mel(window)
            return spec, spec.shape[1]
        if self.kind == "fbank":
            spec = self._fbank(window)
            return spec, spec.shape[1]
        if self.kind == "clap":
            return self._clap_spans(window)
        values = self.extractor(window, sampling_rate=16_000, return_tensors="np")["input_values"][0]
        return values[None].astype(np.float32), len(values)

    def _fbank(self, window: np.ndarray) -> np.ndarray:
        """(N,) samples -> (M, S) normalised log-mel, S = 1 + (N - 400) // 160 frames (at least one): the extractor
        with its fixed length set to the window's, so nothing is cut or padded."""
        samples = np.asarray(window, dtype=np.float32)
        samples = np.pad(samples, (0, max(0, FBANK_FRAME - len(samples))))
        extractor = copy.copy(self.extractor)
        extractor.max_length = 1 + (len(samples) - FBANK_FRAME) // FBANK_HOP
        values = extractor(samples, sampling_rate=16_000, return_tensors="np")["input_values"][0]  # S, M
        return values.T.astype(np.float32)  # M, S

    def _clap_spans(self, window: np.ndarray) -> tuple[np.ndarray, int]:
        """(N,) samples -> (C * M, P * S): P spans of the extractor's S frames (1,001 for 10 s) each, C channels (1, or
        4 for a fusion model) of M bands; and the frames that hold audio, (P - 1) * S + the last span's own."""
        rate, span, hop = self.extractor.sampling_rate, self.extractor.nb_max_samples, self.extractor.hop_length
        y = soxr.resample(np.asarray(window, dtype=np.float32), 16_000, rate).astype(np.float32)
        y = np.pad(y, (0, max(0, hop - len(y))))  # at least one frame of audio
        pieces = [y[start:start + span] for start in range(0, len(y), span)]
        mels = [self.extractor(piece, sampling_rate=rate, return_tensors="np")["input_features"][0]
                for piece in pieces]  # each C, S, M
        spans = np.concatenate(mels, axis=1)  # C, P * S, M
        frames = spans.shape[1] // len(pieces)  # S
        real = (len(pieces) - 1) * frames + min(frames, 1 + len(pieces[-1]) // hop)
        return spans.transpose(0, 2, 1).reshape(-1, spans.shape[1]).astype(np.float32), real  # C * M, P * S
