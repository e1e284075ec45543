"""Whisper's checks of a decode behind the no-speech gate (`alm.transcribe.failed_decode`): a repetition loop, or an
unsure decode of a window the detector did not call clearly speech, gets no transcript; both backends apply them
only with a gate, and a gated transcriber's cache name carries the checks' version."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import WhisperForConditionalGeneration

from conftest import tiny_whisper_config

from alm import transcribe
from alm.transcribe import (COMPRESSION_RATIO_LIMIT, LOGPROB_FLOOR, UNSURE_NO_SPEECH, Ct2Transcriber, Transcriber,
                            compression_ratio, failed_decode)


def test_a_looping_or_unsure_decode_fails_and_a_sure_one_passes():
    assert compression_ratio("") == 0.0
    assert compression_ratio("A" * 60) > COMPRESSION_RATIO_LIMIT  # "AAAA...": Whisper looping on a trumpet
    assert compression_ratio("The conference is now logged.") < COMPRESSION_RATIO_LIMIT
    assert failed_decode("A" * 60, -0.1, 0.0)  # a loop fails even where the detector hears speech
    unsure = LOGPROB_FLOOR - 0.01
    assert failed_decode("Thank you.", unsure, UNSURE_NO_SPEECH + 0.01)  # "Thank you." to running water
    assert not failed_decode("Thank you.", unsure, UNSURE_NO_SPEECH)  # the detector is sure: an unclear word stays
    assert not failed_decode("Thank you.", LOGPROB_FLOOR, 0.4)


def _stub_ct2(gate, no_speech, decodes):
    """A Ct2Transcriber whose encoder, detector and decoder are stand-ins: `no_speech` per window, `decodes`
    (text, mean log-probability) per window the gate lets through, in order."""
    t = object.__new__(Ct2Transcriber)
    t.no_speech_threshold = gate
    ctranslate2 = pytest.importorskip("ctranslate2")
    t._encode = lambda chunk: ctranslate2.StorageView.from_array(np.zeros((len(chunk), 4, 2), np.float32))  # B, T, C
    t._languages = lambda encoded, n: [None] * n
    t._prompt = lambda language: [0]
    t._no_speech = lambda encoded, prompts: list(no_speech)
    t._text = lambda ids: decodes[ids[0]][0]
    calls = []

    def generate(encoded, prompts, **kwargs):
        calls.append(kwargs)
        passed = [i for i, p in enumerate(no_speech) if gate is None or p <= gate]
        return [SimpleNamespace(sequences_ids=[[i]], scores=[decodes[i][1]] if kwargs["return_scores"] else [])
                for i in passed]

    t.model = SimpleNamespace(generate=generate)
    return t, calls


def test_the_ctranslate2_backend_drops_failed_decodes_only_behind_the_gate():
    decodes = [("Thank you.", -2.0), ("Thank you.", -2.0), ("A" * 60, -0.1), ("the cat sat on the mat", -0.3),
               ("you", -3.0)]
    no_speech = [0.3, 0.05, 0.05, 0.3, 0.9]
    waves = [np.zeros(16000, np.float32) for _ in decodes]  # equal lengths: windows keep their order
    gated, calls = _stub_ct2(0.45, no_speech, decodes)
    assert gated.transcribe_batch(waves) == ["", "Thank you.", "", "the cat sat on the mat", ""]
    assert calls[0]["return_scores"]
    plain, calls = _stub_ct2(None, no_speech, decodes)
    assert plain.transcribe_batch(waves) == [text for text, _ in decodes]
    assert not calls[0]["return_scores"]


def test_the_transformers_backend_scores_a_decode_by_its_mean_token_log_probability():
    torch.manual_seed(0)
    t = object.__new__(Transcriber)
    t.model = WhisperForConditionalGeneration(tiny_whisper_config()).eval()
    eos, pad = t.model.generation_config.eos_token_id, 0
    sequences = torch.tensor([[1, 5, 6, eos, pad], [1, 7, eos, pad, pad]])  # the start token, then 4 steps
    scores = tuple(torch.randn(2, 64) for _ in range(4))  # each B, V
    logp = [torch.log_softmax(s, -1) for s in scores]
    expected = [(logp[0][0, 5] + logp[1][0, 6] + logp[2][0, eos]) / 3,  # the end token counts, padding does not
                (logp[0][1, 7] + logp[1][1, eos]) / 2]
    got = t._mean_logprobs(SimpleNamespace(sequences=sequences, scores=scores))
    assert got == pytest.approx([float(e) for e in expected], abs=1e-5)


def test_a_gated_transcribers_cache_name_carries_the_checks_version(tiny_bases, monkeypatch):
    audio_base, _ = tiny_bases
    before = {gate: transcribe.planned_identity(audio_base, "cpu", gate) for gate in (None, 0.45)}
    monkeypatch.setattr(transcribe, "DECODE_CHECKS", "v0")
    assert transcribe.planned_identity(audio_base, "cpu", None) == before[None]  # ungated: no checks, same name
    assert transcribe.planned_identity(audio_base, "cpu", 0.45) != before[0.45]
