"""CMM: the reader on a tiny fake layout and the authors' PA / HR scoring on hand-checked answers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from eval.data import Item
from eval.metrics import cmm as cmm_metrics
from eval.public import cmm

ASSETS = Path(__file__).parent / "assets" / "eval_public"


def test_cmm_keeps_audio_only_probes_and_reports_the_rest():
    loaded = cmm.load(ASSETS / "cmm")
    assert len(loaded.items) == 4
    assert loaded.skipped == {"needs video": 1}
    assert loaded.missing_audio == ["0005-gone"]
    first = loaded.items[0]
    assert first.audio[0].path.endswith("reorg_raw_files/inter-modality_spurious_correlation/audio-language/"
                                        "object-level/global_freq/dog.wav")  # "./raw_files/..." found under reorg_
    assert first.question == "Did you hear dog barking in the audio? Answer with yes or no."
    assert first.reference == {"answer": "yes"} and first.stratum == "audio-language/yes"
    assert first.info["granularity"] == "object-level" and first.info["dataset"] == "cmm"


def test_cmm_scores_by_hand():
    items = cmm.load(ASSETS / "cmm").items  # yes, no (object-level); yes, no (event-level)
    scores = cmm_metrics.score(items, ["Yes, I hear a dog.", "Not really.", "I think yes", "no"])
    # "not r" holds "no": right; "i thi" holds no "yes": wrong
    assert scores["accuracy"] == 0.75
    assert scores["perception_accuracy"] == 0.5 and scores["hallucination_resistance"] == 1.0
    assert scores["per_sub_category"]["audio-language"]["accuracy"] == 0.75
    event = scores["per_granularity"]["event-level"]["audio-language"]
    assert (event["accuracy"], event["perception_accuracy"], event["hallucination_resistance"]) == (0.5, 0.0, 1.0)
    assert scores["per_granularity"]["object-level"]["audio-language"]["accuracy"] == 1.0


@pytest.mark.parametrize("answer, right", [
    ("None of those.", True),        # "none " holds "no"
    ("No", True),
    ("I don't know", False),         # "i don" holds no "no"
    ("Yes, no doubt", False),
    (None, False),
])
def test_cmm_reads_only_the_first_five_characters(answer, right):
    item = Item("x", [], "Did you hear a bell in the audio? Answer with yes or no.", {"answer": "no"},
                info={"sub_category": "audio-language", "granularity": "event-level"})
    scores = cmm_metrics.score([item], [answer])
    assert scores["accuracy"] == float(right) and scores["hallucination_resistance"] == float(right)
    assert math.isnan(scores["perception_accuracy"])  # no yes-probe among the items
