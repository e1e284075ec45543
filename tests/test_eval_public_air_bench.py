"""AIR-Bench Foundation: the reader on a tiny fake layout, the authors' prompt, and their letter
reading and per-task accuracy on hand-checked answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.metrics import air_bench as air_metrics
from eval.metrics.air_bench import read_letter
from eval.public import air_bench
from eval.public.permute import permute_choices, permuted_item

ASSETS = Path(__file__).parent / "assets" / "eval_public"


@pytest.fixture(scope="module")
def items():
    loaded = air_bench.load(ASSETS / "air_bench_foundation")
    assert loaded.missing_audio == ["4"]
    return loaded.items


def test_reader_follows_the_authors_paths_and_prompt(items):
    grounding, s1, s2 = items
    assert grounding.audio[0].path.endswith("Audio_Grounding_AudioGrounding/g1.flac")  # g1.wav in the metadata
    assert s1.audio[0].path.endswith("Speaker_Gender_Recognition_Common_voice/s1.wav")
    assert grounding.reference["answer_index"] == 1 and s2.reference["choices"] == ["male", "female"]
    assert s1.question == (
        "Choose the most suitable answer from options A, B, C, and D to respond the question in next line, you may "
        "only choose A or B or C or D.\nWhat is the gender of the speaker?\nA. male\nB. female\nC. None\nD. None")
    assert s1.info["task"] == "Speaker_Gender_Recognition_Common_voice" and s1.stratum == "Speaker_Gender_Recognition"


@pytest.mark.parametrize("answer, letter", [
    ("B", "B"),
    ("B. female", "B"),
    (" \nC\n", "C"),
    ("The answer is A.", "A"),                  # second-to-last character
    ("The answer is (D)", "D"),
    ("Definitely B.", "D"),                     # the first character wins
    ("answer: D", None),                        # neither rule fires
    ("female", None),
    ("", None),
    (None, None),
    ("None", None),
])
def test_letter_reading_as_the_authors(answer, letter):
    assert read_letter(answer) == letter


def test_scores_by_hand(items):
    scores = air_metrics.score(items, ["B", "female", "Definitely A."])  # right, failed, wrong (D)
    assert scores["letters"] == ["B", None, "D"]
    assert scores["accuracy"] == 0.5 and scores["strict_accuracy"] == pytest.approx(1 / 3) and scores["failed"] == 1
    assert scores["per_task"] == {"Audio_Grounding_AudioGrounding": {"accuracy": 1.0, "correct": 1, "n": 1},
                                  "Speaker_Gender_Recognition_Common_voice": {"accuracy": 0.0, "correct": 0, "n": 1}}
    assert scores["task_name_mean"] == 0.5


def test_a_permutation_moves_the_correct_letter(items):
    s2 = items[2]
    swapped = permuted_item(s2, permute_choices(s2, 2, seed=0)[1], air_bench.render)
    assert "A. female\nB. male\nC. None" in swapped.question
    assert air_metrics.score([swapped], ["B"])["accuracy"] == 1.0
    assert air_metrics.score([s2], ["B"])["accuracy"] == 0.0
