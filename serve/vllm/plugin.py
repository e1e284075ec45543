"""The `vllm.general_plugins` entry point: teach vLLM (and transformers' Auto classes) the alm model.

vLLM calls `register()` in every process it starts, before it reads a model's config.
"""

ARCHITECTURE = "AlmForConditionalGeneration"


def register() -> None:
    from vllm import ModelRegistry

    from alm.auto import register as register_auto

    register_auto()  # AutoConfig and AutoProcessor: vLLM's front end loads alm's processor from the export
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, "serve.vllm.model:AlmVllmForConditionalGeneration")
    from serve.vllm.renderer import register as register_renderer

    register_renderer()  # tokenizer mode "alm": message text is tokenized literally (serve/vllm/renderer.py)
