"""Evaluation metrics against hand-computed values; CIDEr-D also against pycocoevalcap itself."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from eval.metrics.aqa import WORD, YES_NO, AqaReference, aqa_scores, read_answer
from eval.metrics.classification import (
    accuracy,
    average_precision,
    balanced_accuracy,
    confusion_matrix,
    mean_average_precision,
    per_class_accuracy,
)
from eval.metrics.hallucination import yes_no_scores
from eval.text import match_answer, normalize, parse_pope, parse_yes_no

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="needs Java (PTB tokenizer, METEOR)")


# ------------------------------------------------------------------------------------------ text
@pytest.mark.parametrize("answer,expected", [
    ("Yes, I can hear a dog.", "yes"), ("No.", "no"), ("yes", "yes"), ("There is no dog here.", "no"),
    ("I don't hear any dog.", "no"), ("The sound of a rooster is not there.", "no"),
    ("A dog is present in the clip.", "yes"), ("A dog barking.", None), ("", None),
])
def test_parse_yes_no(answer, expected):
    assert parse_yes_no(answer) == expected


@pytest.mark.parametrize("answer,expected", [
    ("Yes, there is no doubt.", ("yes", True)), ("No.", ("no", True)), ("I can hear music.", ("yes", False)),
    ("There is no dog. Dogs are nice.", ("no", True)), ("A dog barks. It is not loud.", ("yes", False)),
    ("I don't hear it", ("no", True)), ("A dog is present.", ("yes", True)),
])
def test_parse_pope(answer, expected):
    assert parse_pope(answer) == expected


def test_match_answer():
    assert match_answer("It is quiet.", ["loud", "quiet"]) == "quiet"
    assert match_answer("Loud or quiet, hard to say", ["loud", "quiet"]) is None  # restates the question
    assert match_answer("The first clip is louder than the second.", ["first", "second"]) == "first"
    assert match_answer("It is not loud; it is quiet.", ["loud", "quiet"]) == "quiet"
    assert match_answer("I hear it six times.", ["6", "3"]) == "6"                # number words
    assert match_answer("A bass drum.", ["drum", "bass drum"]) == "bass drum"     # longest phrase wins
    assert match_answer("Español", ["espanol", "english"]) == "espanol"           # accents folded
    assert match_answer("Nothing", ["loud", "quiet"]) is None
    assert normalize("The Dog's 3.5 s!") == "dogs 3.5 s"


# ------------------------------------------------------------------------------------------ classification
def test_accuracy_per_class_and_confusion():
    truth = ["dog", "dog", "rain", "bell"]
    pred = ["dog", "rain", "rain", "dog"]
    assert accuracy(truth, pred) == 0.5
    per_class = per_class_accuracy(truth, pred)
    assert list(per_class) == ["dog", "bell", "rain"]  # by support, then name
    assert per_class["dog"] == {"accuracy": 0.5, "support": 2}
    assert per_class["bell"]["accuracy"] == 0.0 and per_class["rain"]["accuracy"] == 1.0
    assert confusion_matrix(truth, pred, ["dog", "rain", "bell"]) == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    # columns other than the rows, plus an "other" column
    assert confusion_matrix(truth, pred, ["dog"], columns=["rain"], other=True) == [[1, 1]]
    assert balanced_accuracy(truth, pred) == pytest.approx((0.5 + 0.0 + 1.0) / 3)


def test_balanced_accuracy_does_not_reward_the_majority_class():
    truth = ["bass drum"] * 8 + ["dog", "rain"]
    always = ["bass drum"] * 10
    assert accuracy(truth, always) == 0.8 and balanced_accuracy(truth, always) == pytest.approx(1 / 3)
    hears = ["bass drum"] * 4 + ["dog"] * 4 + ["dog", "rain"]  # half the drums, every other class
    assert accuracy(truth, hears) == 0.6 and balanced_accuracy(truth, hears) == pytest.approx((0.5 + 1 + 1) / 3)


def test_average_precision_by_hand():
    # class 0: positives ranked 1st and 3rd -> (1/1 + 2/3) / 2
    assert average_precision(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1])) == pytest.approx(5 / 6)
    targets = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    scores = np.array([[0.9, 0.5, 0.3], [0.8, 0.6, 0.2], [0.7, 0.1, 0.1], [0.1, 0.2, 0.9]])
    value, per_class = mean_average_precision(targets, scores)
    assert per_class[0] == pytest.approx(5 / 6) and per_class[1] == 1.0 and math.isnan(per_class[2])
    assert value == pytest.approx((5 / 6 + 1) / 2)  # classes without positives are left out


# ------------------------------------------------------------------------------------------ hallucination
def test_yes_no_scores_by_hand():
    truth = ["yes", "yes", "no", "no", "yes", "no"]
    pred = ["yes", "no", "yes", "no", None, "no"]
    s = yes_no_scores(truth, pred)
    # TP=1, FP=1, FN=2 (the unreadable answer to a "yes" question counts as a miss), correct=3
    assert s["accuracy"] == 0.5
    assert s["precision"] == 0.5
    assert s["recall"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(0.4)
    assert s["yes_ratio"] == pytest.approx(2 / 6)
    assert s["unparsed"] == pytest.approx(1 / 6)
    always_yes = yes_no_scores(truth, ["yes"] * 6)
    assert (always_yes["precision"], always_yes["recall"], always_yes["yes_ratio"]) == (0.5, 1.0, 1.0)
    assert always_yes["f1"] == pytest.approx(2 / 3)
    assert yes_no_scores(["yes"], ["no"])["f1"] == 0.0  # no positive answers: precision and F1 are 0


# ------------------------------------------------------------------------------------------ AQA
def test_aqa_scores_by_hand():
    refs = [
        AqaReference(["yes", "yes", "no"], YES_NO, ["no", "yes"]),          # majority yes
        AqaReference(["rain", "rain", "water"], WORD, ["rain", "water", "wind"]),  # majority rain
        AqaReference(["rain", "rain", "water"], WORD, ["rain", "water", "wind"]),
        AqaReference(["no", "no", "no"], YES_NO, ["no", "yes"]),
    ]
    answers = ["Yes, it is raining.", "Water is falling.", "Rain.", "I think so, yes."]
    read = [read_answer(a, r) for a, r in zip(answers, refs)]
    assert read == ["yes", "water", "rain", "yes"]
    s = aqa_scores(refs, read)
    assert s["accuracy"] == 0.5                      # items 1 and 3 match the majority
    assert s["accuracy_any"] == 0.75                 # "water" matches one annotator
    assert s["yes_no_accuracy"] == 0.5 and s["word_accuracy"] == 0.5
    assert (s["n_yes_no"], s["n_word"], s["unreadable"]) == (2, 2, 0.0)


# ------------------------------------------------------------------------------------------ captioning
@needs_java
def test_bleu_rouge_by_hand():
    from eval.metrics.captioning import CaptionScorer

    refs = [["A dog barks loudly."], ["A dog barks."]]
    with CaptionScorer(refs, meteor=False) as scorer:
        scores, per_item = scorer.score(["A dog barks.", "A cat barks."])
    # corpus BLEU-1: 5 of 6 words match; brevity penalty exp(1 - 7/6)
    assert scores["bleu_1"] == pytest.approx(5 / 6 * math.exp(-1 / 6), abs=1e-6)
    # ROUGE-L (beta 1.2): item 1 LCS 3, P=1, R=3/4; item 2 LCS 2 ("a barks"), P=R=2/3
    r1 = (1 + 1.44) * 1 * 0.75 / (0.75 + 1.44 * 1)
    assert per_item["rouge_l"] == pytest.approx([r1, 2 / 3])
    assert scores["rouge_l"] == pytest.approx((r1 + 2 / 3) / 2)
    assert scores["spice"].startswith("unavailable") and scores["spider"].startswith("unavailable")
    assert "meteor" not in scores


def test_cider_d_by_hand_and_against_pycocoevalcap():
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.cider.cider import Cider

    from eval.metrics.captioning import CaptionScorer, tokenize

    # identical captions with disjoint words: every n-gram has idf log(2) and cosine 1 for n = 1..4 -> 10
    refs = [["a dog barks loudly"], ["heavy rain falls outside"]]
    with CaptionScorer(refs, meteor=False, java=False) as scorer:
        scores, _ = scorer.score(["a dog barks loudly", "heavy rain falls outside"])
    assert scores["cider_d"] == pytest.approx(10.0)

    # a fixed example with several references: our scorer == pycocoevalcap's PTB tokenizer + Cider
    refs = [["A dog barks twice in the distance.", "Two dog barks are heard.", "A dog is barking."],
            ["Rain falls on a tin roof.", "Heavy rain and distant thunder.", "It is raining hard."],
            ["A man speaks, then a door closes.", "Someone talks and shuts a door."]]
    hyps = ["A dog barks.", "Rain is falling on a roof.", "A door closes while a man talks."]
    java = shutil.which("java") is not None
    with CaptionScorer(refs, meteor=False, java=java) as scorer:
        ours, _ = scorer.score(hyps)
    gts = tokenize({str(i): r for i, r in enumerate(refs)}, java)
    res = tokenize({str(i): [h] for i, h in enumerate(hyps)}, java)
    if java:  # the exact pipeline of pycocoevalcap's own eval: its PTBTokenizer, then Cider
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tok = PTBTokenizer()
        gts = tok.tokenize({str(i): [{"caption": c} for c in r] for i, r in enumerate(refs)})
        res = tok.tokenize({str(i): [{"caption": h}] for i, h in enumerate(hyps)})
    expected, _ = Cider().compute_score(gts, res)
    assert ours["cider_d"] == pytest.approx(expected, abs=1e-9)
    assert 0 < ours["cider_d"] < 10


def test_simple_tokenizer_matches_ptb_rules():
    from eval.metrics.captioning import simple_tokenize

    assert simple_tokenize("A dog isn't barking, it's 3.5 s long!") == "a dog is n't barking it 's 3.5 s long"
