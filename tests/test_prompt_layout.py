"""One prompt layout everywhere: the same two-clip, two-turn conversation built by every producer of prompts
(a training record, `alm ask`, an API request, the chat, the evaluation runners, and vLLM's rendering of the
export) becomes the same token ids."""

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from alm.commands.ask import question_messages  # noqa: E402
from alm.conversation import Conversation  # noqa: E402
from alm.processor import AlmProcessor  # noqa: E402
from conftest import tiny_whisper_config  # noqa: E402
from eval.data import AudioRef  # noqa: E402
from eval.runners import AUDIO, Decoding, EndpointRunner, LocalRunner, Query  # noqa: E402
from instruction_data.schema import Record, Turn  # noqa: E402
from serve.content import to_conversation  # noqa: E402
from serve.protocol import parse_request  # noqa: E402
from serve.settings import ServerSettings  # noqa: E402
from serve.testing import input_audio, save_tiny_checkpoint, text, tone, wav_bytes  # noqa: E402
from training.data import record_messages  # noqa: E402

FIRST, ANSWER, SECOND = "Which clip is louder?", "The first.", "Are you sure?"


@pytest.fixture(scope="module")
def setup(tiny_bases, tmp_path_factory):
    """A tiny checkpoint, its processor, and two clips written to disk."""
    root = tmp_path_factory.mktemp("layout")
    audio_base, text_base = tiny_bases
    ckpt = save_tiny_checkpoint(root / "ckpt", audio_base, text_base, tiny_whisper_config().to_dict())
    clips = [tone(300, 1.0), tone(900, 2.5)]
    paths = []
    for i, wave in enumerate(clips):
        path = root / f"clip{i}.wav"
        path.write_bytes(wav_bytes(wave))
        paths.append(str(path))
    from alm.audio import load_audio

    return ckpt, AlmProcessor.from_pretrained(ckpt), [load_audio(p) for p in paths], paths


def prompt_ids(processor, messages, clips) -> list[int]:
    return processor.tokenize(Conversation(messages, clips), train=False)[0]


def from_record(paths):
    record = Record(id="r", instruction=SECOND, output="Yes.", sound=paths, dataset="t", task="multi_clip_compare",
                    stage="perception", history=[Turn(FIRST, ANSWER)])
    messages = record_messages(record)
    return messages[:-1], messages  # the prompt, and the whole training conversation


def from_api(settings, clips):
    body = {"model": "m", "messages": [
        {"role": "user", "content": [input_audio(clips[0]), input_audio(clips[1]), text(FIRST)]},
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": SECOND}]}
    return to_conversation(parse_request(body).messages, settings, "<|audio|>").messages


def from_chat(paths):
    from serve.chat import conversation

    turns = [{"text": FIRST, "audios": paths, "answer": ANSWER}, {"text": SECOND, "audios": [], "answer": None}]
    return conversation(turns)[0]


def vllm_form(messages):
    """What vLLM's chat front end hands a template of the "openai" content format: text parts as dicts, audio
    parts as {"type": "audio"} (vllm/renderers/chat_utils.py, `_parse_chat_message_content_part`)."""
    out = []
    for msg in messages:
        content = msg["content"]
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else [
            {"type": "audio"} if p["type"] in ("input_audio", "audio_url") else p for p in content]
        out.append({"role": msg["role"], "content": parts})
    return out


def test_two_clips_two_turns_are_the_same_tokens_everywhere(setup, tmp_path):
    ckpt, processor, clips, paths = setup
    prompt, whole = from_record(paths)
    want = prompt_ids(processor, prompt, clips)
    assert prompt_ids(processor, from_api(ServerSettings(), clips), clips) == want
    assert prompt_ids(processor, from_chat(paths), clips) == want

    # training: the training sequence starts with exactly the prompt the model is later asked with
    train_ids, _ = processor.tokenize(Conversation(whole, clips), train=True)
    assert train_ids[: len(want)] == want

    # vLLM: the export's own tokenizer and chat template on vLLM's form of the API request, audio tokens expanded
    from serve.vllm.export import export_for_vllm
    from transformers import AutoProcessor

    out = export_for_vllm(str(ckpt), tmp_path / "vllm")
    vllm_processor = AutoProcessor.from_pretrained(out)
    body = {"role": "user", "content": [input_audio(clips[0]), input_audio(clips[1]), text(FIRST)]}
    rendered = vllm_processor.tokenizer.apply_chat_template(
        vllm_form([body, {"role": "assistant", "content": ANSWER}, {"role": "user", "content": SECOND}]),
        tokenize=False, add_generation_prompt=True)
    assert vllm_processor(text=rendered, audio=clips)["input_ids"][0].tolist() == want


def test_one_question_is_the_same_tokens_from_ask_records_eval_and_the_api(setup):
    ckpt, processor, clips, paths = setup
    record = Record(id="r", instruction=FIRST, output=ANSWER, sound=paths, dataset="t", task="multi_clip_compare",
                    stage="perception")
    want = prompt_ids(processor, record_messages(record)[:-1], clips)
    assert prompt_ids(processor, question_messages(FIRST, 2), clips) == want

    query = Query(AUDIO, FIRST, tuple(AudioRef(p) for p in paths), Decoding())
    local = LocalRunner.__new__(LocalRunner)._conversation(query)
    assert prompt_ids(processor, local.messages, local.audios) == want
    body = EndpointRunner("http://127.0.0.1:1/v1", "m").payload(query)
    api = to_conversation(parse_request(body).messages, ServerSettings(), "<|audio|>")
    assert prompt_ids(processor, api.messages, api.audios) == want


def test_inline_placeholders_keep_their_place(setup):
    _, processor, clips, _ = setup
    inline = question_messages("Is <audio> louder than <audio>?", 2)
    text_ = processor.tokenizer.decode(prompt_ids(processor, inline, clips))
    assert "Is <|audio|>" in text_ and "louder than <|audio|>" in text_ and text_.count("\nIs") == 1
