"""vLLM serving a model that reads sound tags: the plugin's front end tags each clip with the export's
Whisper encoder and tagger (`serve.vllm.model.clip_tags`) and puts the same notes after the audio tokens
as the transformers engine, so prompts and greedy answers match.

The model is alm-tiny with a seeded tagging head of its own tagger's shape attached (its tags are arbitrary but
deterministic; what is checked is that both engines read the same ones; alm-tiny's tagger also reads YAMNet, which the
front end runs from the export), one that knows sound names, so a prompt naming one also
gets its probability in both engines (`alm.model.tagger`, asked sounds), and one with the speech gate that never
hears speech, so a spoken clip's transcript is withheld in both engines (`SoundTagger.hears_speech`). Needs the vLLM
venv; skipped cleanly without it.
"""

import os
from pathlib import Path

import pytest

pytest.importorskip("openai", reason="needs the serve extras: pip install -e .[serve]")
import openai
import torch

from alm.audio.io import decode_audio_bytes, read_audio
from alm.inference import Assistant, SamplingParams
from serve.testing import input_audio, running_vllm, text, tone, wav_bytes

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
VLLM_PYTHON = Path(os.environ.get("ALM_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python"))
LABELS = ["dog", "rain", "music", "speech", "bell"]
NAMES = {**{label: [label] for label in LABELS}, "animal": ["dog"], "weather": ["rain"]}


@pytest.fixture(scope="module")
def tag_model(tmp_path_factory) -> Path:
    """alm-tiny plus a seeded tagger over its Whisper frames (top 3 tags, no threshold: every clip has tags) with the
    speech gate, whose "speech" is never heard (its bias far below the others'), so every transcript is withheld."""
    from alm.checkpoints import resolve_checkpoint
    from alm.model import AlmForConditionalGeneration
    from alm.model.tagger import SoundTagger, TaggerSettings
    from alm.processor import AlmProcessor

    source = resolve_checkpoint("alm-tiny")
    model = AlmForConditionalGeneration.from_pretrained(source)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        shape = model.tagger.settings  # what the shipped tagger reads (alm-tiny: six Whisper layers and YAMNet's block)
        model.tagger = SoundTagger(TaggerSettings(labels=LABELS, width=shape.width, layers=shape.layers,
                                                  sound_block=shape.sound_block, top_k=3, threshold=0.0,
                                                  names=NAMES, speech_gate=True)).requires_grad_(False)
        for name, value in model.tagger.state_dict().items():
            if name.endswith("bias") and value.shape == (len(LABELS),):
                value[LABELS.index("speech")] = -30.0
    model.config.sound_tags = True
    folder = tmp_path_factory.mktemp("tags") / "alm-tiny-tags"
    model.save_pretrained(folder)
    AlmProcessor.from_pretrained(source).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def vllm_url(tag_model, tmp_path_factory):
    with running_vllm(str(tag_model), "tags", VLLM_PYTHON, tmp_path_factory.mktemp("vllm") / "vllm.log") as url:
        yield url


def test_tags_reach_vllm_prompts_as_they_reach_the_transformers_engine(tag_model, vllm_url):
    from alm.conversation import Conversation

    assistant = Assistant.load(str(tag_model), dtype=torch.float32)  # vLLM runs float32
    assert assistant.reads_tags
    client = openai.OpenAI(base_url=vllm_url, api_key="none", max_retries=0, timeout=300)
    # the second spans two Whisper windows; both as the server decodes them from the request's 16-bit WAV
    clips = [decode_audio_bytes(wav_bytes(tone(440, 3.0))), decode_audio_bytes(wav_bytes(tone(2000, 11.0)))]
    messages = [{"role": "user", "content": [input_audio(clips[0]), input_audio(clips[1]),
                                             text("What do you hear?")]}]
    conv = Conversation([{"role": "user", "content": [{"type": "audio"}, {"type": "audio"},
                                                      {"type": "text", "text": "What do you hear?"}]}], clips)
    tagged = assistant.with_notes(conv)
    assert all(len(t) == 3 for t in tagged.tags)
    prompt = assistant.processor.tokenizer.decode(assistant.processor.tokenize(tagged, train=False)[0])
    assert prompt.count("(sound tags: ") == 2
    want = assistant.answer(conv.messages, conv.audios, SamplingParams(max_new_tokens=24))
    resp = client.chat.completions.create(model="tags", messages=messages, max_tokens=24, temperature=0)
    assert resp.usage.prompt_tokens == want.prompt_tokens  # the same notes, token for token in length
    assert resp.choices[0].message.content.strip() == want.text


def test_asked_sounds_reach_vllm_prompts_and_key_its_processor_cache(tag_model, vllm_url):
    """The same clip asked about different sounds, then about none: each prompt carries the asked sounds of its own
    question in both engines (a processor cache keyed by the clip alone would hand the second the first's notes)."""
    from alm.conversation import Conversation

    assistant = Assistant.load(str(tag_model), dtype=torch.float32)
    client = openai.OpenAI(base_url=vllm_url, api_key="none", max_retries=0, timeout=300)
    clip = decode_audio_bytes(wav_bytes(tone(660, 2.0)))
    for question in ("Is there a dog or any weather here?", "Is there an animal?", "What is it?"):
        conv = Conversation([{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": question}]}],
                            [clip])
        noted = assistant.with_notes(conv)
        prompt = assistant.processor.tokenizer.decode(assistant.processor.tokenize(noted, train=False)[0])
        asked = [name for name, _ in noted.asked[0]] if noted.asked else []
        assert asked == {"What is it?": [], "Is there an animal?": ["animal"]}.get(question, ["dog", "weather"])
        assert ("; asked: " in prompt) == bool(asked)
        want = assistant.answer(conv.messages, conv.audios, SamplingParams(max_new_tokens=16))
        resp = client.chat.completions.create(
            model="tags", max_tokens=16, temperature=0,
            messages=[{"role": "user", "content": [input_audio(clip), text(question)]}])
        assert resp.usage.prompt_tokens == want.prompt_tokens
        assert resp.choices[0].message.content.strip() == want.text


def test_the_speech_gate_withholds_a_spoken_clips_transcript_in_vllm_as_in_the_transformers_engine(tag_model,
                                                                                                     vllm_url):
    assistant = Assistant.load(str(tag_model), dtype=torch.float32)
    clip = decode_audio_bytes(wav_bytes(read_audio(REPO / "examples" / "announcement.flac")))
    assert assistant.transcribe([clip]) == [""]  # the tagger hears no speech
    assistant.model.tagger.settings.speech_gate = False
    assert len(assistant.transcribe([clip])[0].split()) > 5  # Whisper does
    assistant.model.tagger.settings.speech_gate = True
    question = "What does the speaker say?"
    messages = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": question}]}]
    want = assistant.answer(messages, [clip], SamplingParams(max_new_tokens=16))
    assert want.transcripts == [""]
    client = openai.OpenAI(base_url=vllm_url, api_key="none", max_retries=0, timeout=300)
    resp = client.chat.completions.create(model="tags", max_tokens=16, temperature=0,
                                          messages=[{"role": "user", "content": [input_audio(clip), text(question)]}])
    assert resp.usage.prompt_tokens == want.prompt_tokens  # no transcript's words in vLLM's prompt either
    assert resp.choices[0].message.content.strip() == want.text
