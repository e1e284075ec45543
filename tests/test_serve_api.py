"""The OpenAI-compatible API on the transformers engine, queried with the real `openai` SDK on 127.0.0.1.

A tiny random checkpoint is saved to disk and loaded with `Assistant.load`, exactly as `alm serve`
does; answers are compared with the Assistant called directly (greedy), so the conversion of
content parts to the chat template's layout is checked end to end.
"""

import threading
import time

import pytest

pytest.importorskip("fastapi", reason="needs the serve extras: pip install -e .[serve]")
import httpx  # noqa: E402
import openai  # noqa: E402

from alm.conversation import audio_part, clips_then_text, text_part  # noqa: E402
from alm.inference import Assistant, SamplingParams  # noqa: E402
from conftest import tiny_whisper_config  # noqa: E402
from serve.api import create_app  # noqa: E402
from serve.engine import TransformersEngine  # noqa: E402
from serve.server import ServerThread  # noqa: E402
from serve.settings import ServerSettings  # noqa: E402
from serve.testing import audio_url, input_audio, save_tiny_checkpoint, text, tone, wav_bytes  # noqa: E402

MODEL = "tiny"


@pytest.fixture(scope="module")
def assistant(tiny_bases, tmp_path_factory):
    audio_base, text_base = tiny_bases
    path = save_tiny_checkpoint(tmp_path_factory.mktemp("serve") / "ckpt", audio_base, text_base,
                                tiny_whisper_config().to_dict(), max_audio_seconds=20)
    return Assistant.load(str(path))


def serve(assistant, **settings):
    settings = ServerSettings(model_name=MODEL, **settings)
    engine = TransformersEngine(assistant, batch_window_ms=settings.batch_window_ms, max_batch=settings.max_batch,
                                max_in_flight=settings.max_in_flight)
    return ServerThread(create_app(engine, settings)), engine


@pytest.fixture(scope="module")
def server(assistant):
    thread, engine = serve(assistant, batch_window_ms=50)
    with thread as url:
        yield url, engine


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server[0] + "/v1", api_key="unused", max_retries=0, timeout=120)


def user(*parts):
    return {"role": "user", "content": list(parts)}


def direct(assistant, content, clips, max_new_tokens=12, **kw):
    return assistant.answer([{"role": "user", "content": content}], clips,
                            SamplingParams(max_new_tokens=max_new_tokens, **kw))


def test_models_and_health(client, server):
    assert [m.id for m in client.models.list().data] == [MODEL]
    health = httpx.get(server[0] + "/health").json()
    assert health["status"] == "ok" and health["engine"] == "transformers"


def test_input_audio_answer_matches_the_assistant(client, assistant):
    clip = tone(440, 1.5)
    resp = client.chat.completions.create(model=MODEL, messages=[user(input_audio(clip), text("What is it?"))],
                                          max_tokens=12, temperature=0)
    want = direct(assistant, [audio_part(), text_part("What is it?")], [clip])
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == want.text
    assert choice.finish_reason == want.finish_reason
    assert resp.usage.prompt_tokens == want.prompt_tokens
    assert resp.usage.completion_tokens == want.completion_tokens <= 12
    assert resp.usage.total_tokens == want.prompt_tokens + want.completion_tokens
    assert resp.object == "chat.completion" and resp.model == MODEL


def test_audio_url_data_and_other_formats_give_the_same_answer(client):
    clip = tone(660, 1.0)
    answers = set()
    for part in (input_audio(clip), audio_url(clip), input_audio(clip, "flac")):
        resp = client.chat.completions.create(model=MODEL, messages=[user(part, text("Describe."))], max_tokens=8)
        answers.add(resp.choices[0].message.content)
    assert len(answers) == 1


def test_several_clips_and_turns(client, assistant):
    a, b, c = tone(300, 1.0), tone(900, 2.0), tone(1500, 0.5)
    messages = [
        {"role": "system", "content": "You compare sounds."},
        user(input_audio(a), input_audio(b), text("Which is higher?")),
        {"role": "assistant", "content": "The second."},
        user(text("And this one?"), audio_url(c)),
    ]
    resp = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=10)
    want = assistant.answer([
        {"role": "system", "content": "You compare sounds."},
        {"role": "user", "content": clips_then_text(2, "Which is higher?")},
        {"role": "assistant", "content": "The second."},
        {"role": "user", "content": [text_part("And this one?"), audio_part()]},
    ], [a, b, c], SamplingParams(max_new_tokens=10))
    assert resp.choices[0].message.content == want.text


def test_streaming_matches_non_streaming_and_reports_usage(client):
    messages = [user(input_audio(tone(500, 1.0)), text("What do you hear?"))]
    whole = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12)
    stream = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12, stream=True,
                                            stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces).strip() == whole.choices[0].message.content
    assert len(pieces) > 2  # really streamed
    assert finish == whole.choices[0].finish_reason
    assert usage.prompt_tokens == whole.usage.prompt_tokens


class _WordTranscriber:
    """Stands in for Whisper: every clip 'says' the same few words."""

    def transcribe(self, wave):
        return "the quick brown fox jumps"


def test_transcripts_are_in_the_prompt_and_in_streamed_usage(tiny_bases, tmp_path):
    """A speech-aware assistant: the transcript tokens count in prompt_tokens, streamed or not."""
    audio_base, text_base = tiny_bases
    path = save_tiny_checkpoint(tmp_path / "ckpt", audio_base, text_base, tiny_whisper_config().to_dict())
    plain = Assistant.load(str(path))
    aware = Assistant(plain.model, plain.processor, transcriber=_WordTranscriber())
    messages = [user(input_audio(tone(500, 1.0)), text("What is said?"))]
    counts = {}
    for name, assistant in (("plain", plain), ("aware", aware)):
        thread, _ = serve(assistant)
        with thread as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=120)
            whole = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=4)
            usage = [c.usage for c in client.chat.completions.create(
                model=MODEL, messages=messages, max_tokens=4, stream=True, stream_options={"include_usage": True})
                if c.usage][0]
            assert usage.prompt_tokens == whole.usage.prompt_tokens
            counts[name] = whole.usage.prompt_tokens
    extra = len(plain.processor.tokenizer(' (speech transcript: "the quick brown fox jumps")',
                                          add_special_tokens=False)["input_ids"])
    assert counts["aware"] == counts["plain"] + extra


def test_max_tokens_stop_and_seed(client):
    messages = [user(input_audio(tone(700, 1.0)), text("Tell me."))]
    long = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16).choices[0]
    short = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=3)
    assert short.usage.completion_tokens == 3 and short.choices[0].finish_reason == "length"
    stop = long.message.content.split()[1]  # a word in the middle of the greedy answer
    cut = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16, stop=[stop]).choices[0]
    assert cut.message.content == long.message.content[: long.message.content.find(stop)].strip()
    assert cut.finish_reason == "stop"
    sampled = [client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12, temperature=1.5,
                                              top_p=0.9, seed=seed).choices[0].message.content
               for seed in (7, 7, 8)]
    assert sampled[0] == sampled[1]


def test_a_client_leaving_a_stream_frees_its_slot(client, server):
    engine = server[1]
    stream = client.chat.completions.create(model=MODEL, messages=[user(input_audio(tone(440)), text("Go on."))],
                                            max_tokens=200, stream=True)
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 30
    while engine.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.in_flight == 0
    assert client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                          max_tokens=2).choices


def test_concurrent_requests_are_batched(client, server):
    engine = server[1]
    messages = [user(input_audio(tone(440, 1.0)), text("What is it?"))]
    before = list(engine.batch_sizes)
    results = [None] * 4

    def ask(i):
        results[i] = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sizes = engine.batch_sizes[len(before):]
    assert sum(sizes) == 4 and max(sizes) > 1, sizes
    assert len({r.choices[0].message.content for r in results}) == 1


# ---------------------------------------------------------------- errors
def raw_post(url, body, headers=None):
    return httpx.post(url + "/v1/chat/completions", content=body,
                      headers={"Content-Type": "application/json", **(headers or {})}, timeout=60)


@pytest.mark.parametrize("body, needle", [
    (b"{not json", "not valid JSON"),
    (b'{"model": "tiny"}', "messages"),
    (b'{"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}', "messages.0"),
    (b'{"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "temperature": 5}', "temperature"),
])
def test_bad_json_and_schema_give_400(server, body, needle):
    resp = raw_post(server[0], body)
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert needle in error["message"] and error["type"] == "invalid_request_error"


@pytest.mark.parametrize("part, needle", [
    ({"type": "input_audio", "input_audio": {"data": "@@not base64@@", "format": "wav"}}, "base64"),
    ({"type": "input_audio", "input_audio": {"data": "aGVsbG8gd29ybGQ=", "format": "wav"}}, "not a readable audio"),
    ({"type": "input_audio", "input_audio": {"data": "aGVsbG8=", "format": "aiff"}}, "format"),
    ({"type": "audio_url", "audio_url": {"url": "http://example.com/a.wav"}}, "remote audio URLs are not fetched"),
    ({"type": "audio_url", "audio_url": {"url": "file:///etc/passwd"}}, "file:// URLs are disabled"),
    ({"type": "audio_url", "audio_url": {"url": "ftp://x/y.wav"}}, "unsupported URL scheme"),
    ({"type": "text", "text": "what about <|audio|> tokens"}, "may not contain"),
])
def test_bad_audio_gives_400(client, part, needle):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=MODEL, messages=[user(part)], max_tokens=4)
    assert err.value.status_code == 400 and needle in err.value.message


def test_too_long_audio_and_audio_outside_user_give_400(client):
    with pytest.raises(openai.BadRequestError, match="maximum is 20 s"):
        client.chat.completions.create(model=MODEL, messages=[user(input_audio(tone(440, 21)))], max_tokens=4)
    with pytest.raises(openai.BadRequestError, match="only appear in user messages"):
        client.chat.completions.create(model=MODEL, max_tokens=4, messages=[
            {"role": "assistant", "content": [input_audio(tone(440))]}, {"role": "user", "content": "hi"}])


def test_unknown_model_gives_404(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])


def test_api_key(assistant):
    thread, _ = serve(assistant, api_key="s3cret")
    with thread as url:
        msgs = [{"role": "user", "content": "hi"}]
        bad = openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as err:
            bad.chat.completions.create(model=MODEL, messages=msgs, max_tokens=2)
        assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
        assert raw_post(url, b"{}").status_code == 401  # no header at all
        assert raw_post(url, b"{}", {"Authorization": "Basic s3cret"}).status_code == 401
        good = openai.OpenAI(base_url=url + "/v1", api_key="s3cret", max_retries=0)
        assert good.chat.completions.create(model=MODEL, messages=msgs, max_tokens=2).choices
        assert httpx.get(url + "/health").status_code == 200  # health stays open


def test_body_over_the_limit_gives_413(assistant):
    thread, _ = serve(assistant, max_body_bytes=100_000)
    with thread as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(model=MODEL, messages=[user(input_audio(tone(440, 5)))], max_tokens=2)
        assert err.value.status_code == 413 and err.value.body["code"] == "request_too_large"
        # chunked upload without Content-Length is counted too
        resp = httpx.post(url + "/v1/chat/completions", content=iter([b"x" * 60_000] * 3),
                          headers={"Content-Type": "application/json"})
        assert resp.status_code == 413


class _Gated:
    """An Assistant whose batches wait for a gate: keeps a request in flight."""

    def __init__(self, inner):
        self.inner, self.gate = inner, threading.Event()
        self.processor, self.trained, self.transcriber = inner.processor, True, None

    def answer_batch(self, convs, params):
        self.gate.wait(30)
        return self.inner.answer_batch(convs, params)


def test_overload_gives_503(assistant):
    gated = _Gated(assistant)
    thread, engine = serve(gated, max_in_flight=1)
    with thread as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        msgs = [user(input_audio(tone(440)), text("hi"))]
        first = threading.Thread(target=client.chat.completions.create,
                                 kwargs=dict(model=MODEL, messages=msgs, max_tokens=2))
        first.start()
        deadline = time.monotonic() + 10
        while engine.in_flight < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(model=MODEL, messages=msgs, max_tokens=2)
        assert err.value.status_code == 503 and err.value.response.headers["retry-after"]
        gated.gate.set()
        first.join()
        assert engine.in_flight == 0


def test_file_urls_only_under_the_audio_root(assistant, tmp_path):
    root = tmp_path / "audio"
    root.mkdir()
    (root / "a.wav").write_bytes(wav_bytes(tone(440)))
    (tmp_path / "outside.wav").write_bytes(wav_bytes(tone(440)))
    (root / "link.wav").symlink_to(tmp_path / "outside.wav")
    thread, _ = serve(assistant, audio_root=root)
    with thread as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)

        def ask(u):
            part = {"type": "audio_url", "audio_url": {"url": u}}
            return client.chat.completions.create(model=MODEL, messages=[user(part)], max_tokens=2)

        assert ask(f"file://{root / 'a.wav'}").choices
        outside = (f"file://{tmp_path / 'outside.wav'}", f"file://{root}/../outside.wav", f"file://{root / 'link.wav'}")
        for bad in outside:
            with pytest.raises(openai.BadRequestError, match="under the server's audio root"):
                ask(bad)


def test_remote_urls_when_enabled_refuse_private_addresses(assistant):
    thread, _ = serve(assistant, allow_remote_audio=True)
    with thread as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        part = {"type": "audio_url", "audio_url": {"url": url + "/health"}}  # loopback: SSRF target
        with pytest.raises(openai.BadRequestError, match="non-public address"):
            client.chat.completions.create(model=MODEL, messages=[user(part)], max_tokens=2)
