"""MMAU test-mini and MMAR: readers on tiny fake layouts (tests/assets/eval_public) and the
authors' token-set answer matching on hand-checked answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.metrics import token_match
from eval.metrics.token_match import string_match
from eval.public import mmar, mmau
from eval.public.choices import text_choice_prompt
from instruction_data.errors import DataError

ASSETS = Path(__file__).parent / "assets" / "eval_public"
WHO = ["Man", "Woman", "Child", "Robot"]
SOURCE = ["A child", "A woman", "An adult man", "A teenager"]


def test_mmau_reads_the_published_layout():
    loaded = mmau.load(ASSETS / "mmau")
    assert [it.id for it in loaded.items] == ["m1", "m2", "m3"]
    assert loaded.missing_audio == ["gone"]
    assert loaded.release.startswith("unrecognised metadata")  # a fake, not a release
    m2 = loaded.items[1]
    assert Path(m2.audio[0].path).is_file() and m2.audio[0].path.endswith("test-mini-audios/m2.wav")
    assert m2.reference == {"question": "What is the source?", "choices": SOURCE, "answer": "A woman",
                            "answer_index": 1}
    assert m2.question == text_choice_prompt("What is the source?", SOURCE)
    assert m2.question.splitlines()[2] == "A child"
    assert m2.info["category"] == "Reasoning"  # a list in the release, read as its first element
    assert m2.stratum == "sound" and m2.info["difficulty"] == "medium"


@pytest.mark.parametrize("prediction, expected", [
    ("Man", True),
    ("The speaker is a man.", True),            # extra words are fine
    ("MAN!!!", True),
    ("(A) Man", True),                          # a letter beside the text is fine ...
    ("A", False),                               # ... a letter alone is not
    ("B", False),
    ("Woman", False),                           # "woman" is its own word, not "man"
    ("It is a man, not a woman.", False),       # a wrong choice's word anywhere
    ("man or child", False),
    ("", False),
])
def test_string_match_on_tricky_answers(prediction, expected):
    assert string_match("Man", prediction, WHO) is expected


@pytest.mark.parametrize("prediction, expected", [
    ("It is a woman.", True),
    ("woman", False),                           # the answer's "A" is one of its words
    ("An adult woman", False),                  # "an", "adult" only occur in a wrong choice
    ("a woman, not a child", False),
])
def test_string_match_needs_every_word_of_the_answer(prediction, expected):
    assert string_match("A woman", prediction, SOURCE) is expected


def test_string_match_ignores_choices_with_the_same_words():
    orders = ["['dog', 'bell']", "['bell', 'dog']"]
    assert string_match(orders[0], "bell, then dog", orders)  # the authors' rule cannot tell word orders apart


def test_mmau_scores_by_task_difficulty_and_sub_category():
    items = mmau.load(ASSETS / "mmau").items
    scores = token_match.score(items, ["man", "woman", "The violin, not the piano."], mmau.BREAKDOWN)
    assert scores["accuracy"] == pytest.approx(1 / 3) and scores["correct"] == 1 and scores["n"] == 3
    assert {k: v["accuracy"] for k, v in scores["by"]["task"].items()} == {"speech": 1.0, "sound": 0.0, "music": 0.0}
    assert scores["by"]["difficulty"]["easy"] == {"accuracy": 1.0, "correct": 1, "n": 1}
    assert set(scores["by"]["sub-category"]) == {"Speaker Identification", "Acoustic Source Inference",
                                                 "Instrumentation"}
    missing = token_match.score(items, [None, "It is a woman", "violin"])
    assert missing["no_prediction"] == 1 and missing["accuracy"] == pytest.approx(2 / 3)


def test_mmar_reads_json_lines_and_scores_by_modality():
    loaded = mmar.load(ASSETS / "mmar")
    assert [it.id for it in loaded.items] == ["r1", "r2"] and not loaded.missing_audio
    assert loaded.items[1].info == {"dataset": "mmar", "modality": "mix-sound-speech", "category": "Perception Layer",
                                    "sub-category": "Counting and Statistics", "language": "en"}
    scores = token_match.score(loaded.items, ["Open grassland.", "There are 3 speakers, maybe 4"], mmar.BREAKDOWN)
    assert scores["accuracy"] == 0.5
    assert scores["by"]["modality"]["music"]["accuracy"] == 1.0
    assert scores["by"]["category"]["Perception Layer"]["accuracy"] == 0.0


def test_missing_metadata_and_answerless_splits_are_refused(tmp_path):
    with pytest.raises(DataError, match="mmau-test-mini.json"):
        mmau.load(tmp_path)
    (tmp_path / "mmau-test-mini.json").write_text('[{"id": "t", "audio_id": "x.wav", "question": "q", '
                                                  '"choices": ["a", "b"]}]')
    with pytest.raises(DataError, match="no answer"):
        mmau.load(tmp_path)
    (tmp_path / "mmau-test-mini.json").write_text('[{"id": "t", "audio_id": "x.wav", "question": "q", '
                                                  '"choices": ["a", "b"], "answer": "c"}]')
    with pytest.raises(DataError, match="not one of its choices"):
        mmau.load(tmp_path)
