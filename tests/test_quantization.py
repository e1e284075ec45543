"""QLoRA: the LLM loaded in 4 or 8 bit through bitsandbytes still trains its aligner and LoRA."""

import pytest
import torch

from alm.conversation import Conversation, audio_part, text_part
from conftest import tone

bnb = pytest.importorskip("bitsandbytes", reason="bitsandbytes (the qlora extra) is not installed")


@pytest.mark.parametrize("bits", ["4bit", "8bit"])
def test_quantized_llm_trains_aligner_and_lora(tiny_model, bits):
    model, processor = tiny_model(quantization=bits)
    quantized = [m for m in model.language_model.modules() if isinstance(m, (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt))]
    assert quantized, "no bitsandbytes layers in the LLM"
    batch = processor.batch([Conversation([{"role": "user", "content": [audio_part(), text_part("?")]},
                                          {"role": "assistant", "content": "bell"}],
                                    [tone(440, 1.0)])], train=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(**batch).loss
    loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for _, p in trainable)
    assert all(n.startswith("aligner.") or "lora_" in n for n, _ in trainable)
