"""The vLLM export (no vLLM needed): merged LoRA weights, chat template, launcher command and errors."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, LlamaForCausalLM

from alm.conversation import Conversation
from alm.model import AlmForConditionalGeneration, num_audio_tokens
from alm.processor import AlmProcessor
from conftest import tiny_whisper_config
from serve.testing import save_tiny_checkpoint, tone


@pytest.fixture(scope="module")
def exported(tiny_bases, tmp_path_factory):
    from serve.vllm.export import export_for_vllm

    audio_base, text_base = tiny_bases
    root = tmp_path_factory.mktemp("vllm-export")
    ckpt = save_tiny_checkpoint(root / "ckpt", audio_base, text_base, tiny_whisper_config().to_dict())
    return ckpt, export_for_vllm(str(ckpt), root / "out", max_audio_seconds=45)


def test_merged_llm_matches_the_lora_model(exported):
    ckpt, out = exported
    model = AlmForConditionalGeneration.from_pretrained(ckpt)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["AlmForConditionalGeneration"] and config["max_audio_seconds"] == 45
    state = load_file(out / "model.safetensors")
    assert any(k.startswith("audio_encoder.") for k in state) and any(k.startswith("aligner.") for k in state)
    assert not any("lora_" in k for k in state)
    llm = LlamaForCausalLM(model.language_model.base_model.model.config)
    llm_state = {k.removeprefix("language_model."): v for k, v in state.items() if k.startswith("language_model.")}
    missing, unexpected = llm.load_state_dict(llm_state, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}  # tied to the embeddings
    llm.tie_weights()
    ids = torch.tensor([[1, 5, 9, 13, 17, 21]])
    with torch.no_grad():
        want = model.language_model(input_ids=ids).logits
        got = llm.eval()(input_ids=ids).logits
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    aligner = {k.removeprefix("aligner."): v for k, v in state.items() if k.startswith("aligner.")}
    for k, v in model.aligner.state_dict().items():
        torch.testing.assert_close(aligner[k], v)


def test_export_renders_and_expands_prompts_as_the_processor(exported):
    """vLLM renders content parts with the export's chat template ("openai" content format: audio parts arrive as
    {"type": "audio"}) and expands each audio token with the export's processor: the transformers engine's ids."""
    from transformers import AutoProcessor

    ckpt, out = exported
    model = AlmForConditionalGeneration.from_pretrained(ckpt)
    processor = AlmProcessor.from_pretrained(ckpt)
    vllm_processor = AutoProcessor.from_pretrained(out)  # what vLLM's front end loads
    assert type(vllm_processor) is AlmProcessor and vllm_processor.max_audio_seconds == 45
    clips = [tone(440, 2.0), tone(880, 1.0)]
    messages = [{"role": "user", "content": [{"type": "audio"}, {"type": "audio"}, {"type": "text", "text": "Which?"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "The first."}]},
                {"role": "user", "content": [{"type": "text", "text": "Sure?"}]}]
    tok = AutoTokenizer.from_pretrained(out)
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert model.config.system_prompt in prompt
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    audio_id = tok.convert_tokens_to_ids("<|audio|>")
    counts = iter(num_audio_tokens(len(c), vllm_processor.spec) for c in clips)
    expanded = []
    for i in ids:  # what vLLM's PromptReplacement does
        expanded += [audio_id] * next(counts) if i == audio_id else [i]
    want = processor.batch([Conversation(messages, clips)])["input_ids"][0].tolist()
    assert expanded == want


def test_launcher_command_and_missing_venv(tmp_path):
    from alm.cli import main
    from serve.vllm.launch import is_cpu_build, vllm_command

    cmd = vllm_command(tmp_path / "python", tmp_path / "model", "m", "127.0.0.1", 9000, api_key="k", cpu=True)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    for flag in ("--chat-template-content-format", "--api-key", "--gpu-memory-utilization"):
        assert flag in cmd
    assert cmd[cmd.index("--chat-template-content-format") + 1] == "openai"
    assert not is_cpu_build(tmp_path / "bin" / "python")
    assert main(["serve", "--engine", "vllm", "--vllm-python", str(tmp_path / "none" / "python")]) == 1


def test_a_tag_reading_model_exports_with_its_tagger(exported, tmp_path):
    from alm.model.tagger import SoundTagger, TaggerSettings
    from serve.vllm.export import TAGGER_DIR, export_for_vllm

    ckpt, _ = exported
    model = AlmForConditionalGeneration.from_pretrained(ckpt)
    width = model.config.frame_width
    model.tagger = SoundTagger(TaggerSettings(labels=["dog", "rain"], width=width, top_k=1, threshold=0.0))
    model.config.sound_tags = True
    model.save_pretrained(tmp_path / "tags")
    AlmProcessor.from_pretrained(ckpt).save_pretrained(tmp_path / "tags")
    out = export_for_vllm(str(tmp_path / "tags"), tmp_path / "out")
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["model.safetensors"]  # all vLLM loads
    exported_tagger = SoundTagger.load(out / TAGGER_DIR)  # what the plugin's front end tags with (serve.vllm.model.clip_tags)
    assert exported_tagger.settings.labels == ["dog", "rain"]
    for key, value in model.tagger.state_dict().items():
        assert torch.equal(exported_tagger.state_dict()[key], value)
    assert json.loads((out / "config.json").read_text())["sound_tags"] is True


def test_a_model_with_a_sound_encoder_for_its_tagger_alone_exports_it_for_the_front_end(exported, tmp_path):
    """`sound_to_aligner: false` (scripts/tagger_swap.py): vLLM runs the aligner on Whisper's frames as for any model,
    and the front end tags with the exported sound encoder beside the tagger (serve.vllm.model.clip_tags)."""
    from transformers import AutoProcessor

    from alm.export import SOUND_DIR
    from alm.model.sound_encoder import load_sound_encoder
    from alm.model.tagger import SoundTagger, TaggerSettings
    from alm.model.yamnet import Yamnet, save_yamnet
    from serve.vllm.export import export_for_vllm

    ckpt, _ = exported
    torch.manual_seed(0)
    (tmp_path / "yamnet").mkdir()
    save_yamnet(Yamnet().state_dict(), [f"class {i}" for i in range(521)], tmp_path / "yamnet")
    model = AlmForConditionalGeneration.from_pretrained(ckpt)
    layers = model.config.audio_config.encoder_layers
    model.tagger = SoundTagger(TaggerSettings(labels=["dog", "rain"], width=1024, layers=layers, sound_block=True))
    model.sound_encoder = load_sound_encoder(str(tmp_path / "yamnet"))
    model.config.update({"sound_tags": True, "sound_encoder": str(tmp_path / "yamnet"), "sound_width": 1024,
                         "sound_to_aligner": False})
    model.save_pretrained(tmp_path / "tags")
    processor = AlmProcessor.from_pretrained(ckpt)
    processor.sound_encoder = str(tmp_path / "yamnet")
    processor.save_pretrained(tmp_path / "tags")
    out = export_for_vllm(str(tmp_path / "tags"), tmp_path / "out")
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["model.safetensors"]  # all vLLM loads
    saved = json.loads((out / "config.json").read_text())
    assert saved["sound_encoder"] == f"./{SOUND_DIR}" and saved["sound_to_aligner"] is False
    front = AutoProcessor.from_pretrained(out)  # what vLLM's front end loads: it makes YAMNet's features
    assert front.sound_features.kind == "yamnet"
    exported_sound = load_sound_encoder(str(out / SOUND_DIR))
    for key, value in model.sound_encoder.state_dict().items():
        assert torch.equal(exported_sound.state_dict()[key], value)


def test_a_model_whose_sound_encoder_feeds_the_aligner_exports_it_and_the_wider_aligner(tiny_bases, tmp_path):
    """`sound_to_aligner` (SALMONN's pairing): the plugin's front end runs the exported sound encoder and sends its
    frames beside the mel (serve.vllm.model.sound_frames); the exported aligner reads Whisper's and its width."""
    from transformers import AutoProcessor

    from alm.export import SOUND_DIR
    from alm.model.sound_encoder import load_sound_encoder
    from alm.model.yamnet import Yamnet, save_yamnet
    from serve.vllm.export import export_for_vllm

    torch.manual_seed(0)
    (tmp_path / "yamnet").mkdir()
    save_yamnet(Yamnet().state_dict(), [f"class {i}" for i in range(521)], tmp_path / "yamnet")
    audio_base, text_base = tiny_bases
    ckpt = save_tiny_checkpoint(tmp_path / "ckpt", audio_base, text_base, tiny_whisper_config().to_dict(),
                                sound_encoder=str(tmp_path / "yamnet"))
    out = export_for_vllm(str(ckpt), tmp_path / "out")
    saved = json.loads((out / "config.json").read_text())
    assert saved["sound_encoder"] == f"./{SOUND_DIR}" and saved["sound_to_aligner"] is True
    whisper = saved["audio_config"]["d_model"]
    norm = load_file(out / "model.safetensors")["aligner.norm.weight"]  # over aligner_stack frames of C + E
    assert norm.shape == ((whisper + 1024) * saved["aligner_stack"],)
    assert AutoProcessor.from_pretrained(out).sound_features.kind == "yamnet"
    model = AlmForConditionalGeneration.from_pretrained(ckpt)
    exported_sound = load_sound_encoder(str(out / SOUND_DIR))
    for key, value in model.sound_encoder.state_dict().items():
        assert torch.equal(exported_sound.state_dict()[key], value)


@pytest.mark.parametrize("field, value, named", [("aligner", "none", "aligner none")])
def test_a_model_the_plugin_cannot_run_is_refused_from_its_config_with_a_clear_error(exported, tmp_path, field, value,
                                                                                     named):
    from alm.errors import AlmError
    from serve.vllm import export

    ckpt = shutil.copytree(exported[0], tmp_path / "ckpt")
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, field: value}))
    with pytest.raises(AlmError, match=f"{named}.*transformers engine"):
        export.export_for_vllm(str(ckpt), tmp_path / "out")
    assert not (tmp_path / "out").exists()
