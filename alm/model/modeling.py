"""`AlmForConditionalGeneration`: Whisper encoder -> aligner -> soft prompts spliced into a LoRA LLM.

Shapes (B batch, L text length, W audio windows in the batch, M mel bins, Tm mel frames,
T encoder frames, C frame width (Whisper's, + the sound encoder's E), N tokens per window, D LLM width):
    input_ids (B, L) holding `audio_token_id` once per audio token
    audio_mel (W, M, Tm), audio_mel_lengths (W,)  -- every window of every clip, in prompt order
    sound_features (W, S, F), sound_lengths (W,)  -- the same windows for the sound encoder, if any
    encoder:  (W, M, Tm) -> (W, T, C); sound encoder (W, S, F) -> (W, S', E) -> stretched to (W, T, E)
    aligner:  (W, T, C)  -> (W, N, D) -> real tokens concatenated (sum N_w, D)
    splice:   inputs_embeds (B, L, D) with the audio positions replaced, in order
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, PreTrainedModel, WhisperModel

from alm.errors import AlmError, WeightsError, first_line
from alm.model.aligners import build_aligner
from alm.model.audio_encoder import WhisperAudioEncoder, padding_mask, window_stats
from alm.model.configuration import AlmConfig
from alm.model.loading import LoadOptions, load_options
from alm.model.sound_encoder import load_sound_encoder, sound_encoder_for_config, sound_frames_on_grid
from alm.model.tagger import TAGGER_FILE, SoundTagger, pool_clips, with_sound_frames
from alm.model.trainable import add_lora, is_lora_model

logger = logging.getLogger(__name__)

ALIGNER_FILE = "aligner.safetensors"
ENCODER_FILE = "audio_encoder.safetensors"
LORA_DIR = "lora"
# the audio inputs of `embed_inputs`, as the processor names them
AUDIO_INPUTS = ("audio_mel", "audio_mel_lengths", "instruction_ids", "instruction_mask", "audio_frames",
                "audio_frame_lengths", "sound_features", "sound_lengths")


class AudioTokenMismatch(ValueError):
    """The prompt's audio placeholders and the aligner's outputs differ in number."""


def _resolve(base: str | None, what: str) -> str:
    if not base:
        raise WeightsError(f"the config names no {what} base model")
    from alm.weights import resolve_base

    return resolve_base(base)


def load_audio_encoder(config: AlmConfig, options: LoadOptions | None = None):
    """The Whisper encoder of `config.audio_base` (the decoder is dropped)."""
    options = options or LoadOptions()
    path = _resolve(config.audio_base, "audio")
    try:
        whisper = WhisperModel.from_pretrained(path, dtype=options.dtype, **options.base_kwargs())
    except (OSError, ValueError, ImportError) as exc:
        raise WeightsError(f"cannot load audio base {config.audio_base!r}: {first_line(exc)}") from None
    config.audio_config = whisper.config
    return whisper.encoder


def load_language_model(config: AlmConfig, options: LoadOptions | None = None):
    """The causal LM of `config.text_base`, optionally quantized through bitsandbytes, placed per `device_map`."""
    options = options or LoadOptions()
    path = _resolve(config.text_base, "text")
    kwargs = options.base_kwargs()
    if options.device_map is not None:
        kwargs["device_map"] = options.device_map
    if config.quantization:
        from transformers import BitsAndBytesConfig

        if config.quantization == "4bit":
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)
        else:
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
    try:
        llm = AutoModelForCausalLM.from_pretrained(path, dtype=options.dtype, **kwargs)
    except (OSError, ValueError, ImportError) as exc:
        raise WeightsError(f"cannot load text base {config.text_base!r}: {first_line(exc)}") from None
    config.text_config = llm.config
    return llm


class AlmForConditionalGeneration(PreTrainedModel):
    config_class = AlmConfig
    base_model_prefix = "alm"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: AlmConfig, audio_encoder=None, language_model=None, sound_encoder=None):
        super().__init__(config)
        if config.sound_encoder and sound_encoder is None:
            sound_encoder = sound_encoder_for_config(config.sound_encoder)  # weights loaded after (from_bases, vLLM)
            config.sound_width = sound_encoder.width
        config.validate_alm()
        self.audio_encoder = WhisperAudioEncoder(config.audio_config, audio_encoder)
        self.sound_encoder = sound_encoder
        if sound_encoder is not None:  # frozen, its weights loaded: post_init would initialise its plain torch layers anew
            for module in sound_encoder.modules():
                module._is_hf_initialized = True
        self.tagger: SoundTagger | None = None  # set by from_pretrained or training (`training.tagger`)
        self.aligner = build_aligner(config)
        self.language_model = (
            language_model if language_model is not None else AutoModelForCausalLM.from_config(config.text_config)
        )
        self.post_init()

    # ----------------------------------------------------------------- building and saving
    @classmethod
    def from_bases(cls, config: AlmConfig, dtype=torch.float32, lora: bool = True, seed: int = 0,
                   options: LoadOptions | None = None):
        """A new model: pretrained encoder and LLM from the config's bases, a fresh aligner and LoRA (seeded).

        `options` (dtype, device_map, attn_implementation, hub arguments) apply to both bases; without it
        everything loads in `dtype` on the CPU."""
        options = options or LoadOptions(dtype=dtype)
        encoder = load_audio_encoder(config, options)
        llm = load_language_model(config, options)
        sound = None
        if config.sound_encoder:
            hub = {k: v for k, v in options.base_kwargs().items() if k != "attn_implementation"}
            sound = load_sound_encoder(config.sound_encoder, options.dtype, hub)
            config.sound_width = sound.width
        with torch.random.fork_rng():  # aligner and LoRA initialisation depend on `seed` alone
            torch.manual_seed(seed)
            model = cls(config, audio_encoder=encoder, language_model=llm, sound_encoder=sound)
            if lora:
                model.language_model = add_lora(model.language_model, config)
        model.aligner.to(options.dtype)
        model.place_audio_modules()
        model.freeze_defaults()
        return model

    def place_audio_modules(self) -> None:
        """Encoder and aligner on the device of the LLM's input embeddings (where the soft prompts go)."""
        device = self.get_input_embeddings().weight.device
        if device.type != "meta":
            for module in (self.audio_encoder, self.sound_encoder, self.aligner):
                if module is not None:
                    module.to(device)

    def freeze_defaults(self) -> None:
        """Inference / fresh-model default: encoder as configured, aligner and LoRA trainable."""
        from alm.model.trainable import set_trainable

        set_trainable(self, encoder="frozen" if self.config.freeze_encoder else "train", aligner="train",
                      llm="lora" if is_lora_model(self.language_model) else "frozen")

    def save_pretrained(self, save_directory, processor=None, is_main_process: bool = True,
                        push_to_hub: bool = False, **push_kwargs) -> None:
        """Write config, aligner (and the encoder if it was trained), LoRA adapter and the processor.

        The base encoder and LLM are named in the config (`audio_base`, `text_base`), not copied (for a
        folder that holds every weight, see `alm export`). Written to a temporary folder, then renamed
        into place. `push_to_hub=True` then uploads the folder (`repo_id` defaults to its name; `token`,
        `private`, `commit_message` are passed to the Hub)."""
        from alm.model.saving import push_folder, write_checkpoint

        unknown = set(push_kwargs) - {"repo_id", "token", "private", "commit_message", "revision", "create_pr"}
        if unknown:
            raise AlmError(f"save_pretrained does not support {', '.join(sorted(unknown))}; it writes the config, "
                           "aligner, LoRA adapter and processor (see `alm export` for a self-contained folder)")
        if not is_main_process:
            return
        write_checkpoint(self, Path(save_directory), processor)
        if push_to_hub:
            push_folder(Path(save_directory), **push_kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """Load an alm checkpoint: a folder, a Hugging Face id, or a packaged name like `alm-tiny`.

        Takes transformers' standard arguments that apply here: `dtype` ("auto" = the dtype the checkpoint
        records), `device_map` (a device, "auto", or {"": device}), `attn_implementation`, `quantization`
        ("4bit" / "8bit" through bitsandbytes), `config`, and the hub arguments `revision`, `token`,
        `cache_dir`, `local_files_only`, `force_download`, `proxies`, `subfolder`. Any other argument raises.
        """
        if model_args:
            raise AlmError("AlmForConditionalGeneration.from_pretrained takes no positional arguments after the path")
        options = load_options(kwargs)
        from alm.checkpoints import resolve_checkpoint

        path = resolve_checkpoint(str(pretrained_model_name_or_path), **options.checkpoint_kwargs())
        config = options.config if options.config is not None else AlmConfig.from_pretrained(path)
        config.resolve_relative_bases(path)
        if options.quantization is not None:
            config.quantization = options.quantization
        if options.dtype_is_auto:
            options.dtype = config.dtype if isinstance(config.dtype, torch.dtype) else torch.float32
        has_lora = (path / LORA_DIR).is_dir()
        model = cls.from_bases(config, lora=not has_lora, options=options)
        if has_lora:
            from peft import PeftModel

            model.language_model = PeftModel.from_pretrained(model.language_model, path / LORA_DIR, is_trainable=True)
        if (path / ALIGNER_FILE).is_file():
            model.aligner.load_state_dict(load_file(path / ALIGNER_FILE))
        elif config.trained:
            raise WeightsError(f"{path}: config says trained but {ALIGNER_FILE} is missing")
        else:
            logger.warning("%s: the aligner is untrained (no %s); answers will not reflect the audio", path, ALIGNER_FILE)
        if (path / ENCODER_FILE).is_file():
            model.audio_encoder.load_state_dict(load_file(path / ENCODER_FILE))
        if (path / TAGGER_FILE).is_file():
            model.tagger = SoundTagger.load(path).to(options.dtype).requires_grad_(False)
        elif config.sound_tags:
            raise WeightsError(f"{path}: config says sound_tags but {TAGGER_FILE} is missing")
        model.place_audio_modules()
        model.freeze_defaults()
        model.eval()
        return model

    # ----------------------------------------------------------------- forward
    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None, **_):
        self.language_model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs=gradient_checkpointing_kwargs or {"use_reentrant": False})

    def encode_frames(self, audio_mel, audio_mel_lengths, sound_features=None, sound_lengths=None):
        """(W, M, Tm) mel windows -> frames (W, T, C) and their lengths (W,): Whisper's frames, with the sound
        encoder's (W, S, E) stretched onto them and concatenated when the model has one (C = frame_width)."""
        frames, frame_lengths, _ = self.encode_windows(audio_mel, audio_mel_lengths, sound_features, sound_lengths)
        return frames, frame_lengths

    def encode_windows(self, audio_mel, audio_mel_lengths, sound_features=None, sound_lengths=None,
                       tag_stats: bool = False):
        """`encode_frames`, and with `tag_stats` (a model with a tagger) the windows' stats its tagger reads,
        (W, K, 2C) (`alm.model.tagger`), from the same pass; else None."""
        if tag_stats and self.tagger is None:
            raise AlmError("this model has no sound tagger")
        layers = self.tagger.settings.layers if tag_stats else 0
        to_aligner = self.config.sound_to_aligner
        frames_with_sound = layers == 1 and self.sound_encoder is not None and to_aligner  # a one-layer tagger reads both
        if tag_stats and not to_aligner and not self.tagger.settings.sound_block:
            raise AlmError("sound_to_aligner false: the sound encoder feeds only the tagger, so the tagger must read it "
                           "as a block (sound_block) beside several Whisper layers")
        frozen = not any(p.requires_grad for p in self.audio_encoder.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            frames, frame_lengths, stats = self.audio_encoder.encode(  # W, T, C; W, K, 2C
                audio_mel, audio_mel_lengths, 0 if frames_with_sound else layers)
        if self.sound_encoder is not None and (to_aligner or tag_stats):  # tagger-only: run it for the tags alone
            if sound_features is None:
                raise AudioTokenMismatch("this model has a sound encoder: give sound_features (the processor makes "
                                         "them)")
            sound = sound_frames_on_grid(self.sound_encoder, sound_features, sound_lengths, frame_lengths,
                                         frames.shape[1])  # W, S, E -> W, T, E (always frozen)
            if tag_stats and self.tagger.settings.sound_block:  # W, K, 2C -> W, K + 1, 2W
                stats = with_sound_frames(stats, sound, frame_lengths)
            if to_aligner:
                frames = torch.cat([frames, sound.to(frames.dtype)], dim=-1)  # W, T, C + E
        if frames_with_sound:
            stats = window_stats(frames, frame_lengths)[:, None]  # W, 1, 2C
        return frames, frame_lengths, stats

    @torch.no_grad()
    def clip_probabilities(self, stats, frame_lengths, windows_per_clip: list[int]) -> torch.Tensor:
        """The tagger's (A, L) label probabilities of each clip from its windows' stats and frame counts
        (`encode_windows`)."""
        if self.tagger is None:
            raise AlmError("this model has no sound tagger")
        return self.tagger.clip_probabilities(pool_clips(stats.float(), frame_lengths, windows_per_clip))

    def clip_tags(self, stats, frame_lengths, windows_per_clip: list[int]) -> list[list[tuple[str, float]]]:
        """The tagger's top labels of each clip from its windows' stats and frame counts (`encode_windows`)."""
        return self.tagger.top_tags(self.clip_probabilities(stats, frame_lengths, windows_per_clip))

    def align(self, frames, frame_lengths, instruction=None) -> torch.Tensor:
        """Encoder frames (W, T, C) -> real aligner tokens (sum_w N_w, D)."""
        tokens, token_lengths = self.aligner(frames, frame_lengths, instruction)  # W, N, D
        return tokens[padding_mask(token_lengths, tokens.shape[1])]  # W, N, D -> sum N_w, D

    def embed_inputs(self, input_ids, audio_mel=None, audio_mel_lengths=None, instruction_ids=None,
                     instruction_mask=None, audio_frames=None, audio_frame_lengths=None, sound_features=None,
                     sound_lengths=None) -> torch.Tensor:
        """Token embeddings with every audio placeholder replaced by an aligner output, in order.

        `audio_frames`/`audio_frame_lengths` (precomputed `encode_frames` outputs, e.g. from a feature cache)
        may be given instead of the mel and sound features.
        """
        audio_mask = input_ids == self.config.audio_token_id  # B, L
        embed = self.get_input_embeddings()
        inputs_embeds = embed(input_ids.masked_fill(audio_mask, 0))  # B, L -> B, L, D
        num_placeholders = int(audio_mask.sum())
        if (audio_mel is None and audio_frames is None) or self.config.aligner == "none":  # none: clips are notes
            if num_placeholders:
                raise AudioTokenMismatch(f"the prompt has {num_placeholders} audio tokens but no audio was given")
            return inputs_embeds
        instruction = None
        if instruction_ids is not None:
            instruction = (embed(instruction_ids), instruction_mask.bool())  # W, Li -> W, Li, D
        if audio_frames is None:
            audio_frames, audio_frame_lengths = self.encode_frames(audio_mel, audio_mel_lengths, sound_features,
                                                                   sound_lengths)
        tokens = self.align(audio_frames, audio_frame_lengths, instruction)  # sum N_w, D
        if tokens.shape[0] != num_placeholders:
            raise AudioTokenMismatch(
                f"the prompt has {num_placeholders} audio tokens but the aligner produced {tokens.shape[0]}")
        return inputs_embeds.masked_scatter(audio_mask[..., None], tokens.to(inputs_embeds.dtype))

    def forward(self, input_ids, attention_mask=None, labels=None, **kwargs):
        """`kwargs`: the audio inputs of `embed_inputs` (as the processor names them); the rest go to the LLM."""
        audio = {k: kwargs.pop(k) for k in AUDIO_INPUTS if k in kwargs}
        inputs_embeds = self.embed_inputs(input_ids, **audio)
        return self.language_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, labels=labels, **kwargs)

    @torch.no_grad()
    def generate(self, input_ids, attention_mask=None, **kwargs):
        """Returns only the new tokens, (B, new). `kwargs`: audio inputs, then generation settings."""
        audio = {k: kwargs.pop(k) for k in AUDIO_INPUTS if k in kwargs}
        inputs_embeds = self.embed_inputs(input_ids, **audio)
        return self.language_model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)
