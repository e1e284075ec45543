"""AlmForConditionalGeneration on tiny random bases: splicing, windows, save/load, trainability, learning."""

import pytest
import torch

from alm.model import AlmForConditionalGeneration, AudioTokenMismatch, num_audio_tokens
from alm.conversation import Conversation, parts_from_placeholders
from conftest import tone

ALIGNERS = [{"aligner": "mlp"}, {"aligner": "pool"}, {"aligner": "qformer"},
            {"aligner": "qformer", "instruction_aware": True}]


def ask(text, *clips):
    """One user turn; `<audio>` in `text` marks where each clip goes."""
    return Conversation([{"role": "user", "content": parts_from_placeholders(text, len(clips))}], list(clips))


def exchange(text, answer, clip):
    return Conversation([{"role": "user", "content": parts_from_placeholders(text, 1)},
                         {"role": "assistant", "content": answer}], [clip])


@pytest.mark.parametrize("overrides", ALIGNERS, ids=lambda o: "-".join(map(str, o.values())))
def test_aligner_outputs_match_token_count(tiny_model, overrides):
    model, processor = tiny_model(**overrides)
    clips = [tone(300, 0.05), tone(500, 7.3), tone(700, 61.0)]
    batch = processor.batch([ask("<audio> <audio> <audio>", *clips)])
    with torch.no_grad():
        embeds = model.embed_inputs(**{k: v for k, v in batch.items() if k != "attention_mask"})
    assert embeds.shape[:2] == batch["input_ids"].shape
    expected = sum(num_audio_tokens(len(c), model.config) for c in clips)
    assert int((batch["input_ids"] == model.config.audio_token_id).sum()) == expected


def test_placeholder_mismatch_raises(tiny_model):
    model, processor = tiny_model()
    batch = processor.batch([ask("<audio>hi", tone(440, 2.0))])
    audio_id = model.config.audio_token_id
    first = int((batch["input_ids"][0] == audio_id).nonzero()[0])
    batch["input_ids"][0, first] = processor.tokenizer.pad_token_id  # one audio token fewer
    with pytest.raises(AudioTokenMismatch, match="aligner produced"):
        model(**batch)
    with pytest.raises(AudioTokenMismatch, match="no audio was given"):
        model(input_ids=processor.batch([ask("<audio>hi", tone(440))])["input_ids"])


def test_clip_tokens_do_not_depend_on_the_batch(tiny_model):
    model, processor = tiny_model()
    short, long = tone(440, 2.0), tone(880, 9.0)
    alone = processor.batch([ask("<audio>", short)])
    together = processor.batch([ask("<audio>", short), ask("<audio>", long)])
    with torch.no_grad():
        a = model.align(*model.encode_frames(alone["audio_mel"], alone["audio_mel_lengths"]))
        b = model.align(*model.encode_frames(together["audio_mel"], together["audio_mel_lengths"]))[: a.shape[0]]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_long_audio_is_windowed(tiny_model):
    model, processor = tiny_model()
    batch = processor.batch([ask("<audio>", tone(440, 75.0))])
    assert batch["audio_mel_lengths"].tolist() == [3000, 3000, 1500]
    out = model(**batch)
    assert out.logits.shape[1] == batch["input_ids"].shape[1]


def test_only_aligner_and_lora_train(tiny_model):
    model, _ = tiny_model()
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all(n.startswith("aligner.") or "lora_" in n for n in names)
    assert any("lora_" in n for n in names) and any(n.startswith("aligner.") for n in names)


@pytest.mark.parametrize("overrides", ALIGNERS, ids=lambda o: "-".join(map(str, o.values())))
def test_save_load_round_trip_gives_identical_logits(tiny_model, tmp_path, overrides):
    model, processor = tiny_model(**overrides)
    with torch.no_grad():  # make LoRA non-trivial (B starts at zero)
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)
    model.eval()
    batch = processor.batch([ask("<audio>What is this?", tone(440, 3.0))])
    with torch.no_grad():
        before = model(**batch).logits
    model.save_pretrained(tmp_path / "ckpt", processor=processor)
    saved = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert "aligner.safetensors" in saved and "lora" in saved and "config.json" in saved
    assert not any(name.startswith("model") for name in saved)  # base weights are named, not copied
    loaded = AlmForConditionalGeneration.from_pretrained(tmp_path / "ckpt")
    with torch.no_grad():
        after = loaded(**batch).logits
    torch.testing.assert_close(before, after, atol=0, rtol=0)


@pytest.mark.parametrize("overrides", ALIGNERS[1:], ids=lambda o: "-".join(map(str, o.values())))
def test_gradients_reach_every_aligner_parameter(tiny_model, overrides):
    model, processor = tiny_model(**overrides)
    batch = processor.batch([exchange("<audio>?", "bell", tone(440, 1.0))], train=True)
    model(**batch).loss.backward()
    for name, param in model.aligner.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_tiny_model_learns_to_tell_four_tones_apart(tiny_model):
    """End to end: a few dozen steps on 4 clips make greedy answers name each clip's own label."""
    torch.manual_seed(0)
    model, processor = tiny_model(lora_dropout=0.0)
    labels = {200: "low tone", 500: "bell", 1200: "beep", 3000: "siren"}
    train = processor.batch([exchange("<audio>What sound is this?", label, tone(freq, 1.0))
                             for freq, label in labels.items()], train=True)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(100):
        loss = model(**train).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    prompts = processor.batch([ask("<audio>What sound is this?", tone(freq, 1.0)) for freq in labels])
    out = model.generate(**prompts, max_new_tokens=6, do_sample=False, eos_token_id=processor.end_of_turn_ids,
                         pad_token_id=processor.tokenizer.pad_token_id)
    assert [processor.decode(row) for row in out] == list(labels.values())


def test_a_notes_only_model_reads_its_clips_as_notes_alone(tiny_model, tmp_path):
    """`aligner: none`: no soft prompts, the clip is its notes (here sound tags) in the prompt; it trains LoRA only,
    round-trips and answers through the assistant with and without the audio cache."""
    from alm.inference import Assistant, SamplingParams
    from alm.model.tagger import SoundTagger, TaggerSettings

    with pytest.raises(ValueError, match="aligner none gives the LLM no audio tokens"):
        tiny_model(aligner="none")
    model, processor = tiny_model(aligner="none", sound_tags=True)
    assert num_audio_tokens(16_000 * 45, model.config) == 0
    assert list(model.aligner.parameters()) == []
    assert {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad} == {"language_model"}
    model.tagger = SoundTagger(TaggerSettings(labels=["dog", "bell"], width=model.config.frame_width, top_k=1,
                                              threshold=0.0, kind="softmax"))
    conv = Conversation(ask("<audio>What is it?", tone(440, 2.0)).messages, [tone(440, 2.0)], tags=[[("bell", 0.7)]])
    batch = processor.batch([conv])
    assert int((batch["input_ids"] == model.config.audio_token_id).sum()) == 0
    assert "(sound tags: bell 0.70)" in processor.tokenizer.decode(batch["input_ids"][0])
    with torch.no_grad():
        before = model(**batch).logits
    model.save_pretrained(tmp_path / "ckpt", processor=processor)
    loaded = AlmForConditionalGeneration.from_pretrained(tmp_path / "ckpt")
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, before, atol=0, rtol=0)
    question = ask("<audio>What is it?", tone(440, 2.0))
    params = SamplingParams(max_new_tokens=4)
    answers = [Assistant(model, processor, decoder="generate", audio_cache=cache).answer_batch([question], params)[0]
               for cache in (0, 4)]
    assert answers[0].text == answers[1].text and answers[0].prompt_tokens == answers[1].prompt_tokens
