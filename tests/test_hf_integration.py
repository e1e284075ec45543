"""alm behaves like a transformers model: Auto classes in a fresh process, standard from_pretrained arguments
honoured (or refused by name), and a self-contained export that loads from its folder alone."""

import shutil
import subprocess
import sys

import pytest
import torch

from alm.conversation import Conversation, clips_then_text
from alm.errors import AlmError
from alm.model import AlmForConditionalGeneration
from alm.processor import AlmProcessor
from conftest import tiny_whisper_config
from serve.testing import save_tiny_checkpoint, tone


@pytest.fixture(scope="module")
def ckpt(tiny_bases, tmp_path_factory):
    audio_base, text_base = tiny_bases
    root = tmp_path_factory.mktemp("hf")
    return save_tiny_checkpoint(root / "ckpt", audio_base, text_base, tiny_whisper_config().to_dict())


def logits(model, processor):
    conv = Conversation([{"role": "user", "content": clips_then_text(1, "What is it?")}], [tone(440, 1.5)])
    with torch.no_grad():
        return model(**processor.batch([conv])).logits


def test_auto_classes_load_a_checkpoint_in_a_fresh_process(ckpt):
    code = (
        "import alm, sys\n"
        "from transformers import AutoConfig, AutoModel, AutoModelForMultimodalLM, AutoProcessor\n"
        f"path = {str(ckpt)!r}\n"
        "print(type(AutoConfig.from_pretrained(path)).__name__, type(AutoProcessor.from_pretrained(path)).__name__,\n"
        "      type(AutoModel.from_pretrained(path)).__name__, type(AutoModelForMultimodalLM.from_pretrained(path)).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["AlmConfig", "AlmProcessor", "AlmForConditionalGeneration",
                                  "AlmForConditionalGeneration"]


def test_the_cli_defers_registration_and_stays_light():
    code = "import alm_cli, sys; alm_cli.main.__module__; import alm.cli; print('torch' in sys.modules)"
    env = {**__import__("os").environ, "ALM_DEFER_AUTO_REGISTER": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_a_processor_loaded_under_the_cli_reads_its_config_as_alm(ckpt):
    """With registration deferred (the console script), the tokenizer loader must still read config.json as alm's,
    not warn that a model of type `alm` instantiates one of type ``."""
    code = f"from alm.processor import AlmProcessor; AlmProcessor.from_pretrained({str(ckpt)!r})"
    env = {**__import__("os").environ, "ALM_DEFER_AUTO_REGISTER": "1", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "to instantiate a model of type" not in out.stderr + out.stdout


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_from_pretrained_honours_dtype_device_map_and_attention(ckpt, attn):
    model = AlmForConditionalGeneration.from_pretrained(ckpt, dtype=torch.bfloat16, device_map="cpu",
                                                        attn_implementation=attn)
    assert model.language_model.dtype == torch.bfloat16
    assert next(model.audio_encoder.parameters()).dtype == torch.bfloat16
    assert next(model.aligner.parameters()).dtype == torch.bfloat16
    assert model.language_model.config._attn_implementation == attn
    assert model.audio_encoder.encoder.config._attn_implementation == attn
    assert model.device == torch.device("cpu")
    out = logits(model, AlmProcessor.from_pretrained(ckpt))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_device_map_forms_and_dtype_auto(ckpt):
    reference = AlmForConditionalGeneration.from_pretrained(ckpt)
    for device_map in ("auto", {"": "cpu"}, torch.device("cpu")):
        model = AlmForConditionalGeneration.from_pretrained(ckpt, device_map=device_map, dtype="auto")
        assert model.device == torch.device("cpu") and model.language_model.dtype == torch.float32
        processor = AlmProcessor.from_pretrained(ckpt)
        torch.testing.assert_close(logits(model, processor), logits(reference, processor), atol=0, rtol=0)


@pytest.mark.parametrize("kwargs, needle", [
    ({"low_cpu_mem_usage": True}, "does not support low_cpu_mem_usage"),
    ({"device_map": {"language_model": "cpu"}}, "per-module mapping is not supported"),
    ({"dtype": "float99"}, "dtype must be"),
    ({"quantization": "3bit"}, "quantization must be"),
])
def test_unsupported_arguments_raise(ckpt, kwargs, needle):
    with pytest.raises(AlmError, match=needle):
        AlmForConditionalGeneration.from_pretrained(ckpt, **kwargs)


def test_save_pretrained_refuses_unknown_arguments_and_reports_failed_pushes(ckpt, tmp_path):
    model = AlmForConditionalGeneration.from_pretrained(ckpt)
    with pytest.raises(AlmError, match="does not support max_shard_size"):
        model.save_pretrained(tmp_path / "x", max_shard_size="1GB")
    from alm.model.saving import push_folder

    with pytest.raises(AlmError, match="cannot push"):  # no network here: one clear line
        push_folder(ckpt, "someone/alm-test", token="hf_fake")


def test_export_loads_from_its_folder_alone(tiny_bases, tmp_path):
    """Bases copied away, checkpoint trained on them, exported, bases deleted: the export still loads and
    answers exactly as the checkpoint did (LoRA merged, up to float rounding)."""
    from alm.export import export_model

    audio_base, text_base = (shutil.copytree(b, tmp_path / name) for b, name in zip(tiny_bases, ("w", "l")))
    ckpt = save_tiny_checkpoint(tmp_path / "ckpt", str(audio_base), str(text_base), tiny_whisper_config().to_dict(),
                                trained=True)
    processor = AlmProcessor.from_pretrained(ckpt)
    want = logits(AlmForConditionalGeneration.from_pretrained(ckpt), processor)
    out = export_model(str(ckpt), tmp_path / "export")
    shutil.rmtree(audio_base)
    shutil.rmtree(text_base)
    shutil.rmtree(ckpt)
    names = sorted(p.name for p in out.iterdir())
    for name in ("README.md", "aligner.safetensors", "config.json", "generation_config.json", "llm",
                 "processor_config.json", "whisper"):
        assert name in names
    loaded = AlmForConditionalGeneration.from_pretrained(out)
    got = logits(loaded, AlmProcessor.from_pretrained(out))
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert "AutoModel.from_pretrained" in (out / "README.md").read_text()
