"""Audio decoding: formats, channels, sample rates, and one-line errors for bad input."""

import numpy as np
import pytest
import soundfile as sf

from alm.audio import SAMPLE_RATE, decode_audio_bytes, load_audio
from alm.errors import AudioError


def sine(sr: int, seconds: float = 1.0, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    wave = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
@pytest.mark.parametrize("sr, channels", [(8_000, 1), (44_100, 2), (48_000, 2)])
def test_formats_rates_and_channels(tmp_path, fmt, subtype, sr, channels):
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, sine(sr, channels=channels), sr, format=fmt, subtype=subtype)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - SAMPLE_RATE) < 0.02 * SAMPLE_RATE  # mp3 adds encoder padding
    # still a 440 Hz tone after downmix and resampling
    spectrum = np.abs(np.fft.rfft(wave[2000:14000]))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / 12000
    assert abs(peak_hz - 440) < 5


def test_many_channels_are_averaged(tmp_path):
    path = tmp_path / "six.wav"
    sf.write(path, sine(48_000, channels=6), 48_000)
    assert np.abs(load_audio(path)).max() == pytest.approx(0.5, abs=0.01)


def test_resampled_tone_is_accurate(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, sine(22_050, seconds=2.0, freq=300.0), 22_050)
    wave = load_audio(path)
    reference = 0.5 * np.sin(2 * np.pi * 300 * np.arange(len(wave)) / SAMPLE_RATE)
    assert np.abs(wave[500:-500] - reference[500:-500]).max() < 1e-2


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_text("this is not audio\n" * 50), "not a readable audio file"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 10), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros(0, np.float32), 16_000, format="WAV"), "zero length"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
    ids=["missing", "empty", "text", "corrupt", "zero-length", "folder"],
)
def test_bad_files_give_one_line_errors(tmp_path, make, message):
    path = tmp_path / "clip.wav"
    make(path)
    with pytest.raises(AudioError, match=message) as info:
        load_audio(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_decode_bytes(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, sine(16_000), 16_000)
    assert len(decode_audio_bytes(path.read_bytes())) == 16_000
    with pytest.raises(AudioError, match="empty"):
        decode_audio_bytes(b"")
    with pytest.raises(AudioError, match="not a readable audio file"):
        decode_audio_bytes(b"hello world")
