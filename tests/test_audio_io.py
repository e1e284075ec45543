"""Audio decoding: formats, channels, sample rates, and one-line errors for bad input."""

import io
import os
import struct
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from alm.audio import SAMPLE_RATE, decode_audio_bytes, load_audio
from alm.audio.formats import declared_format, format_of_mime
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


# ---------------------------------------------------------------- by content, bounded, and the same for every caller
def _encoded(wave, sr, fmt, subtype=None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def _padded_mp3() -> bytes:
    """An empty ID3v2 tag (size 0), padding, then mp3 frames: libsndfile refuses it from bytes (no file name)."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 512 + _encoded(sine(16_000, 2.0), 16_000, "MP3")


def test_an_mp3_behind_an_empty_id3_tag_reads_from_bytes_and_from_a_file(tmp_path):
    data = _padded_mp3()
    for name in ("clip.mp3", "clip.bin"):  # the name does not matter
        (tmp_path / name).write_bytes(data)
    waves = [decode_audio_bytes(data), decode_audio_bytes(data, declared="mp3"),
             load_audio(tmp_path / "clip.mp3"), load_audio(tmp_path / "clip.bin")]
    for wave in waves[1:]:
        assert np.array_equal(wave, waves[0])  # by content: the same samples whoever reads it
    assert abs(len(waves[0]) - 2 * SAMPLE_RATE) < 0.2 * SAMPLE_RATE  # FFmpeg keeps the encoder's padding
    spectrum = np.abs(np.fft.rfft(waves[0][4000:20000]))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / 16000 - 440) < 5


def test_formats_libsndfile_cannot_read_go_to_ffmpeg():
    """m4a (AAC) and WebM (Opus), which libsndfile has no decoder for, are read through FFmpeg."""
    av = pytest.importorskip("av")
    for container, codec, rate in (("ipod", "aac", 44_100), ("webm", "libopus", 48_000)):
        buf = io.BytesIO()
        with av.open(buf, "w", format=container) as out:
            stream = out.add_stream(codec, rate=rate)
            frame = av.AudioFrame.from_ndarray(sine(rate, 1.0)[None, :], format="fltp", layout="mono")
            frame.sample_rate = rate
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
        wave = decode_audio_bytes(buf.getvalue(), container)
        assert abs(len(wave) - SAMPLE_RATE) < 0.1 * SAMPLE_RATE and np.abs(wave).max() > 0.3


@pytest.mark.parametrize("data, declared, detected", [
    (lambda: _encoded(sine(16_000), 16_000, "WAV"), "flac", "wav"),
    (lambda: _encoded(sine(16_000), 16_000, "FLAC"), "wav", "flac"),
    (_padded_mp3, "ogg", "mp3"),
    (lambda: _encoded(sine(48_000), 48_000, "OGG", "OPUS"), "wav", "opus"),
])
def test_a_declared_format_must_agree_with_the_bytes(data, declared, detected):
    with pytest.raises(AudioError, match=f"declared as {declared}, but the data is {detected}"):
        decode_audio_bytes(data(), "clip", declared=declared)


def test_an_ogg_declaration_accepts_opus_in_ogg():
    assert len(decode_audio_bytes(_encoded(sine(48_000), 48_000, "OGG", "OPUS"), declared="ogg"))


def test_formats_and_mime_types():
    assert format_of_mime("audio/mpeg") == "mp3" and format_of_mime("audio/x-wav; codecs=1") == "wav"
    assert format_of_mime("application/octet-stream") is None and format_of_mime("audio/x-unheard-of") is None
    with pytest.raises(AudioError, match="not an audio type"):
        format_of_mime("text/plain")
    with pytest.raises(AudioError, match="not one of"):
        declared_format("aiff")


def test_a_long_clip_is_refused_from_its_header_before_decoding():
    """30 minutes of stereo 48 kHz silence compress to a few hundred KB of FLAC; decoding them would take 690 MB."""
    data = _encoded(np.zeros((48_000 * 1800, 2), np.float32), 48_000, "FLAC")
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(AudioError, match="is 1800.0 s long; the maximum is 600 s"):
        decode_audio_bytes(data, "silence", max_seconds=600)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 20 * 2**20, (elapsed, peak)


def test_a_huge_sparse_wav_is_refused_from_its_header(tmp_path):
    path = tmp_path / "sparse.wav"
    sf.write(path, np.zeros(16, np.int16), 16_000, subtype="PCM_16")
    size = 2 * 2**30
    os.truncate(path, size)
    with open(path, "r+b") as fh:  # RIFF and data chunk sizes for 2 GB of samples
        fh.seek(4)
        fh.write(struct.pack("<I", size - 8))
        fh.seek(40)
        fh.write(struct.pack("<I", size - 44))
    start = time.perf_counter()
    with pytest.raises(AudioError, match="the maximum is 600 s"):
        load_audio(path, max_seconds=600)
    assert time.perf_counter() - start < 1.0


def test_a_header_that_states_no_length_still_stops_decoding_at_the_maximum():
    data = bytearray(_encoded(np.zeros(16_000 * 40, np.float32), 16_000, "FLAC"))
    data[8 + 13] &= 0xF0  # STREAMINFO total samples = 0: "unknown"
    data[8 + 14 : 8 + 18] = b"\0\0\0\0"
    with pytest.raises(AudioError, match="longer than the maximum of 30 s"):
        decode_audio_bytes(bytes(data), "unknown length", max_seconds=30)
    assert len(decode_audio_bytes(bytes(data), max_seconds=60)) == 40 * SAMPLE_RATE


@pytest.mark.parametrize("target, kind", [("/dev/zero", "a character device"), ("fifo", "a FIFO"),
                                          ("folder", "a folder")])
def test_devices_fifos_and_folders_are_named_not_read(tmp_path, target, kind):
    if target == "fifo":
        os.mkfifo(tmp_path / "fifo")
    elif target == "folder":
        (tmp_path / "folder").mkdir()
    path = target if target.startswith("/") else tmp_path / target
    with pytest.raises(AudioError, match=f"is {kind}"):
        load_audio(path)  # a FIFO would block, /dev/zero would never end
