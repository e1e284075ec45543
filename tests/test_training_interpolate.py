"""Weight-space interpolation of two models of one lineage (training/interpolate.py)."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from alm.errors import AlmError
from training.interpolate import interpolate_folder


def model_folder(path, lora_scale, labels=("dog", "rain")):
    (path / "lora").mkdir(parents=True)
    save_file({"a": torch.full((2, 3), lora_scale), "b": torch.arange(4.0) * lora_scale,
               "steps": torch.tensor([7])}, str(path / "lora" / "adapter_model.safetensors"))
    save_file({"proj": torch.ones(3)}, str(path / "aligner.safetensors"))  # frozen: the same in both
    (path / "tagger.json").write_text(json.dumps({"labels": list(labels)}))
    (path / "training_record.json").write_text(json.dumps({"stage": str(path.name)}))
    (path / "config.json").write_text(json.dumps({"from": path.name}))
    return path


def test_interpolation_blends_the_weights_that_differ_and_keeps_the_end_models_folder(tmp_path):
    start, end = model_folder(tmp_path / "start", 1.0), model_folder(tmp_path / "end", 3.0)
    blended = interpolate_folder(start, end, tmp_path / "out", alpha=0.25)
    lora = load_file(str(tmp_path / "out" / "lora" / "adapter_model.safetensors"))
    torch.testing.assert_close(lora["a"], torch.full((2, 3), 1.5))  # 0.75 * 1 + 0.25 * 3
    torch.testing.assert_close(lora["b"], torch.arange(4.0) * 1.5)
    assert torch.equal(lora["steps"], torch.tensor([7]))  # integers are not blended
    assert blended == {"aligner.safetensors": 0, "lora/adapter_model.safetensors": 2}
    assert json.loads((tmp_path / "out" / "config.json").read_text()) == {"from": "end"}
    record = json.loads((tmp_path / "out" / "training_record.json").read_text())
    assert record["stage"] == "end" and record["interpolated"]["alpha"] == 0.25


def test_models_of_other_lineages_are_refused_and_nothing_is_written(tmp_path):
    start = model_folder(tmp_path / "start", 1.0)
    other_tags = model_folder(tmp_path / "tags", 2.0, labels=("cat",))
    with pytest.raises(AlmError, match="different labels"):
        interpolate_folder(start, other_tags, tmp_path / "out", alpha=0.5)
    other_shape = model_folder(tmp_path / "shape", 2.0)
    save_file({"proj": torch.ones(4)}, str(other_shape / "aligner.safetensors"))
    with pytest.raises(AlmError, match="names or shapes"):
        interpolate_folder(start, other_shape, tmp_path / "out", alpha=0.5)
    assert not (tmp_path / "out").exists()


def test_an_exported_model_card_says_its_weights_were_interpolated(tmp_path):
    from types import SimpleNamespace

    from alm.export import model_card

    config = SimpleNamespace(speech_transcripts=True, trained=True, sound_tags=False, aligner="mlp")
    record = tmp_path / "training_record.json"
    record.write_text(json.dumps({"stage": "stage4", "steps": 309,
                                  "interpolated": {"from": "alm-tiny", "to": "runs/x", "alpha": 0.5}}))
    card = model_card("m", config, {"audio_base": "w", "text_base": "l"}, record)
    assert "weights interpolated after training: 0.5 of this stage's, the rest of `alm-tiny`'s" in card
    record.write_text(json.dumps({"stage": "stage4"}))
    assert "interpolated" not in model_card("m", config, {"audio_base": "w", "text_base": "l"}, record)
