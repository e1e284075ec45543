"""`AlmForConditionalGeneration`: Whisper encoder -> aligner -> soft prompts spliced into a LoRA LLM.

Shapes (B batch, L text length, W audio windows in the batch, M mel bins, Tm mel frames,
T encoder frames, C encoder width, N tokens per window, D LLM width):
    input_ids (B, L) holding `audio_token_id` once per audio token
    audio_mel (W, M, Tm), audio_mel_lengths (W,)  -- every window of every clip, in prompt order
    encoder:  (W, M, Tm) -> (W, T, C)
    aligner:  (W, T, C)  -> (W, N, D) -> real tokens concatenated (sum N_w, D)
    splice:   inputs_embeds (B, L, D) with the audio positions replaced, in order
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, PreTrainedModel, WhisperModel

from alm.errors import WeightsError
from alm.model.aligners import build_aligner
from alm.model.audio_encoder import WhisperAudioEncoder, padding_mask
from alm.model.configuration import AlmConfig
from alm.model.trainable import add_lora

logger = logging.getLogger(__name__)

ALIGNER_FILE = "aligner.safetensors"
ENCODER_FILE = "audio_encoder.safetensors"
LORA_DIR = "lora"


class AudioTokenMismatch(ValueError):
    """The prompt's audio placeholders and the aligner's outputs differ in number."""


def _resolve(base: str | None, what: str) -> str:
    if not base:
        raise WeightsError(f"the config names no {what} base model")
    from alm.weights import resolve_base

    return resolve_base(base)


def load_audio_encoder(config: AlmConfig, dtype=torch.float32):
    """The Whisper encoder of `config.audio_base` (the decoder is dropped)."""
    path = _resolve(config.audio_base, "audio")
    try:
        whisper = WhisperModel.from_pretrained(path, dtype=dtype)
    except OSError as exc:
        raise WeightsError(f"cannot load audio base {config.audio_base!r}: {str(exc).splitlines()[0]}") from None
    config.audio_config = whisper.config
    return whisper.encoder


def load_language_model(config: AlmConfig, dtype=torch.float32):
    """The causal LM of `config.text_base`, optionally quantized through bitsandbytes."""
    path = _resolve(config.text_base, "text")
    kwargs = {}
    if config.quantization:
        from transformers import BitsAndBytesConfig

        if config.quantization == "4bit":
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
        else:
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
    try:
        llm = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    except OSError as exc:
        raise WeightsError(f"cannot load text base {config.text_base!r}: {str(exc).splitlines()[0]}") from None
    config.text_config = llm.config
    return llm


class AlmForConditionalGeneration(PreTrainedModel):
    config_class = AlmConfig
    base_model_prefix = "alm"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: AlmConfig, audio_encoder=None, language_model=None):
        super().__init__(config)
        config.validate_alm()
        self.audio_encoder = WhisperAudioEncoder(config.audio_config, audio_encoder)
        self.aligner = build_aligner(config)
        self.language_model = (
            language_model if language_model is not None else AutoModelForCausalLM.from_config(config.text_config)
        )
        self.post_init()

    # ----------------------------------------------------------------- building and saving
    @classmethod
    def from_bases(cls, config: AlmConfig, dtype=torch.float32, lora: bool = True, seed: int = 0):
        """A new model: pretrained encoder and LLM from the config's bases, a fresh aligner and LoRA (seeded)."""
        encoder = load_audio_encoder(config, dtype)
        llm = load_language_model(config, dtype)
        with torch.random.fork_rng():  # aligner and LoRA initialisation depend on `seed` alone
            torch.manual_seed(seed)
            model = cls(config, audio_encoder=encoder, language_model=llm)
            if lora:
                model.language_model = add_lora(model.language_model, config)
        model.aligner.to(dtype)
        model.freeze_defaults()
        return model

    def freeze_defaults(self) -> None:
        """Inference / fresh-model default: encoder as configured, aligner and LoRA trainable."""
        from alm.model.trainable import set_trainable

        set_trainable(self, encoder="frozen" if self.config.freeze_encoder else "train", aligner="train",
                      llm="lora" if isinstance(self.language_model, PeftModel) else "frozen")

    def save_pretrained(self, save_directory, processor=None, **_) -> None:
        """Write config, aligner (and the encoder if it was trained), LoRA adapter and tokenizer.

        The base encoder and LLM are named in the config (`audio_base`, `text_base`), not copied.
        Written to a temporary folder, then renamed into place.
        """
        target = Path(save_directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            self.config.save_pretrained(tmp)
            state = {k: v.detach().cpu().contiguous() for k, v in self.aligner.state_dict().items()}
            save_file(state, tmp / ALIGNER_FILE)
            if not self.config.freeze_encoder:
                enc = {k: v.detach().cpu().contiguous() for k, v in self.audio_encoder.state_dict().items()}
                save_file(enc, tmp / ENCODER_FILE)
            if isinstance(self.language_model, PeftModel):
                self.language_model.save_pretrained(tmp / LORA_DIR)
                _name_base_in_adapter(tmp / LORA_DIR, self.config.text_base)
            if processor is not None:
                processor.tokenizer.save_pretrained(tmp)
            if target.exists():
                old = target.with_name(f".{target.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def from_pretrained(cls, name_or_path, dtype=torch.float32, quantization: str | None = None, **_):
        """Load an alm checkpoint: a folder, a Hugging Face id, or a packaged name like `alm-tiny`."""
        from alm.checkpoints import resolve_checkpoint

        path = resolve_checkpoint(str(name_or_path))
        config = AlmConfig.from_pretrained(path)
        if quantization is not None:
            config.quantization = quantization
        model = cls.from_bases(config, dtype=dtype, lora=not (path / LORA_DIR).is_dir())
        if (path / LORA_DIR).is_dir():
            model.language_model = PeftModel.from_pretrained(model.language_model, path / LORA_DIR, is_trainable=True)
        if (path / ALIGNER_FILE).is_file():
            model.aligner.load_state_dict(load_file(path / ALIGNER_FILE))
        elif config.trained:
            raise WeightsError(f"{path}: config says trained but {ALIGNER_FILE} is missing")
        else:
            logger.warning("%s: the aligner is untrained (no %s); answers will not reflect the audio", path, ALIGNER_FILE)
        if (path / ENCODER_FILE).is_file():
            model.audio_encoder.load_state_dict(load_file(path / ENCODER_FILE))
        model.freeze_defaults()
        model.eval()
        return model

    # ----------------------------------------------------------------- forward
    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None, **_):
        self.language_model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs=gradient_checkpointing_kwargs or {"use_reentrant": False})

    def encode_audio(self, audio_mel, audio_mel_lengths, instruction=None) -> torch.Tensor:
        """(W, M, Tm) mel windows -> (sum_w N_w, D) audio tokens in window order."""
        frozen = not any(p.requires_grad for p in self.audio_encoder.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            frames, frame_lengths = self.audio_encoder(audio_mel, audio_mel_lengths)  # W, T, C
        return self.align(frames, frame_lengths, instruction)

    def align(self, frames, frame_lengths, instruction=None) -> torch.Tensor:
        """Encoder frames (W, T, C) -> real aligner tokens (sum_w N_w, D)."""
        tokens, token_lengths = self.aligner(frames, frame_lengths, instruction)  # W, N, D
        return tokens[padding_mask(token_lengths, tokens.shape[1])]  # W, N, D -> sum N_w, D

    def embed_inputs(self, input_ids, audio_mel=None, audio_mel_lengths=None, instruction_ids=None,
                     instruction_mask=None, audio_frames=None, audio_frame_lengths=None) -> torch.Tensor:
        """Token embeddings with every audio placeholder replaced by an aligner output, in order.

        `audio_frames`/`audio_frame_lengths` (precomputed encoder outputs, e.g. from a feature cache)
        may be given instead of `audio_mel`/`audio_mel_lengths`.
        """
        audio_mask = input_ids == self.config.audio_token_id  # B, L
        embed = self.get_input_embeddings()
        inputs_embeds = embed(input_ids.masked_fill(audio_mask, 0))  # B, L -> B, L, D
        num_placeholders = int(audio_mask.sum())
        if audio_mel is None and audio_frames is None:
            if num_placeholders:
                raise AudioTokenMismatch(f"the prompt has {num_placeholders} audio tokens but no audio was given")
            return inputs_embeds
        instruction = None
        if instruction_ids is not None:
            instruction = (embed(instruction_ids), instruction_mask.bool())  # W, Li -> W, Li, D
        if audio_frames is not None:
            tokens = self.align(audio_frames, audio_frame_lengths, instruction)
        else:
            tokens = self.encode_audio(audio_mel, audio_mel_lengths, instruction)  # sum N_w, D
        if tokens.shape[0] != num_placeholders:
            raise AudioTokenMismatch(
                f"the prompt has {num_placeholders} audio tokens but the aligner produced {tokens.shape[0]}")
        return inputs_embeds.masked_scatter(audio_mask[..., None], tokens.to(inputs_embeds.dtype))

    def forward(self, input_ids, attention_mask=None, labels=None, audio_mel=None, audio_mel_lengths=None,
                instruction_ids=None, instruction_mask=None, audio_frames=None, audio_frame_lengths=None, **kwargs):
        inputs_embeds = self.embed_inputs(input_ids, audio_mel, audio_mel_lengths, instruction_ids,
                                          instruction_mask, audio_frames, audio_frame_lengths)
        return self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels, **kwargs)

    @torch.no_grad()
    def generate(self, input_ids, attention_mask=None, audio_mel=None, audio_mel_lengths=None,
                 instruction_ids=None, instruction_mask=None, **generate_kwargs):
        """Returns only the new tokens, (B, new)."""
        inputs_embeds = self.embed_inputs(input_ids, audio_mel, audio_mel_lengths, instruction_ids, instruction_mask)
        return self.language_model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                            **generate_kwargs)


def _name_base_in_adapter(lora_dir: Path, text_base: str | None) -> None:
    """peft records the local path it loaded from; record the portable base name instead."""
    cfg_path = lora_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = text_base
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + os.linesep)
