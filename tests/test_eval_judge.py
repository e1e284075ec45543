"""The LLM judge (opt-in) against the fake OpenAI-compatible server: the prompt it is shown, reading its
rating, its answer cache, and a judge that cannot be reached reported as unavailable."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.data import Item
from eval.judge import PROMPT, Judge, JudgeSettings, read_rating, references
from fake_openai import serve  # noqa: F401 - pytest fixture


@pytest.mark.parametrize("reply, rating", [
    ("7", 7), ("Rating: 10", 10), ("10/10", 10), ("I would say 8.", 8), ("3.5", None), ("0", None),
    ("none", None), ("", None), ("11", None),
])
def test_read_rating(reply, rating):
    assert read_rating(reply) == rating


def test_references_of_each_family():
    assert references(Item("c", [], "q", {"captions": ["A dog.", "A dog.", "Barking."]})) == ["A dog.", "Barking."]
    assert references(Item("a", [], "q", {"answers": ["rain", "rain", "water"]})) == ["rain", "water"]
    assert references(Item("h", [], "q", {"answer": "yes", "mode": "random"})) == ["yes"]


def _items() -> list[Item]:
    return [Item("1", [], "What is falling?", {"answers": ["rain", "water"]}),
            Item("2", [], "Describe the audio.", {"captions": ["A dog barks twice."]})]


def test_ratings_prompt_and_cache(serve, tmp_path: Path):
    server = serve(lambda body, n: (200, "8" if "rain" in body["messages"][0]["content"].split("answer:")[-1].lower()
                                    else "Score: 2 of 10"))
    settings = JudgeSettings(server.url, "judge-m", api_key="k", temperature=0.0, max_tokens=4)
    judge = Judge(settings, tmp_path / "judge.jsonl", progress=False)
    texts = {"model": ["Rain is falling.", "A cat meows."], "no_audio": ["I cannot hear.", ""]}
    scores, ratings = judge.rate(_items(), texts)
    assert ratings == {"model": [8, 2], "no_audio": [2, 2]}
    assert scores["model"] == {"judge_score": 5.0, "judge_unread": 0.0} and scores["no_audio"]["judge_score"] == 2.0
    body = server.requests[0][2]
    assert body["model"] == "judge-m" and body["temperature"] == 0.0 and body["max_tokens"] == 4
    prompts = {r[2]["messages"][0]["content"] for r in server.requests}
    assert PROMPT.format(question="What is falling?", references="- rain\n- water",
                         answer="Rain is falling.") in prompts
    assert any("Assistant's answer: (no answer)" in p for p in prompts)
    assert judge.record()["prompt"] == PROMPT and "api_key" not in judge.record()
    again = Judge(settings, tmp_path / "judge.jsonl", progress=False).rate(_items(), texts)
    assert again[1] == ratings and len(server.requests) == 4  # every reply came from the cache


def test_unreadable_and_unreachable_judges_are_reported(serve, tmp_path: Path):
    chatty = serve(lambda body, n: (200, "It depends."))
    scores, ratings = Judge(JudgeSettings(chatty.url, "j"), None, progress=False).rate(_items(), {"model": ["a", "b"]})
    assert scores["model"]["judge_score"].startswith("unavailable") and scores["model"]["judge_unread"] == 1.0
    broken = serve(lambda body, n: (400, "no such model"))
    scores, ratings = Judge(JudgeSettings(broken.url, "j", retries=0), None, progress=False).rate(
        _items(), {"model": ["a", "b"]})
    assert scores["model"]["judge_score"].startswith("unavailable: the judge failed") and ratings["model"] == [None] * 2
