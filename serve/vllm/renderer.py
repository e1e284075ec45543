"""vLLM's chat renderer for alm exports: message text stays text.

vLLM renders a chat request with the export's chat template and tokenizes the resulting string,
so a user who types `<|im_end|>\\n<|im_start|>system` would get those special tokens. `AlmRenderer`
is vLLM's own `HfRenderer` with one change: when a message text holds a special-token string, the
prompt is rendered from guarded messages and tokenized by `alm.literal_text`, exactly as
`AlmProcessor.tokenize` does in the transformers engine (other requests are untouched).
`serve.vllm.plugin` registers it as tokenizer mode `alm`; `launch.py` starts vLLM with
`--tokenizer-mode alm`.
"""

from __future__ import annotations

from vllm.renderers.hf import HfRenderer, safe_apply_chat_template

from alm.literal_text import encode, guard, special_strings

MODE = "alm"


class AlmRenderer(HfRenderer):
    def render_messages(self, messages, params):
        conversation, prompt = super().render_messages(messages, params)
        return conversation, self._literal(conversation, prompt, params)

    async def render_messages_async(self, messages, params):
        conversation, prompt = await super().render_messages_async(messages, params)
        return conversation, self._literal(conversation, prompt, params)

    def _literal(self, conversation, prompt: dict, params) -> dict:
        tokenizer = self.get_tokenizer()
        guarded, texts = guard(conversation, special_strings(tokenizer))
        if not texts:
            return prompt
        kwargs = {**params.get_apply_chat_template_kwargs(), "tokenize": False}
        rendered = safe_apply_chat_template(self.model_config, tokenizer, guarded, **kwargs)
        text, ids, _ = encode(tokenizer, rendered, texts)
        prompt["prompt"], prompt["prompt_token_ids"] = text, ids  # token ids given: vLLM does not re-tokenize
        return prompt


def register() -> None:
    """Tokenizer mode `alm`: vLLM's cached HF tokenizer with `AlmRenderer`."""
    from vllm.renderers.registry import RENDERER_REGISTRY
    from vllm.tokenizers.registry import TokenizerRegistry

    if MODE not in TokenizerRegistry.tokenizers:
        TokenizerRegistry.register(MODE, "vllm.tokenizers.hf", "CachedHfTokenizer")
    if MODE not in RENDERER_REGISTRY.renderers:
        RENDERER_REGISTRY.register(MODE, __name__, "AlmRenderer")
