"""The Gradio chat, mounted by the API server at /chat, driven with `gradio_client` on 127.0.0.1."""

import pytest

pytest.importorskip("gradio_client", reason="needs the serve extras: pip install -e .[serve]")
from gradio_client import Client, handle_file  # noqa: E402

import torch  # noqa: E402

from alm.conversation import clips_then_text, parts_from_placeholders  # noqa: E402
from alm.inference import Assistant, SamplingParams  # noqa: E402
from conftest import tiny_whisper_config  # noqa: E402
from serve.cli import build_app  # noqa: E402
from serve.server import ServerThread  # noqa: E402
from serve.settings import ServerSettings  # noqa: E402
from serve.testing import save_tiny_checkpoint, tone, wav_bytes  # noqa: E402

SETTINGS = (0.0, 1.0, 10, None, False)  # temperature, top_p, max tokens, seed, show transcripts


@pytest.fixture(scope="module")
def assistant(tiny_bases, tmp_path_factory):
    audio_base, text_base = tiny_bases
    path = save_tiny_checkpoint(tmp_path_factory.mktemp("chat") / "ckpt", audio_base, text_base,
                                tiny_whisper_config().to_dict(), max_audio_seconds=20)
    return Assistant.load(str(path), dtype=torch.float32)  # bf16 on a random tiny model flips on clip rounding


@pytest.fixture(scope="module")
def chat_url(assistant):
    with ServerThread(build_app(assistant, ServerSettings(model_name="tiny"))) as url:
        yield url + "/chat/"


@pytest.fixture
def clips(tmp_path):
    out = {}
    for name, wave in (("low", tone(300, 1.0)), ("high", tone(1200, 2.0))):
        out[name] = tmp_path / f"{name}.wav"
        out[name].write_bytes(wav_bytes(wave))
    (tmp_path / "broken.wav").write_bytes(b"this is not audio at all")
    out["broken"] = tmp_path / "broken.wav"
    return out


def texts(chatbot, role="assistant"):
    out = []
    for msg in chatbot:
        if msg["role"] != role or (msg.get("metadata") or {}).get("title"):
            continue
        for part in msg["content"] if isinstance(msg["content"], list) else [msg["content"]]:
            value = part.get("text") if isinstance(part, dict) else part
            if isinstance(value, str):
                out.append(value)
    return out


def direct(assistant, messages, audios):
    return assistant.answer(messages, audios, SamplingParams(max_new_tokens=10)).text


def test_two_clips_then_a_follow_up_then_regenerate_and_clear(chat_url, assistant, clips):
    client = Client(chat_url, verbose=False)
    message = {"text": "Which is higher?", "files": [handle_file(str(clips["low"])), handle_file(str(clips["high"]))]}
    job = client.submit(message, *SETTINGS, api_name="/chat")
    updates = list(job)  # every streamed state of the chat
    chatbot, box = job.result()
    assert len(updates) >= 3  # streamed in pieces
    waves = [tone(300, 1.0), tone(1200, 2.0)]
    first = direct(assistant, [{"role": "user", "content": clips_then_text(2, "Which is higher?")}], waves)
    assert texts(chatbot) == [first]
    assert sum(1 for m in chatbot if m["role"] == "user") == 3  # two clips and the question

    chatbot, _ = client.predict({"text": "Are you sure?", "files": []}, *SETTINGS, api_name="/chat")
    second = direct(assistant, [{"role": "user", "content": clips_then_text(2, "Which is higher?")},
                                {"role": "assistant", "content": first},
                                {"role": "user", "content": "Are you sure?"}], waves)
    assert texts(chatbot) == [first, second]

    chatbot = client.predict(*SETTINGS, api_name="/regenerate")
    assert texts(chatbot) == [first, second]  # greedy: the same answer again, not a third turn
    sampled = client.predict(1.5, 0.9, 10, 3, False, api_name="/regenerate")
    assert len(texts(sampled)) == 2

    chatbot, _ = client.predict(api_name="/clear")
    assert chatbot == []


def test_errors_are_shown_as_messages(chat_url, clips):
    client = Client(chat_url, verbose=False)
    chatbot, _ = client.predict({"text": "What is it?", "files": [handle_file(str(clips["broken"]))]}, *SETTINGS,
                                api_name="/chat")
    reply = texts(chatbot)[-1]
    assert reply.startswith("⚠️") and "not a readable audio file" in reply and "Traceback" not in reply
    # the failed turn is not part of the conversation: the next turn works
    chatbot, _ = client.predict({"text": "Hello", "files": [handle_file(str(clips["low"]))]}, *SETTINGS,
                                api_name="/chat")
    assert not texts(chatbot)[-1].startswith("⚠️")


def test_openai_backend_gives_the_local_answer(assistant):
    """The chat beside vLLM talks through the OpenAI API: same answer as in-process (against alm's own API)."""
    from serve.backends import LocalBackend, OpenAIBackend

    messages = [{"role": "user", "content": parts_from_placeholders("Listen: <audio> <audio> Which is higher?", 2)},
                {"role": "assistant", "content": "The second."}, {"role": "user", "content": "Sure?"}]
    clips = [tone(300, 1.0), tone(1200, 2.0)]
    params = SamplingParams(max_new_tokens=10)
    local = "".join(LocalBackend(assistant).stream(messages, clips, params)).strip()
    with ServerThread(build_app(assistant, ServerSettings(model_name="tiny"), chat=False)) as url:
        backend = OpenAIBackend(url + "/v1", "tiny")
        remote = "".join(backend.stream(messages, clips, params)).strip()
    assert remote == local
    assert backend.trained is False  # the tiny checkpoint's aligner is untrained: alm serve's /health says so


def test_the_chat_holds_turns_to_the_limits_and_checks_its_settings(chat_url, clips, tmp_path):
    """The same limits as the API (a 30-minute clip refused from its header), and settings a gradio_client sends
    that would overflow are refused as messages, never as an internal error."""
    import numpy as np
    import soundfile as sf

    long_clip = tmp_path / "long.flac"
    sf.write(long_clip, np.zeros(16_000 * 1800, np.float32), 16_000)
    client = Client(chat_url, verbose=False)
    chatbot, _ = client.predict({"text": "What is it?", "files": [handle_file(str(long_clip))]}, *SETTINGS,
                                api_name="/chat")
    assert texts(chatbot)[-1].startswith("⚠️") and "1800.0 s long; the maximum is 20 s" in texts(chatbot)[-1]
    for settings, needle in (((1e-300, 1.0, 10, None, False), "temperature must be 0"),
                             ((0.0, 1.0, 10, 2**70, False), "seed must fit in 64 bits")):  # gradio bounds the rest
        chatbot, _ = client.predict({"text": "hi", "files": []}, *settings, api_name="/chat")
        reply = texts(chatbot)[-1]
        assert reply.startswith("⚠️") and needle in reply and "internal error" not in reply, reply


def test_chat_conversations_are_checked_against_the_limits(clips):
    from alm.limits import LimitError, Limits
    from serve.chat import conversation

    turns = [{"text": "x" * 50, "audios": [str(clips["low"]), str(clips["high"])], "answer": None}]
    with pytest.raises(LimitError, match="max_clips"):
        conversation(turns, Limits(max_clips=1))
    with pytest.raises(LimitError, match="max_text_chars"):
        conversation(turns, Limits(max_text_chars=10))
    with pytest.raises(LimitError, match="max_audio_seconds"):
        conversation(turns, Limits(max_audio_seconds=2.5))  # 1 s + 2 s of clips
    messages, audios = conversation(turns, Limits())
    assert len(audios) == 2 and messages[0]["role"] == "user"
