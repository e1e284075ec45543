"""The `vllm.general_plugins` entry point: teach vLLM (and transformers' AutoConfig) the alm model.

vLLM calls `register()` in every process it starts, before it reads a model's config.
"""

ARCHITECTURE = "AlmForConditionalGeneration"


def register() -> None:
    from transformers import AutoConfig
    from vllm import ModelRegistry

    from alm.model.configuration import AlmConfig

    try:
        AutoConfig.register("alm", AlmConfig)
    except ValueError:  # already registered in this process
        pass
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, "serve.vllm.model:AlmVllmForConditionalGeneration")
