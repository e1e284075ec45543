"""Convert a GGUF causal LM (SmolLM2) into a plain transformers folder with its tokenizer.

transformers de-quantizes GGUF on load but refuses to `save_pretrained` such a model, so the
weights move into a fresh model built from the config without its `quantization_config`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from alm.errors import WeightsError

STEPS = 3  # load GGUF, rebuild, save


def convert_gguf_llm(weights: tuple[Path, ...], extras: dict[str, Path], out_dir: Path,
                     step: Callable[[str], None]) -> None:
    """Write a float32 safetensors folder (model, generation config, tokenizer, chat template)."""
    (gguf,) = weights
    step("de-quantizing GGUF")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if not tokenizer.chat_template:
        raise WeightsError(f"{gguf}: the GGUF carries no chat template")
    step("rebuilding the model")
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = ""
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    del loaded
    step("saving")
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
