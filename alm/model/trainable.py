"""LoRA on the LLM, and the one function that decides which parameters train."""

from __future__ import annotations

from typing import Literal

from torch import nn

ComponentMode = Literal["frozen", "lora", "train"]
COMPONENT_MODES = ("frozen", "lora", "train")


def is_lora_model(module: nn.Module) -> bool:
    """True for an LLM wrapped with peft adapters (peft is imported only when one could exist)."""
    if not type(module).__module__.startswith("peft"):
        return False
    from peft import PeftModel

    return isinstance(module, PeftModel)


def lora_config(config):
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets), task_type="CAUSAL_LM",
    )


def add_lora(language_model: nn.Module, config):
    """Wrap the LLM with fresh LoRA adapters on `config.lora_targets` (a peft `PeftModel`)."""
    from peft import get_peft_model

    if config.quantization:
        from peft import prepare_model_for_kbit_training

        language_model = prepare_model_for_kbit_training(language_model, use_gradient_checkpointing=False)
    return get_peft_model(language_model, lora_config(config))


def set_trainable(model: nn.Module, encoder: ComponentMode = "frozen", aligner: ComponentMode = "train",
                  llm: ComponentMode = "lora") -> None:
    """Freeze everything, then unfreeze per component: `frozen`, `lora` (adapters only) or `train` (all)."""
    for name, mode in (("encoder", encoder), ("aligner", aligner), ("llm", llm)):
        if mode not in COMPONENT_MODES:
            raise ValueError(f"{name}: mode must be one of {COMPONENT_MODES}, got {mode!r}")
    if encoder == "lora" or aligner == "lora":
        raise ValueError("LoRA applies to the LLM only; the encoder and aligner are 'frozen' or 'train'")
    model.requires_grad_(False)
    if encoder == "train":
        model.audio_encoder.requires_grad_(True)
    if aligner == "train":
        model.aligner.requires_grad_(True)
    if llm == "lora":
        if not is_lora_model(model.language_model):
            raise ValueError("llm='lora' needs a model with LoRA adapters")
        for name, param in model.language_model.named_parameters():
            if "lora_" in name:
                param.requires_grad_(True)
    elif llm == "train":
        model.language_model.requires_grad_(True)


def trainable_parameter_names(model: nn.Module) -> list[str]:
    return [name for name, param in model.named_parameters() if param.requires_grad]
