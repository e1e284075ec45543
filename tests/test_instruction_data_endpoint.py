"""The open-ended generator against a local fake OpenAI-compatible server: parsing, retries,
cache and resume."""

from __future__ import annotations

import json

import pytest

from instruction_data.clips import Clip
from instruction_data.errors import EndpointError
from instruction_data.generate.endpoint import EndpointGenerator, check_pair, parse_pairs
from instruction_data.generate.llm_client import ChatClient, EndpointConfig
from fake_openai import serve  # noqa: F401 - pytest fixture

GOOD_REPLY = json.dumps([{"question": "Where might this be recorded?", "answer": "On a farm, near a barn."},
                         {"question": "What happens next?", "answer": "The rooster may crow again."}])




def _clips(n: int) -> list[Clip]:
    return [Clip(id=f"c{i}", dataset="t", recipe={}, labels=["rooster", "bird", "animal"], caption="A rooster crows.",
                 audio=f"audio/t/c{i}.wav", duration=2.0, loudness_db=-20.0) for i in range(n)]


def _config(url: str, **kw) -> EndpointConfig:
    return EndpointConfig(base_url=url, model="fake", api_key="k", backoff_s=0.0, timeout_s=5, **kw)


def test_parse_and_check_pairs():
    assert len(parse_pairs("Sure!\n```json\n" + GOOD_REPLY + "\n```")) == 2
    assert parse_pairs("no json here") == [] and parse_pairs("[broken") == []
    assert check_pair({"question": "Why is it loud?", "answer": "Because it is close."}) == ""
    assert check_pair({"question": "Why", "answer": "x"}) == "question malformed"
    assert check_pair({"question": "What do the labels say?", "answer": "Crow."}) == "mentions metadata or refuses"
    assert check_pair("text") == "not an object"


def test_generates_records_with_auth_and_prompt(serve, tmp_path):
    server = serve(lambda body, n: (200, GOOD_REPLY))
    gen = EndpointGenerator(_config(server.url, workers=3), tmp_path / "cache", n_pairs=2)
    records = gen.generate(_clips(3), progress=False)
    assert len(records) == 6 and {r.task for r in records} == {"open_ended"} and records[0].stage == "reasoning"
    assert records[0].metadata["generator"] == "endpoint:fake" and records[0].sound == ["audio/t/c0.wav"]
    path, auth, body = server.requests[0]
    assert path == "/v1/chat/completions" and auth == "Bearer k" and body["model"] == "fake"
    assert "rooster" in body["messages"][1]["content"] and "audio/t" not in body["messages"][1]["content"]


def test_retries_429_and_5xx_then_succeeds(serve, tmp_path):
    server = serve(lambda body, n: (429, "slow down") if n == 1 else (503, "busy") if n == 2 else (200, GOOD_REPLY))
    client = ChatClient(_config(server.url, max_retries=3))
    assert "rooster" in client.complete([{"role": "user", "content": "hi"}])
    assert client.calls == 3


def test_gives_up_after_retries_and_does_not_retry_400(serve, tmp_path):
    server = serve(lambda body, n: (500, "down"))
    with pytest.raises(EndpointError, match="HTTP 500.*gave up after 3 attempts"):
        ChatClient(_config(server.url, max_retries=2)).complete([{"role": "user", "content": "hi"}])
    bad = serve(lambda body, n: (400, "bad request"))
    client = ChatClient(_config(bad.url, max_retries=4))
    with pytest.raises(EndpointError, match="HTTP 400"):
        client.complete([{"role": "user", "content": "hi"}])
    assert client.calls == 1


def test_bad_generations_are_dropped_and_counted(serve, tmp_path):
    def respond(body, n):
        if "A hen clucks." in body["messages"][1]["content"]:
            return 200, "I cannot help with that."
        return 200, json.dumps([{"question": "Is it?", "answer": ""}, {"question": "Where is this?", "answer": "A farm."}])

    server = serve(respond)
    gen = EndpointGenerator(_config(server.url), tmp_path / "cache", n_pairs=2)
    clips = _clips(2)
    clips[0].caption = "A hen clucks."
    records = gen.generate(clips, progress=False)
    assert [r.output for r in records] == ["A farm."]
    assert gen.stats.dropped == {"unparseable reply": 1, "question malformed": 1} and gen.stats.pairs_kept == 1


def test_cache_and_resume(serve, tmp_path):
    failing = {"on": True}

    def respond(body, n):
        # the facts of clip c2 fail while `failing` is on (an interrupted run)
        if failing["on"] and '"duration_seconds": 2.5' in body["messages"][1]["content"]:
            return 503, "down"
        return 200, GOOD_REPLY

    server = serve(respond)
    clips = _clips(3)
    clips[2].duration = 2.5
    first = EndpointGenerator(_config(server.url, max_retries=1), tmp_path / "cache", n_pairs=2)
    assert len(first.generate(clips, progress=False)) == 4 and first.stats.failed_clips == 1
    before = len(server.requests)
    failing["on"] = False
    second = EndpointGenerator(_config(server.url), tmp_path / "cache", n_pairs=2)
    records = second.generate(clips, progress=False)
    assert len(records) == 6 and len(server.requests) == before + 1  # only the missing clip is asked
    assert second.stats.cached == 2
    third = EndpointGenerator(_config(server.url), tmp_path / "cache", n_pairs=2)
    assert [r.to_openaqa() for r in third.generate(clips, progress=False)] == [r.to_openaqa() for r in records]
    assert len(server.requests) == before + 1
