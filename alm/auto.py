"""alm in transformers' Auto classes: `AutoConfig`, `AutoModel`, `AutoModelForMultimodalLM`, `AutoProcessor`.

`import alm` calls `register()`, so in a fresh process
`AutoProcessor.from_pretrained(ckpt)` and `AutoModel.from_pretrained(ckpt)` load an alm checkpoint.
(The `alm` console script defers this until a command loads a model, so `alm --help` stays instant.)
"""

from __future__ import annotations

_registered = False


def register() -> None:
    """Register alm's config, model and processor with the Auto classes (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers import AutoConfig, AutoModel, AutoModelForMultimodalLM, AutoProcessor

    from alm.model.configuration import AlmConfig
    from alm.model.modeling import AlmForConditionalGeneration
    from alm.processor import AlmProcessor

    AutoConfig.register(AlmConfig.model_type, AlmConfig, exist_ok=True)
    for auto_class in (AutoModel, AutoModelForMultimodalLM):
        auto_class.register(AlmConfig, AlmForConditionalGeneration, exist_ok=True)
    AutoProcessor.register(AlmConfig, AlmProcessor, exist_ok=True)
    _registered = True
