"""POPE-style AudioCaps hallucination (Kuan et al. 2024): the reader on a tiny fake copy of the
authors' Hugging Face sets, their answer parser, and their scores computed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.metrics import kuan_pope
from eval.metrics.kuan_pope import parse_response
from eval.public import audiocaps_pope
from instruction_data.errors import DataError

ASSETS = Path(__file__).parent / "assets" / "eval_public"


@pytest.fixture(scope="module")
def loaded():
    return audiocaps_pope.load(ASSETS / "audiocaps_pope")


def test_reader_reads_parquet_and_exports_and_finds_audiocaps_audio(loaded):
    assert [it.id for it in loaded.items] == [f"{m}-{i}" for m in ("adversarial", "random") for i in range(4)]
    assert loaded.missing_audio == ["adversarial-4", "random-4"]
    first = next(it for it in loaded.items if it.id == "random-0")
    assert first.question == "Is there a sound of wind in the audio?"
    assert first.reference == {"answer": "yes", "label": "Yes", "mode": "random", "asked": "wind", "prompt_index": 0}
    assert first.stratum == "random/yes"
    third = next(it for it in loaded.items if it.id == "random-2")
    assert third.audio[0].path.endswith("audiocaps/UDGBjjwyaqE.wav")  # without the leading Y
    assert [it.reference["prompt_index"] for it in loaded.items[:4]] == [0, 1, 3, 4]
    assert audiocaps_pope.prompt_index("Have you noticed the sound of bell?") == 2
    assert audiocaps_pope.prompt_index("Do you hear a bell?") == -1


def test_reader_refuses_two_sets_of_one_mode(tmp_path):
    (tmp_path / "AudioHallucination_AudioCaps-Random").mkdir()
    (tmp_path / "AudioHallucination_AudioCaps-Random-v2").mkdir()
    with pytest.raises(DataError, match="two random sets"):
        audiocaps_pope.load(tmp_path)


@pytest.mark.parametrize("response, read", [
    ("Yes, there is.", "yes"),
    ("My eyes hear nothing", "yes"),            # "yes" inside "eyes": the authors' substring rule
    ("No.", "no"),
    ("Nothing like that.", "no"),               # "No" inside "Nothing"
    ("I think there is no piano", "no"),
    ("There is no piano.", ""),                 # "There" is capitalised, and no rule matches it
    ("The audio does not contain a piano", "no"),
    ("The audio contains a dog", "yes"),
    ("I cannot tell", "no"),                    # "not" inside "cannot"
    ("I can't tell", "no"),
    ("YES", ""),                                # case-sensitive: unread
    ("Maybe.", ""),
])
def test_parse_response_as_the_authors(response, read):
    assert parse_response(response) == read


def test_scores_by_hand(loaded):
    by_id = {it.id: it for it in loaded.items}
    order = [f"random-{i}" for i in range(4)] + [f"adversarial-{i}" for i in range(4)]
    items = [by_id[i] for i in order]  # labels yes, no, yes, no in each mode
    answers = ["Yes.", "Yes, I hear a piano.", "I think there is no dog.", "Maybe."] + ["No"] * 4
    scores = kuan_pope.score(items, answers)
    random, adversarial = scores["per_mode"]["random"], scores["per_mode"]["adversarial"]
    # random: read yes, yes, no, "" -> right only on the first; no right "no" among 2 not-yes answers
    assert random["accuracy"] == 0.25 and random["precision"] == 0.0 and random["recall"] == 0.0
    assert random["f1"] == 0.0 and random["yes_ratio"] == 0.5 and random["unread"] == 0.25
    # POPE's yes-positive view of the same answers: tp 1, fp 1, fn 1
    assert (random["pope_precision"], random["pope_recall"], random["pope_f1"]) == (0.5, 0.5, 0.5)
    # adversarial: always "No" -> precision 2/4, recall 2/2
    assert adversarial["accuracy"] == 0.5 and adversarial["precision"] == 0.5 and adversarial["recall"] == 1.0
    assert adversarial["f1"] == pytest.approx(2 / 3) and adversarial["yes_ratio"] == 0.0
    assert adversarial["pope_f1"] == 0.0
    # overall: 3 right of 8; 2 right "no" among 6 not-yes answers; 4 negatives
    assert scores["accuracy"] == 3 / 8 and scores["precision"] == pytest.approx(1 / 3) and scores["recall"] == 0.5
    assert scores["f1"] == pytest.approx(0.4) and scores["yes_ratio"] == 0.25
    assert scores["read"][:4] == ["yes", "yes", "no", ""]
    # one item per phrasing in each mode: accuracy 1, 0, 0, 0 over phrasings 0, 1, 3, 4
    assert sorted(random["per_prompt"]) == [0, 1, 3, 4]
    assert random["prompt_spread"]["accuracy"] == {"mean": 0.25, "std": 0.5, "min": 0.0, "max": 1.0, "n": 4}
    assert random["prompt_spread"]["yes_ratio"]["mean"] == 0.5


def test_always_yes_does_not_divide_by_zero(loaded):
    scores = kuan_pope.score(loaded.items, ["Yes"] * len(loaded.items))
    assert scores["precision"] == 0.0 and scores["f1"] == 0.0 and scores["yes_ratio"] == 1.0
    assert scores["pope_recall"] == 1.0 and scores["pope_precision"] == 0.5
