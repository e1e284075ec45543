"""Shared fixtures: tiny random bases (Whisper + Llama) saved to disk, and tiny alm models on them."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, WhisperConfig, WhisperModel  # noqa: E402

from serve.testing import tone  # noqa: E402, F401 - the one test tone, shared with the server tests

ASSETS = Path(__file__).parent / "assets"
TINY_TOKENIZER = ASSETS / "tiny-tokenizer"


def tiny_whisper_config() -> WhisperConfig:
    return WhisperConfig(
        vocab_size=64, num_mel_bins=80, d_model=32, encoder_layers=2, encoder_attention_heads=4,
        decoder_layers=1, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_source_positions=1500, max_target_positions=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        decoder_start_token_id=1,
        init_std=0.3,  # large enough that random conv weights pass input differences through
    )


def tiny_llama_config(vocab_size: int) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=0, eos_token_id=2, pad_token_id=0, tie_word_embeddings=True,
        initializer_range=0.3,  # large enough embeddings for confident logits at width 64
    )


@pytest.fixture(scope="session")
def tiny_bases(tmp_path_factory) -> tuple[str, str]:
    """(audio_base, text_base) folders holding tiny random Whisper and Llama checkpoints."""
    root = tmp_path_factory.mktemp("bases")
    torch.manual_seed(0)
    WhisperModel(tiny_whisper_config()).save_pretrained(root / "whisper")
    tokenizer = AutoTokenizer.from_pretrained(TINY_TOKENIZER)
    LlamaForCausalLM(tiny_llama_config(len(tokenizer))).save_pretrained(root / "llama")
    tokenizer.save_pretrained(root / "llama")
    return str(root / "whisper"), str(root / "llama")


@pytest.fixture
def tiny_config(tiny_bases):
    from alm.model import AlmConfig

    def make(**overrides):
        audio_base, text_base = tiny_bases
        fields = dict(audio_config=tiny_whisper_config().to_dict(), text_base=text_base, audio_base=audio_base,
                      aligner_hidden=64, qformer_queries=4, qformer_heads=4, qformer_layers=1,
                      lora_targets=["q_proj", "v_proj"])
        fields.update(overrides)
        return AlmConfig(**fields)

    return make


@pytest.fixture
def tiny_model(tiny_config):
    """(model, processor) built from the tiny bases with a fresh aligner and LoRA."""
    from alm.model import AlmForConditionalGeneration
    from alm.processor import AlmProcessor

    def make(**overrides):
        config = tiny_config(**overrides)
        processor = AlmProcessor.from_config(config)
        model = AlmForConditionalGeneration.from_bases(config)
        return model, processor

    return make

