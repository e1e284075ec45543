"""vLLM serving a model whose general-sound encoder feeds the aligner (`sound_to_aligner`, SALMONN's pairing): the
plugin's front end runs the exported YAMNet on alm's processor features, stretches its frames onto Whisper's grid
(`serve.vllm.model.sound_frames`) and sends them beside the mel; the model concatenates them with Whisper's frames
before the aligner, and the tagger reads YAMNet's block from the same frames. Prompts and greedy answers must equal
the transformers engine's.

The model: alm-tiny's bases and trained tagger (six Whisper layers and YAMNet's block), with YAMNet feeding a fresh
seeded aligner (Whisper's 512 channels and YAMNet's 1,024) and a fresh LoRA. Its answers mean nothing; what is
checked is that both engines compute the same ones. Needs the vLLM venv; skipped cleanly without it.
"""

import os
from pathlib import Path

import pytest

pytest.importorskip("openai", reason="needs the serve extras: pip install -e .[serve]")
import openai  # noqa: E402
import torch  # noqa: E402

from alm.audio.io import decode_audio_bytes, load_audio  # noqa: E402
from alm.inference import Assistant, SamplingParams  # noqa: E402
from serve.testing import input_audio, running_vllm, text, tone, wav_bytes  # noqa: E402

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
VLLM_PYTHON = Path(os.environ.get("ALM_VLLM_PYTHON", REPO / ".venv-vllm" / "bin" / "python"))


@pytest.fixture(scope="module")
def sound_model(tmp_path_factory) -> Path:
    from alm.checkpoints import resolve_checkpoint
    from alm.model import AlmConfig, AlmForConditionalGeneration
    from alm.model.tagger import SoundTagger
    from alm.processor import AlmProcessor

    source = resolve_checkpoint("alm-tiny")
    config = AlmConfig.from_pretrained(source)
    config.resolve_relative_bases(source)
    config.sound_encoder, config.sound_to_aligner = "builtin:yamnet", True
    model = AlmForConditionalGeneration.from_bases(config, seed=0)
    model.tagger = SoundTagger.load(source).requires_grad_(False)  # alm-tiny's trained tagger alone
    assert model.tagger.settings.sound_block  # the stats it reads do not depend on where YAMNet's frames go
    folder = tmp_path_factory.mktemp("sound") / "alm-tiny-sound-to-aligner"
    model.save_pretrained(folder, processor=AlmProcessor.from_config(config))
    return folder


@pytest.fixture(scope="module")
def vllm_url(sound_model, tmp_path_factory):
    with running_vllm(str(sound_model), "sound", VLLM_PYTHON, tmp_path_factory.mktemp("vllm") / "vllm.log") as url:
        yield url


def test_sound_frames_reach_the_aligner_in_vllm_as_in_the_transformers_engine(sound_model, vllm_url):
    from alm.conversation import Conversation

    assistant = Assistant.load(str(sound_model), dtype=torch.float32)  # vLLM runs float32
    assert assistant.model.config.sound_to_aligner and assistant.model.config.frame_width == 512 + 1024
    client = openai.OpenAI(base_url=vllm_url, api_key="none", max_retries=0, timeout=300)
    speech = decode_audio_bytes(wav_bytes(load_audio(REPO / "examples" / "announcement.flac")))
    # a short tone, and one spanning two Whisper windows, as the server decodes them from the request's 16-bit WAV
    cases = [[decode_audio_bytes(wav_bytes(tone(440, 3.0))), decode_audio_bytes(wav_bytes(tone(2000, 31.0)))],
             [speech]]
    for clips in cases:
        parts = [input_audio(c) for c in clips]
        conv = Conversation([{"role": "user", "content": [{"type": "audio"} for _ in clips]
                              + [{"type": "text", "text": "What do you hear?"}]}], clips)
        assert all(tags for tags in assistant.with_notes(conv).tags)  # the tagger read YAMNet's block
        want = assistant.answer(conv.messages, conv.audios, SamplingParams(max_new_tokens=16))
        resp = client.chat.completions.create(model="sound", max_tokens=16, temperature=0,
                                              messages=[{"role": "user", "content": parts + [text("What do you hear?")]}])
        assert resp.usage.prompt_tokens == want.prompt_tokens  # the same audio tokens and notes
        assert resp.choices[0].message.content.strip() == want.text
