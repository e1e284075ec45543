"""Headlines per data source (`eval.by_source`): through the real yes/no scorer, and as the report shows them."""

from __future__ import annotations

import pytest

from eval import families
from eval.by_source import MIXED, per_source, source_of
from eval.data import BenchmarkData, Item
from eval.registry import collect
from eval.report_section import section
from eval.scored import MISMATCHED, MODEL, NO_AUDIO, Scored


def _pope_items() -> list[Item]:
    """Three items of one source, two of another, one mixed clip; the truth alternates yes / no."""
    datasets = ["tuxpaint", "tuxpaint", "tuxpaint", "asterisk", "asterisk", "tuxpaint+asterisk"]
    return [Item(f"i{k}", [], "Is there a dog?", {"answer": ("yes", "no")[k % 2], "mode": "random"},
                 info={"dataset": d}) for k, d in enumerate(datasets)]


def test_source_of_groups_mixes():
    assert source_of({"dataset": "tuxpaint"}) == "tuxpaint"
    assert source_of({"dataset": "tuxpaint+synth_mix"}) == MIXED
    assert source_of({}) is None


def test_yes_no_accuracy_and_yes_ratio_per_source():
    bench = collect()["offline-hallucination"]
    data = BenchmarkData(_pope_items())
    # model: right on tuxpaint (yes, no, yes), "yes" to both asterisk items, "no" on the mix (truth "no": right)
    texts = {MODEL: ["Yes.", "No.", "Yes.", "Yes.", "Yes.", "No."], NO_AUDIO: ["No."] * 6,
             MISMATCHED: ["Yes."] * 6}
    scored = families.score(bench, data, texts, embedder=None)
    by = scored.breakdown["per_source"]
    assert list(by[MODEL]) == ["tuxpaint", "asterisk", MIXED]  # most items first
    assert by[MODEL]["tuxpaint"] == {"accuracy": 1.0, "support": 3, "yes_ratio": pytest.approx(2 / 3)}
    assert by[MODEL]["asterisk"] == {"accuracy": 0.5, "support": 2, "yes_ratio": 1.0}
    assert by[MODEL][MIXED]["accuracy"] == 1.0
    assert by[NO_AUDIO]["tuxpaint"]["accuracy"] == pytest.approx(1 / 3)
    # the whole-set accuracy is the items' mean, so the per-source cells add back up to it
    total = sum(c["accuracy"] * c["support"] for c in by[MODEL].values()) / 6
    assert total == pytest.approx(scored.scores[MODEL]["accuracy"])

    result = {"decoding": {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "seed": 0},
              "data_source": "test", "declaration": {}, "n_items": 6, "n_total": 6, "scores": scored.scores,
              "headline": families.headline(bench, scored), "breakdown": scored.breakdown, "items": []}
    text = "\n".join(section(bench.name, result))
    assert "| source | items | model accuracy | no audio accuracy | mismatched audio accuracy | model yes-ratio |" in text
    assert "| asterisk | 2 | 0.500 | 0.500 | 0.500 | 1.000 |" in text


def test_no_split_for_one_source_or_a_corpus_level_metric():
    items = [Item("a", [], "q", {}, info={"dataset": "tuxpaint"}), Item("b", [], "q", {}, info={"dataset": "tuxpaint"})]
    scored = Scored({}, items=[{MODEL: {"correct": True}}, {MODEL: {"correct": False}}])
    assert per_source("accuracy", BenchmarkData(items), scored) == {}  # one source
    items[1].info["dataset"] = "asterisk"
    assert per_source("accuracy", BenchmarkData(items), scored)[MODEL]["asterisk"]["accuracy"] == 0.0
    assert per_source("wer", BenchmarkData(items), scored) == {}  # a corpus-level error rate: not a mean of items
    items[1].info.clear()
    assert per_source("accuracy", BenchmarkData(items), scored) == {}  # an item without a source
