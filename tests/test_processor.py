"""AlmProcessor (tiny tokenizer): the chat template's layout, audio-token expansion, labels, checks, save/load."""

import numpy as np
import pytest
import torch

from alm.chat_template import build_chat_template, is_alm_template, llm_template_of
from alm.conversation import Conversation, audio_part, parts_from_placeholders, text_part
from alm.errors import AlmError, AudioError
from alm.model import num_audio_tokens
from alm.processor import IGNORE_INDEX, AlmProcessor
from conftest import tone


@pytest.fixture
def processor(tiny_config):
    return AlmProcessor.from_config(tiny_config())


def ask(text, *clips, **kw):
    return Conversation([{"role": "user", "content": parts_from_placeholders(text, len(clips))}], list(clips), **kw)


def audio_runs(ids: list[int], token_id: int) -> list[int]:
    """Lengths of the runs of consecutive audio tokens, in order."""
    runs, current = [], 0
    for t in ids + [None]:
        if t == token_id:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs


# ------------------------------------------------------------------ the layout (the chat template alone)
def user_text(processor, content) -> str:
    rendered = processor.render([{"role": "user", "content": content}], add_generation_prompt=False)
    return rendered.split("<|im_start|>user\n", 1)[1].split("<|im_end|>", 1)[0]


def test_layout_clips_first_then_the_question_on_its_own_line(processor):
    a = processor.audio_token
    assert user_text(processor, [audio_part(), audio_part(), text_part("Which is louder?")]) == f"{a}{a}\nWhich is louder?"
    assert user_text(processor, [audio_part(), text_part("What is it?")]) == f"{a}\nWhat is it?"


def test_layout_clips_inside_the_text_stay_inline(processor):
    a = processor.audio_token
    parts = parts_from_placeholders("Is <audio> louder than <audio>?", 2)
    assert user_text(processor, parts) == f"Is {a} louder than {a}?"
    assert user_text(processor, [text_part("first"), text_part("second")]) == "first\nsecond"
    assert user_text(processor, "plain text") == "plain text"


def test_the_template_adds_the_system_prompt_once(processor, tiny_config):
    rendered = processor.render([{"role": "user", "content": "hi"}], add_generation_prompt=True)
    assert rendered.startswith("<|im_start|>system\n" + tiny_config().system_prompt + "<|im_end|>")
    own = processor.render([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], True)
    assert own.count("<|im_start|>system") == 1 and "Be brief." in own


def test_template_wraps_the_llm_template_once(processor):
    template = processor.chat_template
    assert is_alm_template(template)
    again = build_chat_template(template, "x", processor.audio_token)
    assert llm_template_of(again) == llm_template_of(template) and again.count("alm chat template") == 1


def test_unknown_content_part_is_refused(processor):
    with pytest.raises(Exception, match="image"):
        processor.render([{"role": "user", "content": [{"type": "image"}]}], add_generation_prompt=True)


# ------------------------------------------------------------------ expansion and batches
def test_no_clip_is_text_only(processor):
    batch = processor.batch([Conversation([{"role": "user", "content": "Hello?"}])])
    assert "audio_mel" not in batch
    assert (batch["input_ids"] != processor.audio_token_id).all()


def test_one_clip(processor):
    clip = tone(440, 2.0)
    batch = processor.batch([ask("<audio>What is it?", clip)])
    ids = batch["input_ids"][0].tolist()
    assert audio_runs(ids, processor.audio_token_id) == [num_audio_tokens(len(clip), processor.spec)]
    assert batch["audio_mel"].shape == (1, 80, 200) and batch["audio_mel_lengths"].tolist() == [200]


def test_three_clips_in_several_turns(processor):
    clips = [tone(300, 1.0), tone(600, 3.5), tone(900, 31.0)]
    conv = Conversation(
        [
            {"role": "user", "content": parts_from_placeholders("Listen: <audio> and <audio>.", 2)},
            {"role": "assistant", "content": "Two tones."},
            {"role": "user", "content": parts_from_placeholders("And this one? <audio>", 1)},
        ],
        clips,
    )
    batch = processor.batch([conv])
    runs = audio_runs(batch["input_ids"][0].tolist(), processor.audio_token_id)
    assert runs == [num_audio_tokens(len(c), processor.spec) for c in clips]
    # 1 + 1 + 2 windows (31 s is two windows), mel lengths in prompt order
    assert batch["audio_mel_lengths"].tolist() == [100, 350, 3000, 100]
    text = processor.tokenizer.decode(batch["input_ids"][0])
    assert text.index("Listen") < text.index("Two tones") < text.index("And this one")


def test_batch_is_left_padded_for_generation(processor):
    convs = [ask("<audio>?", tone(440, 1.0)), ask("<audio> and a much longer question here?", tone(440, 4.0))]
    batch = processor.batch(convs)
    assert batch["attention_mask"][0, 0] == 0 and batch["attention_mask"][0, -1] == 1
    assert batch["attention_mask"][1].all()


def test_labels_cover_only_assistant_replies(processor):
    conv = Conversation(
        [
            {"role": "user", "content": parts_from_placeholders("<audio>What is it?", 1)},
            {"role": "assistant", "content": "a bell"},
            {"role": "user", "content": "Again?"},
            {"role": "assistant", "content": "a beep"},
        ],
        [tone(440, 1.0)],
        transcripts=["ding"],
    )
    batch = processor.batch([conv], train=True)
    labels = batch["labels"][0]
    kept = processor.tokenizer.decode(labels[labels != IGNORE_INDEX])
    assert kept == "a bell<|im_end|>\na beep<|im_end|>\n"
    assert batch["attention_mask"][0, 0] == 1  # right padded for training


def test_training_and_generation_prompts_share_their_tokens(processor):
    """The generation prompt is exactly the prefix of the training sequence up to the answer."""
    clip = tone(440, 1.5)
    conv = ask("<audio>What is it?", clip, transcripts=["hello"])
    train = Conversation([*conv.messages, {"role": "assistant", "content": "a bell"}], [clip], ["hello"])
    prompt_ids, _ = processor.tokenize(conv, train=False)
    train_ids, labels = processor.tokenize(train, train=True)
    assert train_ids[: len(prompt_ids)] == prompt_ids
    assert all(label == IGNORE_INDEX for label in labels[: len(prompt_ids)])


def test_audio_parts_must_match_clips(processor):
    with pytest.raises(AlmError, match="2 audio part"):
        processor.batch([Conversation([{"role": "user", "content": [audio_part(), audio_part()]}], [tone(440)])])
    with pytest.raises(AlmError, match="2 <audio> placeholder"):
        parts_from_placeholders("<audio><audio>", 1)


def test_audio_only_in_user_messages(processor):
    conv = Conversation([{"role": "user", "content": "hi"}, {"role": "assistant", "content": [audio_part()]}],
                        [tone(440)])
    with pytest.raises(AlmError, match="user messages"):
        processor.batch([conv])


def test_text_may_not_forge_audio_tokens(processor):
    conv = Conversation([{"role": "user", "content": [audio_part(), text_part(f"and {processor.audio_token}")]}],
                        [tone(440)])
    with pytest.raises(AlmError, match="may not contain the audio token"):
        processor.batch([conv])


def test_too_long_and_empty_audio(processor):
    processor.max_audio_seconds = 5
    with pytest.raises(AudioError, match="maximum is 5 s"):
        processor.batch([ask("<audio>", tone(440, 6.0))])
    with pytest.raises(AudioError, match="non-empty"):
        processor.batch([ask("<audio>", np.zeros(0, np.float32))])


def test_transcript_is_given_beside_the_audio(processor):
    conv = ask("<audio>What is said?", tone(440), transcripts=["hello there"])
    text = processor.tokenizer.decode(processor.batch([conv])["input_ids"][0])
    assert '(speech transcript: "hello there")\nWhat is said?' in text


def test_instruction_aware_inputs(tiny_config):
    processor = AlmProcessor.from_config(tiny_config(aligner="qformer", instruction_aware=True))
    batch = processor.batch([ask("<audio>Is there a bell?", tone(440, 31.0))])
    assert batch["instruction_ids"].shape[0] == 2  # one row per window
    decoded = processor.tokenizer.decode(batch["instruction_ids"][0][batch["instruction_mask"][0].bool()])
    assert decoded == "Is there a bell?"
    assert torch.equal(batch["instruction_ids"][0], batch["instruction_ids"][1])


# ------------------------------------------------------------------ transformers-style use and saving
def test_transformers_style_call_matches_conversations(processor):
    clips = [tone(300, 1.0), tone(700, 2.0)]
    conv = ask("<audio><audio>Which is higher?", *clips)
    prompt = processor.apply_chat_template(conv.messages, add_generation_prompt=True)
    hf = processor(text=prompt, audio=clips)
    ours = processor.batch([conv])
    for key in ("input_ids", "attention_mask", "audio_mel", "audio_mel_lengths"):
        assert torch.equal(hf[key], ours[key]), key
    with pytest.raises(AlmError, match="1 audio token"):
        processor(text=processor.apply_chat_template(ask("<audio>?", clips[0]).messages), audio=clips)


def test_end_of_turn_ids_come_from_the_template(processor):
    assert processor.tokenizer.convert_tokens_to_ids("<|im_end|>") in processor.end_of_turn_ids


def test_save_and_load_with_auto_processor(processor, tmp_path):
    from transformers import AutoProcessor

    import alm  # noqa: F401 - registers the Auto classes

    processor.save_pretrained(tmp_path)
    assert (tmp_path / "processor_config.json").is_file() and (tmp_path / "chat_template.jinja").is_file()
    (tmp_path / "config.json").write_text('{"model_type": "alm"}')
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(loaded) is AlmProcessor
    assert loaded.chat_template == processor.chat_template and loaded.spec == processor.spec
    conv = ask("<audio>What is it?", tone(440, 2.0), transcripts=["hi"])
    assert torch.equal(loaded.batch([conv])["input_ids"], processor.batch([conv])["input_ids"])
