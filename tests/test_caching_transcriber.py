"""`alm.transcribe.CachingTranscriber`: each distinct clip is transcribed once, the rest delegated unchanged."""

import numpy as np

from alm.transcribe import CachingTranscriber, caching


class CountingTranscriber:
    backend = "fake"
    no_speech_threshold = 0.45

    def __init__(self):
        self.calls = 0

    def transcribe(self, wave: np.ndarray) -> str:
        self.calls += 1
        return f"{len(wave)} samples, sum {float(wave.sum()):.3f}"

    def transcribe_batch(self, waves):
        return ["batch"] * len(waves)


def waves(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(1600 + i).astype(np.float32) for i in range(n)]


def test_each_distinct_clip_is_transcribed_once():
    inner = CountingTranscriber()
    cached = CachingTranscriber(inner)
    a, b = waves(2)
    first = [cached.transcribe(w) for w in (a, b, a.copy(), b, a)]
    assert inner.calls == 2
    assert first == [inner.transcribe(w) for w in (a, b, a, b, a)]  # the inner transcriber's own texts


def test_the_least_recently_used_text_goes_first():
    inner = CountingTranscriber()
    cached = CachingTranscriber(inner, size=2)
    a, b, c = waves(3)
    cached.transcribe(a), cached.transcribe(b), cached.transcribe(a)  # b is now the oldest
    cached.transcribe(c)  # evicts b
    calls = inner.calls
    cached.transcribe(a)
    assert inner.calls == calls
    cached.transcribe(b)
    assert inner.calls == calls + 1


def test_clear_and_delegation():
    inner = CountingTranscriber()
    cached = caching(inner)
    assert caching(cached) is cached and caching(None) is None
    assert (cached.backend, cached.no_speech_threshold) == ("fake", 0.45)
    assert cached.transcribe_batch(waves(2)) == ["batch", "batch"]
    a = waves(1)[0]
    cached.transcribe(a)
    cached.clear()
    cached.transcribe(a)
    assert inner.calls == 2
