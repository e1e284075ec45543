"""Reading audio with FFmpeg (PyAV): for what libsndfile cannot open from a stream of bytes.

libsndfile recognises formats from their first bytes, and from bytes alone it refuses some real
files (an mp3 that starts with an empty ID3 tag and padding) and whole formats (m4a/AAC, WebM).
FFmpeg probes the stream instead. Only the demuxers in `formats.FFMPEG_DEMUXERS` may open
untrusted bytes (no playlists or lists that name other files), and sources are always file
objects, never names FFmpeg would read as URLs.
"""

from __future__ import annotations

from typing import BinaryIO

import av
import numpy as np

from alm.audio.formats import FFMPEG_DEMUXERS, ffmpeg_format

ERRORS = (av.FFmpegError, ValueError, OSError, IndexError)  # what opening or decoding bad bytes raises


class FFmpegAudio:
    """The first audio stream of a file: its header facts, then its samples on request. Owns `file`."""

    def __init__(self, file: BinaryIO):
        self._file = file
        try:
            self._container = av.open(file, mode="r", options={"format_whitelist": FFMPEG_DEMUXERS},
                                      metadata_errors="ignore")
        except BaseException:
            file.close()
            raise
        try:
            if not self._container.streams.audio:
                raise ValueError("it holds no audio stream")
            self._stream = self._container.streams.audio[0]
            codec = self._stream.codec_context
            if codec is None:
                raise ValueError("no decoder for its audio codec")
            self.format = ffmpeg_format(self._container.format.name, codec.name)
            self.sample_rate = int(codec.sample_rate or 0)
            self.channels = int(codec.channels or 0)
            if self.sample_rate <= 0:
                raise ValueError("its audio stream has no sample rate")
        except BaseException:
            self.close()
            raise

    @property
    def seconds(self) -> float | None:
        """The duration the container states (None when it states none)."""
        stream = self._stream
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if self._container.duration:
            return self._container.duration / av.time_base
        return None

    def read(self, max_frames: int | None) -> np.ndarray:
        """Decoded samples averaged to mono, (T,) float32, at most `max_frames` of them (None: all); ValueError on
        damaged data."""
        try:
            return self._read(max_frames)
        except ERRORS as exc:
            raise ValueError(str(exc)) from None

    def _read(self, max_frames: int | None) -> np.ndarray:
        resampler = av.AudioResampler(format="fltp")  # planar float32, the first frame's layout and rate
        blocks, frames = [], 0
        try:
            for packet in self._container.demux(self._stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        block = out.to_ndarray().mean(axis=0)  # C, n -> n: mono, block by block
                        blocks.append(block)
                        frames += len(block)
                    if max_frames is not None and frames >= max_frames:
                        return _join(blocks)[:max_frames]
        except ERRORS:
            if not frames:
                raise
            # a cut-off or damaged tail (an interrupted recording): keep what decoded before it
        return _join(blocks)

    def close(self) -> None:
        self._container.close()
        self._file.close()


def _join(blocks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(blocks).astype(np.float32, copy=False) if blocks else np.zeros(0, np.float32)
