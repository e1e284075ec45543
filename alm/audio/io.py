"""Decode audio files or bytes to 16 kHz mono float32 numpy arrays.

Whisper (and so every alm model) listens at 16 kHz, mono. Any format libsndfile reads
(wav, flac, ogg/vorbis, opus, mp3) at any sample rate and channel count is accepted;
channels are averaged and the signal is resampled with libsoxr.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import threading
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from alm.errors import AudioError

SAMPLE_RATE = 16_000


def _resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (libsoxr, high quality), float32 in and out."""
    if orig_sr == target_sr:
        return wave
    return soxr.resample(wave, orig_sr, target_sr).astype(np.float32, copy=False)


def to_mono_16k(wave: np.ndarray, sample_rate: int, name: str = "audio") -> np.ndarray:
    """(T,) or (T, C) at `sample_rate` -> (T',) float32 at 16 kHz; rejects empty or non-finite audio."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)  # T, C -> T
    if wave.ndim != 1:
        raise AudioError(f"{name}: expected mono or multichannel audio, got an array of shape {wave.shape}")
    if wave.size == 0:
        raise AudioError(f"{name}: the audio has zero length")
    if not np.isfinite(wave).all():
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    if sample_rate <= 0:
        raise AudioError(f"{name}: invalid sample rate {sample_rate}")
    return _resample(wave, int(sample_rate), SAMPLE_RATE)


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _native_stderr_silenced():
    """libmpg123 prints resync notes straight to fd 2 on damaged mp3s; keep them off the user's terminal."""
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 (e.g. some daemons): nothing to silence
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def _decode(source, name: str) -> np.ndarray:
    try:
        with _native_stderr_silenced():
            wave, sr = sf.read(source, dtype="float32", always_2d=True)  # T, C
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc).split("\n")[0]
        if "does not exist" in reason:  # libsndfile's wording when no decoder accepts the bytes
            reason = "no decoder recognises its contents"
        raise AudioError(f"{name}: not a readable audio file (wav, flac, ogg, mp3): {reason}") from None
    return to_mono_16k(wave, sr, name)


def load_audio(path: str | Path) -> np.ndarray:
    """Read an audio file -> (T,) float32 at 16 kHz mono. Raises AudioError with a one-line reason."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty")
    return _decode(str(path), str(path))


def decode_audio_bytes(data: bytes, name: str = "audio") -> np.ndarray:
    """Decode an in-memory audio file (e.g. base64-decoded upload) -> (T,) float32 at 16 kHz mono."""
    if not data:
        raise AudioError(f"{name}: the audio data is empty")
    return _decode(io.BytesIO(data), name)


def encode_audio(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, fmt: str = "WAV") -> bytes:
    """A clip as an audio file in memory, in any format libsndfile writes (WAV: 16-bit PCM), clipped to [-1, 1]."""
    buf = io.BytesIO()
    subtype = "PCM_16" if fmt.upper() == "WAV" else None
    sf.write(buf, np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0), sample_rate, format=fmt.upper(),
             subtype=subtype)
    return buf.getvalue()


def wav_bytes(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A clip as a 16-bit PCM wav file in memory."""
    return encode_audio(wave, sample_rate, "WAV")


def wav_base64(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> str:
    """The clip as a base64 16-bit wav: what OpenAI `input_audio` content parts carry."""
    return base64.b64encode(wav_bytes(wave, sample_rate)).decode("ascii")
