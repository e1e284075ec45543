"""The one function that says how many audio tokens a clip becomes."""

import math

import pytest

from alm.model import AlmConfig, num_audio_tokens
from alm.model.audio_tokens import split_windows, window_lengths

SR = 16_000


def config(**kw):
    return AlmConfig(**kw)


@pytest.mark.parametrize(
    "aligner, extra, seconds, expected",
    [
        ("mlp", {}, 10.0, 63),  # 1000 mel -> 500 frames -> ceil(500 / 8)
        ("mlp", {"aligner_stack": 4}, 10.0, 125),
        ("pool", {}, 10.0, 32),  # ceil(500 / 16)
        ("qformer", {"qformer_queries": 32}, 10.0, 32),
        ("mlp", {}, 30.0, 188),  # 1500 frames -> ceil(1500 / 8)
        ("mlp", {}, 35.0, 188 + 32),  # windows of 30 s + 5 s: 188 + ceil(250 / 8)
        ("qformer", {"qformer_queries": 32}, 65.0, 3 * 32),  # three windows
        ("mlp", {}, 0.001, 1),  # 16 samples, padded to 0.1 s -> 10 mel -> 5 frames -> 1 token
    ],
)
def test_token_counts(aligner, extra, seconds, expected):
    assert num_audio_tokens(int(seconds * SR), config(aligner=aligner, **extra)) == expected


def test_token_count_grows_with_length_and_never_zero():
    cfg = config()
    counts = [num_audio_tokens(n, cfg) for n in range(1, 40 * SR, 7919)]
    assert min(counts) >= 1
    assert counts == sorted(counts)


def test_windows_cover_the_clip():
    assert window_lengths(65 * SR, 30.0) == [30 * SR, 30 * SR, 5 * SR]
    assert window_lengths(30 * SR, 30.0) == [30 * SR]
    assert window_lengths(30 * SR + 10, 30.0) == [30 * SR, 1600]  # short tail padded to 0.1 s
    import numpy as np

    pieces = split_windows(np.arange(30 * SR + 10, dtype=np.float32), 30.0)
    assert [len(p) for p in pieces] == [30 * SR, 1600]
    assert pieces[1][:10].tolist() == list(range(30 * SR, 30 * SR + 10)) and not pieces[1][10:].any()


def test_zero_length_is_rejected():
    with pytest.raises(ValueError):
        window_lengths(0, 30.0)


def test_custom_window_seconds():
    cfg = config(window_seconds=10.0)
    assert num_audio_tokens(25 * SR, cfg) == 2 * math.ceil(500 / 8) + math.ceil(250 / 8)
