"""Placeholder expansion, label masking and input checks of AlmProcessor (tiny tokenizer)."""

import numpy as np
import pytest
import torch

from alm.errors import AlmError, AudioError
from alm.model import num_audio_tokens
from alm.processor import IGNORE_INDEX, AlmProcessor, Conversation
from conftest import tone


@pytest.fixture
def processor(tiny_config):
    return AlmProcessor.from_pretrained(tiny_config())


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


def test_no_clip_is_text_only(processor):
    batch = processor([Conversation([{"role": "user", "content": "Hello?"}])])
    assert "audio_mel" not in batch
    assert (batch["input_ids"] != processor.config.audio_token_id).all()


def test_one_clip(processor):
    clip = tone(440, 2.0)
    batch = processor([Conversation([{"role": "user", "content": "<audio>What is it?"}], [clip])])
    ids = batch["input_ids"][0].tolist()
    assert audio_runs(ids, processor.config.audio_token_id) == [num_audio_tokens(len(clip), processor.config)]
    assert batch["audio_mel"].shape == (1, 80, 200) and batch["audio_mel_lengths"].tolist() == [200]


def test_three_clips_in_several_turns(processor):
    clips = [tone(300, 1.0), tone(600, 3.5), tone(900, 31.0)]
    conv = Conversation(
        [
            {"role": "user", "content": "Listen: <audio> and <audio>."},
            {"role": "assistant", "content": "Two tones."},
            {"role": "user", "content": "And this one? <audio>"},
        ],
        clips,
    )
    batch = processor([conv])
    cfg = processor.config
    assert audio_runs(batch["input_ids"][0].tolist(), cfg.audio_token_id) == [num_audio_tokens(len(c), cfg) for c in clips]
    # 1 + 1 + 2 windows (31 s is two windows), mel lengths in prompt order
    assert batch["audio_mel_lengths"].tolist() == [100, 350, 3000, 100]
    text = processor.tokenizer.decode(batch["input_ids"][0])
    assert text.index("Listen") < text.index("Two tones") < text.index("And this one")


def test_batch_is_left_padded_for_generation(processor):
    convs = [Conversation([{"role": "user", "content": "<audio>?"}], [tone(440, 1.0)]),
             Conversation([{"role": "user", "content": "<audio> and a much longer question here?"}], [tone(440, 4.0)])]
    batch = processor(convs)
    assert batch["attention_mask"][0, 0] == 0 and batch["attention_mask"][0, -1] == 1
    assert batch["attention_mask"][1].all()


def test_labels_cover_only_assistant_replies(processor):
    conv = Conversation(
        [
            {"role": "user", "content": "<audio>What is it?"},
            {"role": "assistant", "content": "a bell"},
            {"role": "user", "content": "Again?"},
            {"role": "assistant", "content": "a beep"},
        ],
        [tone(440, 1.0)],
    )
    batch = processor([conv], train=True)
    labels = batch["labels"][0]
    kept = processor.tokenizer.decode(labels[labels != IGNORE_INDEX])
    assert kept == "a bell<|im_end|>\na beep<|im_end|>\n"
    assert batch["attention_mask"][0, 0] == 1  # right padded for training


def test_placeholder_count_must_match_clips(processor):
    with pytest.raises(AlmError, match="2 <audio> placeholder"):
        processor([Conversation([{"role": "user", "content": "<audio><audio>"}], [tone(440, 1.0)])])


def test_audio_only_in_user_messages(processor):
    conv = Conversation([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "<audio>"}], [tone(440)])
    with pytest.raises(AlmError, match="user messages"):
        processor([conv])


def test_too_long_and_empty_audio(processor):
    processor.config.max_audio_seconds = 5
    with pytest.raises(AudioError, match="maximum is 5 s"):
        processor([Conversation([{"role": "user", "content": "<audio>"}], [tone(440, 6.0)])])
    with pytest.raises(AudioError, match="non-empty"):
        processor([Conversation([{"role": "user", "content": "<audio>"}], [np.zeros(0, np.float32)])])


def test_transcript_is_given_beside_the_audio(processor):
    conv = Conversation([{"role": "user", "content": "<audio>What is said?"}], [tone(440)], transcripts=["hello there"])
    text = processor.tokenizer.decode(processor([conv])["input_ids"][0])
    assert '(speech transcript: "hello there")What is said?' in text


def test_instruction_aware_inputs(tiny_config):
    processor = AlmProcessor.from_pretrained(tiny_config(aligner="qformer", instruction_aware=True))
    conv = Conversation([{"role": "user", "content": "<audio>Is there a bell?"}], [tone(440, 31.0)])
    batch = processor([conv])
    assert batch["instruction_ids"].shape[0] == 2  # one row per window
    decoded = processor.tokenizer.decode(batch["instruction_ids"][0][batch["instruction_mask"][0].bool()])
    assert decoded == "Is there a bell?"
    assert torch.equal(batch["instruction_ids"][0], batch["instruction_ids"][1])
