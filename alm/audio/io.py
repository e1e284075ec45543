"""Read audio from files or bytes as 16 kHz mono float32 numpy arrays: one function for every caller.

Whisper (and so every alm model) listens at 16 kHz, mono. `read_audio` serves `alm ask`, the API,
the chat and training alike, so a recording one of them accepts the others accept:
- by content, not by name: libsndfile reads what it recognises (wav, flac, ogg/vorbis, opus, mp3);
  what it cannot open from bytes goes to FFmpeg (PyAV), which probes the stream (an mp3 behind an
  empty ID3 tag, m4a/AAC, WebM). A declared format (a request's `format` or MIME type) must agree
  with what the bytes are;
- bounded: the length the header states is checked against `max_seconds` before decoding, and
  decoding stops just past it, so a header that lies costs no more than an honest one;
- channels are averaged and the signal is resampled with libsoxr.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from alm.audio.formats import check_agrees, sndfile_format
from alm.errors import AudioError
from alm.paths import check_input_file

SAMPLE_RATE = 16_000
RATES = (1_000, 192_000)  # sample rates read (8 kHz telephone to 192 kHz studio); others are refused
MAX_CHANNELS = 64
BLOCK_FRAMES = 65_536  # decoded and averaged to mono this many frames at a time
_UNKNOWN_FRAMES = 2**63 - 1  # libsndfile's SF_COUNT_MAX: the header states no length
READABLE = "wav, flac, ogg, opus, mp3, m4a, webm"


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


class _NoLength(ValueError):
    """libsndfile opened the stream but cannot tell its length (and would not read it to its end)."""


class _SndFile:
    """A libsndfile handle with the interface of `ffmpeg.FFmpegAudio` (format, seconds, sample_rate, read)."""

    def __init__(self, file):
        self._source = file  # closed with the handle (libsndfile leaves file objects open)
        self._file = sf.SoundFile(file)
        frames = self._file.frames
        if not 0 < frames < _UNKNOWN_FRAMES:  # libsndfile cannot read such a stream to its end; FFmpeg can
            self._file.close()
            raise _NoLength()
        self.format = sndfile_format(self._file.format, self._file.subtype)
        self.sample_rate = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.seconds = frames / self.sample_rate if self.sample_rate > 0 else None

    def read(self, max_frames: int | None) -> np.ndarray:
        """Up to `max_frames` frames averaged to mono. Many channels are read and averaged block by block (memory:
        one float32 per frame); mono and stereo in one read (reading mp3 in blocks through soundfile re-seeks the
        decoder between blocks, which changes the samples)."""
        frames = -1 if max_frames is None else max_frames
        if self.channels <= 2:
            return self._file.read(frames, dtype="float32", always_2d=True).mean(axis=1)  # T, C -> T
        blocks = self._file.blocks(BLOCK_FRAMES, frames=frames, dtype="float32", always_2d=True)
        return _join([block.mean(axis=1) for block in blocks])  # T, C -> T

    def close(self) -> None:
        self._file.close()
        self._source.close()


def _join(blocks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def _file(source: bytes | Path):
    return open(source, "rb") if isinstance(source, Path) else io.BytesIO(source)  # noqa: SIM115 - readers close it


def _ffmpeg(source: bytes | Path, name: str, reason: str):
    from alm.audio import ffmpeg  # PyAV: imported only when needed (vLLM's venv decodes audio itself)

    try:
        return ffmpeg.FFmpegAudio(_file(source))  # a file object, never a name FFmpeg would read as a URL
    except ffmpeg.ERRORS:
        raise AudioError(f"{name}: not a readable audio file ({READABLE}): {reason}") from None


def _open(source: bytes | Path, name: str):
    """A reader for the audio in `source`, chosen by its contents alone (a path's name is no hint): libsndfile for
    what it recognises, FFmpeg for the rest."""
    reason = "no decoder recognises its contents"
    file = _file(source)
    try:
        with _native_stderr_silenced():
            return _SndFile(file)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        file.close()
        first = str(exc).split("\n")[0]
        vague = "does not exist" in first or "not recognised" in first.lower()  # libsndfile's "no decoder" wordings
        if first and not vague and not isinstance(exc, _NoLength):
            reason = first.split(": ", 1)[-1]
    return _ffmpeg(source, name, reason)


def _decode(reader, source: bytes | Path, name: str, limit: int | None) -> tuple[np.ndarray, int]:
    """(T,) mono samples and their rate. Data libsndfile stops on (a cut-off or damaged file) goes to FFmpeg, which
    decodes what it can."""
    errors = (sf.LibsndfileError, RuntimeError, ValueError, OSError)
    try:
        with _native_stderr_silenced():
            return reader.read(limit), reader.sample_rate
    except errors as exc:
        damaged = AudioError(f"{name}: the audio data is damaged ({str(exc).splitlines()[0]})")
    if not isinstance(reader, _SndFile):
        raise damaged
    try:
        retry = _ffmpeg(source, name, "")
    except AudioError:
        raise damaged from None
    try:
        return retry.read(limit), retry.sample_rate
    except errors:
        raise damaged from None
    finally:
        retry.close()


def too_long(name: str, seconds: float | None, max_seconds: float) -> AudioError:
    """`seconds`: the clip's length, None when only known to be over the maximum."""
    if seconds is None:
        return AudioError(f"{name} is longer than the maximum of {max_seconds:g} s per clip")
    return AudioError(f"{name} is {seconds:.1f} s long; the maximum is {max_seconds:g} s per clip")


def read_audio(source: bytes | str | Path, name: str | None = None, *, declared: str | None = None,
               max_seconds: float | None = None, check: Callable[[float | None], None] | None = None) -> np.ndarray:
    """An audio file (a path) or its bytes -> (T,) float32 at 16 kHz mono. AudioError with a one-line reason.

    `declared`: the format the sender says it is (`alm.audio.formats.FORMATS`); a contradiction is an error.
    `max_seconds`: longer clips are refused from the header's length, before decoding, and decoding never goes
    more than a second past it. `check(seconds)`: the caller's own limits on the header's length (None when
    the header states none), called before decoding."""
    if isinstance(source, (str, Path)):
        source = check_input_file(source, "audio file", AudioError)
        name = name or str(source)
    else:
        name = name or "audio"
        if not source:
            raise AudioError(f"{name}: the audio data is empty")
    reader = _open(source, name)
    try:
        check_agrees(declared, reader.format, name)
        if not RATES[0] <= reader.sample_rate <= RATES[1]:
            raise AudioError(f"{name}: a sample rate of {reader.sample_rate} Hz is outside what alm reads "
                             f"({RATES[0] // 1000}-{RATES[1] // 1000} kHz)")
        if reader.channels > MAX_CHANNELS:
            raise AudioError(f"{name}: {reader.channels} channels; alm reads at most {MAX_CHANNELS}")
        if max_seconds is not None and reader.seconds is not None and reader.seconds > max_seconds:
            raise too_long(name, reader.seconds, max_seconds)
        if check is not None:
            check(reader.seconds)
        limit = None if max_seconds is None else math.ceil((max_seconds + 1) * reader.sample_rate)
        wave, rate = _decode(reader, source, name, limit)  # T (mono)
        if limit is not None and len(wave) >= limit * rate / reader.sample_rate:  # the header understated the length
            raise too_long(name, None, max_seconds)
        return to_mono_16k(wave, rate, name)
    finally:
        reader.close()


def load_audio(path: str | Path, max_seconds: float | None = None) -> np.ndarray:
    """Read an audio file -> (T,) float32 at 16 kHz mono (see `read_audio`)."""
    return read_audio(Path(path), max_seconds=max_seconds)


def decode_audio_bytes(data: bytes, name: str = "audio", declared: str | None = None,
                       max_seconds: float | None = None) -> np.ndarray:
    """Decode an in-memory audio file (e.g. a base64-decoded upload) -> (T,) float32 at 16 kHz mono."""
    return read_audio(data, name, declared=declared, max_seconds=max_seconds)


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
