"""How many audio tokens a clip becomes: the one place this is computed.

A clip of N samples at 16 kHz is cut into Whisper windows of at most `window_seconds`
(the last one padded up to MIN_WINDOW_SAMPLES if shorter). Each window of L samples gives
L // 160 log-mel frames, Whisper's stride-2 convolution halves that (rounding up), and the
aligner maps those encoder frames to tokens:
    mlp:     ceil(frames / aligner_stack)
    pool:    ceil(frames / pool_stride)
    qformer: qformer_queries (fixed per window)
    none:    0 (the LLM reads only the clip's notes)
The clip's token count is the sum over its windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

SAMPLE_RATE = 16_000
HOP_LENGTH = 160  # samples per log-mel frame
MIN_WINDOW_SAMPLES = 1_600  # 0.1 s: shorter windows are zero-padded to this


@dataclass(frozen=True)
class AudioTokenSpec:
    """The settings of an `AlmConfig` that decide how many tokens a clip becomes (the processor keeps these)."""

    aligner: str  # mlp | pool | qformer
    aligner_stack: int  # mlp: encoder frames per token
    pool_stride: int  # pool: encoder frames per token
    qformer_queries: int  # qformer: tokens per window
    window_seconds: float  # Whisper window length

    @classmethod
    def of(cls, config) -> "AudioTokenSpec":
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def window_lengths(num_samples: int, window_seconds: float) -> list[int]:
    """Sample count of each encoder window of a clip (after padding a short last window)."""
    if num_samples <= 0:
        raise ValueError("a clip must have at least one sample")
    size = int(window_seconds * SAMPLE_RATE)
    lengths = [size] * (num_samples // size)
    rest = num_samples - size * len(lengths)
    if rest:
        lengths.append(max(rest, MIN_WINDOW_SAMPLES))
    return lengths


def split_windows(wave: np.ndarray, window_seconds: float) -> list[np.ndarray]:
    """(N,) -> windows of `window_lengths(N)` samples; the last is zero-padded if shorter."""
    out, start = [], 0
    for length in window_lengths(len(wave), window_seconds):
        piece = wave[start : start + length]
        if len(piece) < length:
            piece = np.pad(piece, (0, length - len(piece)))
        out.append(piece)
        start += length
    return out


def mel_frames(window_samples: int) -> int:
    return window_samples // HOP_LENGTH


def encoder_frames(num_mel_frames: int) -> int:
    """Whisper conv2 (kernel 3, stride 2, padding 1): ceil(T / 2)."""
    return (num_mel_frames + 1) // 2


def aligner_tokens(num_encoder_frames: int, config) -> int:
    """Tokens the configured aligner makes from one window's encoder frames."""
    if config.aligner == "mlp":
        return math.ceil(num_encoder_frames / config.aligner_stack)
    if config.aligner == "pool":
        return math.ceil(num_encoder_frames / config.pool_stride)
    if config.aligner == "qformer":
        return config.qformer_queries
    if config.aligner == "none":
        return 0
    raise ValueError(f"unknown aligner {config.aligner!r}")


def window_tokens(window_samples: int, config) -> int:
    return aligner_tokens(encoder_frames(mel_frames(window_samples)), config)


def num_audio_tokens(num_samples: int, config) -> int:
    """Number of audio tokens a clip of `num_samples` (16 kHz) becomes under `config` (an AlmConfig or AudioTokenSpec)."""
    return sum(window_tokens(n, config) for n in window_lengths(num_samples, config.window_seconds))
