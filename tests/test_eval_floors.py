"""The collapse detector, the encoder probe (on a tiny random Whisper), Whisper's own transcripts, the
non-speech transcript rate and whether answers copy the transcripts read (fake transcribers), and how the headline
and the report flag them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ood_corpus import make_ood_corpus

from eval import families
from eval.data import AudioRef, load_benchmark_data
from eval.embed import ltu_phrase
from eval.encoder_features import PooledFeatures
from eval.floors import Floors, FloorSettings
from eval.metrics.collapse import distinct_answers, read_value, top_share, truth_value
from eval.probe import ProbeSettings, centroid_predict, fit_linear, run_probe
from eval.registry import collect
from eval.report import floors_and_collapse, verdict
from eval.scored import ASR, MISMATCHED, MODEL, NO_AUDIO, PROBE


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_ood_corpus(tmp_path / "corpus")


@pytest.fixture(scope="module")
def benchmarks():
    return collect()


# ------------------------------------------------------------------------------------------ collapse
def test_top_share_and_what_is_read():
    assert top_share(["dog", "cat", "dog", "bird"]) == ("dog", 0.5)
    assert top_share(["b", "a"]) == ("a", 0.5)  # ties: the first by text
    assert top_share([])[0] is None and np.isnan(top_share([])[1])
    assert read_value({"answer": "It is a dog.", "label": "dog"}) == "dog"
    assert read_value({"answer": "Yes, it is.", "read": "yes"}) == "yes"
    assert read_value({"answer": "The Dog!", "read": None}) == "dog"  # unread: the normalised text
    assert truth_value({"label": "dog", "labels": ["dog", "animal"]}) == "dog"
    assert truth_value({"transcript": "Stop, now!"}) == "stop now"
    assert truth_value({"answers": ["yes", "no", "yes"]}) == "yes"
    assert truth_value({"captions": ["A dog.", "A hound."]}) is None


def test_distinct_answers_behind_the_top_one():
    """A mapping that gathers varied answers onto one label is told apart from a model that says one thing."""
    rows = [{"answer": "A gunshot.", "label": "robot sound"}, {"answer": "A pig.", "label": "robot sound"},
            {"answer": "a gunshot", "label": "robot sound"}, {"answer": "A dog.", "label": "dog"}]
    assert distinct_answers(rows, "robot sound") == 2  # "A gunshot." and "a gunshot" read alike
    assert distinct_answers(rows, "dog") == 1
    head = {"collapsed": True, "top_answer": "robot sound", "top_answer_share": 0.75, "collapse_threshold": 0.15,
            "top_answer_distinct": 2}
    assert "'robot sound' is 75% of the answers (> 15%; 2 different answers read as it)" in verdict(head)


def test_collapse_in_scores_headline_and_report(corpus: Path, benchmarks):
    bench = benchmarks["offline-classification-ood"]
    data = load_benchmark_data(bench, corpus)
    n = len(data.items)
    texts = {MODEL: ["speech"] * (n - 1) + ["dog"], NO_AUDIO: ["I cannot tell."] * n,
             MISMATCHED: ["a bell"] * n}
    embedder = _FakeEmbedder(data.labels + ["I cannot tell.", "a bell"])
    scored = families.score(bench, data, texts, embedder)
    assert scored.scores[MODEL]["top_answer_share"] == pytest.approx((n - 1) / n)
    collapse = scored.breakdown["collapse"]
    assert collapse["threshold"] == 0.15 and collapse["systems"][MODEL]["answer"] == "speech"
    assert collapse["systems"][MODEL]["distinct_answers"] == 1
    assert collapse["truth"]["share"] == pytest.approx(5 / n)
    head = families.headline(bench, scored)
    assert head["collapsed"] is True and head["top_answer"] == "speech" and head["collapse_threshold"] == 0.15
    assert "⚠ collapsed: 'speech' is 88% of the answers (> 15%)" in verdict(head)
    lines = floors_and_collapse({"benchmarks": {bench.name: {"headline": head}}})
    assert lines[0] == "## Floors and collapse" and "88% of the model's answers are 'speech'" in lines[2]
    balanced = families.score(bench, data, {MODEL: [it.reference["label"] for it in data.items]}, embedder)
    assert families.headline(bench, balanced)["collapsed"] is True  # the truth itself is 5/8 speech here


class _FakeEmbedder:
    """One-hot vectors per distinct text, as phrased or bare: an answer maps to the label it equals."""

    name = "fake"

    def __init__(self, texts):
        self.index = {ltu_phrase(t): i for i, t in enumerate(dict.fromkeys(texts))}

    def encode(self, texts):
        out = np.zeros((len(texts), len(self.index) + 1), np.float32)
        for i, t in enumerate(texts):
            out[i, self.index.get(t if t in self.index else ltu_phrase(t), len(self.index))] = 1.0
        return out


# ------------------------------------------------------------------------------------------ the encoder probe
def test_linear_probe_and_centroid_on_separable_points():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 4
    y = np.repeat(np.arange(3), 10)
    x = centres[y] + rng.normal(size=(30, 8))
    w, b = fit_linear(x, y, 3)
    assert ((x @ w + b).argmax(1) == y).all()
    assert (centroid_predict(x, y, 3, centres) == np.arange(3)).all()
    w2, b2 = fit_linear(x, y, 3)
    assert np.array_equal(w, w2) and np.array_equal(b, b2)  # deterministic


def test_probe_on_a_tiny_whisper_with_cached_features(corpus: Path, benchmarks, tiny_bases, tmp_path: Path,
                                                      monkeypatch):
    whisper, _ = tiny_bases
    bench = benchmarks["offline-classification-ood"]
    data = load_benchmark_data(bench, corpus)
    settings = ProbeSettings(whisper, per_class=3)
    features = PooledFeatures(whisper, tmp_path / "cache", progress=False)
    scores, details, rows = run_probe(bench, data, features, settings)
    assert details["training_clips"] == 12 and details["classes"] == 4 and not details["unseen_classes"]
    assert scores["accuracy"] == pytest.approx(np.mean([r["correct"] for r in rows]))
    assert scores["accuracy"] >= 0.75  # pitches 200 Hz apart: the tiny random encoder keeps them apart
    assert set(scores) == {"accuracy", "centroid_accuracy", "top_answer_share"}
    # a clip's feature is the mean over its real frames (the encoder at the clip's own length)
    ref = data.items[0].audio[0]
    frames = _frames(features, ref)
    assert np.allclose(features.features([ref])[0], frames.mean(0), atol=1e-5)
    # a rerun reads the cache: the encoder is not loaded again
    again = PooledFeatures(whisper, tmp_path / "cache", progress=False)
    monkeypatch.setattr(again, "_load", lambda: pytest.fail("the encoder was loaded again"))
    assert run_probe(bench, data, again, settings)[0] == scores
    assert len(list((tmp_path / "cache").glob("encoder-whisper-*.npz"))) == 1


def _frames(features: PooledFeatures, ref: AudioRef) -> np.ndarray:
    import torch

    from alm.audio.features import mel_windows
    from eval.runners import read_clip

    encoder, extractor, seconds = features._load()
    (mel,) = mel_windows(read_clip(ref), seconds, extractor)
    with torch.inference_mode():
        frames, n = encoder(torch.as_tensor(mel)[None], torch.tensor([mel.shape[-1]]))
    return frames[0, : int(n[0])].numpy()


def test_probe_is_unavailable_without_training_clips(tmp_path: Path, benchmarks):
    from test_eval_runs import make_corpus

    old = make_corpus(tmp_path / "old")  # an empty training split
    bench = benchmarks["offline-classification"]
    data = load_benchmark_data(bench, old)
    floors = Floors(FloorSettings(probe=ProbeSettings("no/such-encoder")), None, tmp_path / "cache")
    scored = families.score(bench, data, {MODEL: ["dog"] * len(data.items)}, _FakeEmbedder(data.labels))
    unavailable = floors.add(bench, data, scored)
    assert "has 0 class(es) of this benchmark" in unavailable[PROBE] and PROBE not in scored.scores


# ------------------------------------------------------------------------------------------ Whisper's transcripts
class _FakeTranscriber:
    """Says the same sentence for any clip louder than a whisper; gated, it says nothing for tones."""

    backend = "fake"

    def __init__(self, text: str, no_speech_threshold: float | None = None, audio_base: str = "fake-whisper"):
        self.text, self.no_speech_threshold, self.audio_base, self.calls = text, no_speech_threshold, audio_base, 0

    def transcribe_batch(self, waves):
        self.calls += len(waves)
        return ["" if self.no_speech_threshold is not None else self.text for _ in waves]


def test_whisper_floor_and_non_speech_rate(corpus: Path, benchmarks, tmp_path: Path, monkeypatch):
    import alm.transcribe

    bench = benchmarks["offline-speech-ood"]
    data = load_benchmark_data(bench, corpus)
    reference = data.items[0].reference["transcript"]
    whisper = _FakeTranscriber(reference.replace("seven", "eleven"))  # one word wrong
    model_transcriber = _FakeTranscriber("thanks for watching")       # words on every clip, no gate

    def load(audio_base, device="cpu", backend="auto", no_speech_threshold=None):
        """builtin:whisper-base: the floor's Whisper; else the model's own Whisper, loaded again with the gate."""
        return whisper if audio_base == "builtin:whisper-base" else _FakeTranscriber("x", no_speech_threshold,
                                                                                     audio_base)

    monkeypatch.setattr(alm.transcribe, "load_transcriber", load)
    settings = FloorSettings(asr="builtin:whisper-base")
    floors = Floors(settings, model_transcriber, tmp_path / "cache", progress=False)
    texts = {MODEL: [f'The speaker says: "{reference}"'], NO_AUDIO: ["I cannot tell."]}
    scored = families.score(bench, data, texts, None)
    assert floors.add(bench, data, scored) == {}
    n_words = len(reference.split())
    assert scored.scores[ASR]["wer"] == pytest.approx(1 / n_words) and scored.scores[MODEL]["wer"] == 0.0
    assert scored.items[0][ASR]["answer"] == whisper.text
    assert scored.breakdown["per_origin"][ASR]["voicepack"]["support"] == 1
    head = families.headline(bench, scored)
    assert head["asr"] == pytest.approx(1 / n_words) and head["asr_ratio"] == 0.0
    non_speech = scored.breakdown["non_speech"]
    assert non_speech["as_loaded"]["rate"] == 1.0 and non_speech["as_loaded"]["clips"] == 3
    assert non_speech["gated"]["rate"] == 0.0 and non_speech["gated"]["transcriber"]["no_speech_threshold"] == \
        alm.transcribe.NO_SPEECH_THRESHOLD
    assert head["non_speech_transcribed"] == 1.0 and head["non_speech_transcribed_gated"] == 0.0
    assert non_speech["as_loaded"]["examples"] == ["thanks for watching"] * 3
    # transcripts are cached: a second run transcribes nothing
    calls = (whisper.calls, model_transcriber.calls)
    Floors(settings, model_transcriber, tmp_path / "cache", progress=False).add(bench, data,
                                                                               families.score(bench, data, texts, None))
    assert (whisper.calls, model_transcriber.calls) == calls


class _FakeGatingAssistant:
    """A model whose tagger hears speech only in the first clip of each call (`Assistant.transcribe`)."""

    def __init__(self, whisper):
        self.transcriber, self.calls = whisper, 0

    def transcribe(self, waves):
        self.calls += len(waves)
        return ["hello"] + [""] * (len(waves) - 1)


def test_a_model_whose_tagger_gates_transcripts_is_measured_behind_that_gate(corpus: Path, benchmarks,
                                                                              tmp_path: Path):
    from eval.report_section import _floor_lines
    from eval.runners import TaggerGatedTranscriber

    bench = benchmarks["offline-speech-ood"]
    data = load_benchmark_data(bench, corpus)
    whisper = _FakeTranscriber("thanks for watching", no_speech_threshold=0.45)
    assistant = _FakeGatingAssistant(whisper)
    floors = Floors(FloorSettings(), TaggerGatedTranscriber(assistant, "f1ng3rpr1nt"), tmp_path / "cache",
                    progress=False)
    scored = families.score(bench, data, {MODEL: ["hello"]}, None)
    assert floors.add(bench, data, scored) == {}
    as_loaded = scored.breakdown["non_speech"]["as_loaded"]
    # asked through the model, which gates, not Whisper alone: the 3 non-speech clips and the 1 speech item's clip
    assert assistant.calls == 4 and whisper.calls == 0
    assert as_loaded["rate"] == pytest.approx(1 / 3) and as_loaded["transcriber"]["speech_gate"] == "f1ng3rpr1nt"
    assert "gated" not in scored.breakdown["non_speech"]  # Whisper's gate is on already
    line = next(x for x in _floor_lines({"headline": families.headline(bench, scored), "breakdown": scored.breakdown})
                if "non-speech clips" in x)
    assert "no-speech gate 0.45 and its tagger's speech gate): 1 of 3" in line
    copying = scored.breakdown["copying"]  # the speech item's clip was the first of its call: "hello", copied
    assert (copying["given"], copying["copied"], copying["transcriber"]["speech_gate"]) == (1, 1, "f1ng3rpr1nt")


def test_non_speech_rate_needs_the_models_transcriber(corpus: Path, benchmarks, tmp_path: Path):
    bench = benchmarks["offline-speech-ood"]
    data = load_benchmark_data(bench, corpus)
    floors = Floors(FloorSettings(), None, tmp_path / "cache")
    scored = families.score(bench, data, {MODEL: ["hello"]}, None)
    unavailable = floors.add(bench, data, scored)
    assert "no transcriber to ask" in unavailable["non_speech"] and "no transcriber to ask" in unavailable["copying"]
    assert "non_speech_transcribed" not in families.headline(bench, scored)
    assert "copying" not in scored.breakdown


def test_copying_splits_what_is_said_between_the_transcriber_and_the_llm():
    """Three items: the transcript copied (quoted), a transcript given but answered otherwise, one withheld."""
    from eval.copying import add_copying
    from eval.metrics.speech import read_transcript
    from eval.report_section import _copying_line
    from eval.scored import Scored

    refs = ["do not disturb", "turn left now", "eight"]
    answers = ['The speaker says: "Do not disturb."', "Only a voice.", "I hear speech."]
    transcripts = ["Do not disturb.", "Turn left, now!", ""]
    items = [{MODEL: {"answer": a, "read": read_transcript(a)[0]}} for a in answers]
    scored = Scored({}, items=items)
    add_copying(scored, refs, transcripts, {"no_speech_threshold": 0.45, "speech_gate": "f1ng3rpr1nt"})
    c = scored.breakdown["copying"]
    assert (c["items"], c["given"], c["withheld"], c["copied"]) == (3, 2, 1, 1)
    # read transcripts: 0 + 0 errors, and 1 deletion where withheld, of 3 + 3 + 1 reference words
    assert c["wer_read"] == pytest.approx(1 / 7)
    # answers with the given transcripts in place: item 3 keeps "i hear speech" (1 substitution + 2 insertions)
    assert c["wer_if_copied"] == pytest.approx(3 / 7)
    assert c["examples"] == [{"transcript": "Turn left, now!", "answer": "Only a voice."}]
    assert [row[MODEL]["given_transcript"]["copied"] for row in scored.items] == [True, False, None]
    line = _copying_line(c, "wer")
    assert "given on 2 of 3 items, withheld on 1" in line and "copied the transcript on 1 of 2" in line
    assert "tagger's speech gate" in line and "'Turn left, now!' -> 'Only a voice.'" in line
    # the in-domain vs out-of-domain summary carries it too
    from eval.domains import family_details
    from eval.report_domains import _describe

    assert "transcripts read copied 1 of 2 (their WER 0.143)" in _describe(
        family_details({"headline": {}, "breakdown": scored.breakdown}))


def test_not_above_the_probe_is_flagged():
    head = {"metric": "accuracy", "model": 0.3, "probe": 0.5, "beats_no_audio": True, "beats_mismatched": True,
            "beats_baselines": True, "beats_probe": False}
    assert verdict(head) == "⚠ NOT above the encoder probe"
    lines = floors_and_collapse({"benchmarks": {"b": {"headline": head}}})
    assert "is not above a linear probe on the frozen encoder's features (0.500)" in lines[2]
