"""`AlmConfig`: the whole model in one transformers config.

An alm model is three parts, each named here:
- the audio encoder: a Whisper encoder (`audio_config`), whose weights come from `audio_base`;
- the aligner: turns encoder frames into LLM-sized soft prompts (`aligner*` fields);
- the LLM: a causal LM (`text_config`) from `text_base`, tuned with LoRA (`lora_*` fields).

`audio_base` / `text_base` are Hugging Face ids, local folders, or built-in offline names such as
`builtin:whisper-base`; a saved alm checkpoint names them instead of copying their weights.
"""

from __future__ import annotations

from typing import Literal

from transformers import AutoConfig, PreTrainedConfig
from transformers.models.auto import CONFIG_MAPPING

ALIGNERS = ("mlp", "qformer", "pool", "none")


class AlmConfig(PreTrainedConfig):
    model_type = "alm"
    sub_configs = {"audio_config": AutoConfig, "text_config": AutoConfig}

    audio_config: dict | PreTrainedConfig | None = None  # Whisper config (only the encoder is used)
    text_config: dict | PreTrainedConfig | None = None  # causal LM config
    audio_base: str | None = None  # where the Whisper weights come from (id, folder or builtin:NAME)
    text_base: str | None = None  # where the LLM weights (and tokenizer) come from
    sound_encoder: str | None = None  # a general-sound encoder beside Whisper: builtin:aisfx, or AST, CLAP, wav2vec2...
    sound_width: int | None = None  # its frame width (set when it is loaded)
    sound_to_aligner: bool = True  # False: its frames reach only the sound tagger (one more block of the stats it reads,
    # `alm.model.tagger.with_sound_block`), not the aligner: the LLM hears it through the tags alone

    aligner: Literal["mlp", "qformer", "pool", "none"] = "mlp"  # how frames become LLM tokens; none: no soft prompts,
    # the LLM reads only each clip's notes (transcript, sound tags): a cascade
    aligner_stack: int = 8  # mlp: neighbouring encoder frames stacked into one token (50 Hz / 8 = 6.25 tokens/s)
    aligner_hidden: int = 1024  # mlp: hidden width
    pool_stride: int = 16  # pool: encoder frames averaged into one token
    qformer_queries: int = 32  # qformer: learnable queries = tokens per 30 s window
    qformer_layers: int = 2  # qformer: transformer decoder layers
    qformer_heads: int = 8  # qformer: attention heads (must divide the encoder width)
    instruction_aware: bool = False  # qformer: queries also attend to the question text (APT)

    audio_token: str = "<|audio|>"  # one placeholder token per aligner output
    audio_token_id: int | None = None  # set once the tokenizer has the token
    window_seconds: float = 30.0  # Whisper's receptive field; longer audio is encoded in windows
    max_audio_seconds: float = 600.0  # longer clips are rejected with a clear error
    freeze_encoder: bool = True  # Whisper stays frozen unless a recipe says otherwise

    lora_r: int = 8  # LoRA rank
    lora_alpha: int = 16  # LoRA scale numerator (the update is scaled by alpha / r)
    lora_dropout: float = 0.05  # dropout on the LoRA input
    lora_targets: list[str] | None = None  # module names; None -> ["q_proj", "v_proj"] (LTU)
    quantization: Literal["4bit", "8bit"] | None = None  # load the LLM through bitsandbytes (QLoRA)

    system_prompt: str = (  # given when a conversation brings none
        "You are alm, an assistant that listens to audio clips and answers questions about them. "
        "Answer from what you hear; say so when you cannot tell."
    )
    speech_transcripts: bool = False  # give the LLM a Whisper transcript of each clip (LTU-AS)
    no_speech_gate: float | None = None  # a window whose Whisper no-speech probability is above this gets no transcript
    sound_tags: bool = False  # give the LLM the sound tagger's top labels of each clip (a stage fits the tagger)
    trained: bool = False  # False until an aligner has been trained for this config

    def __post_init__(self, **kwargs):
        if isinstance(self.audio_config, dict):
            self.audio_config = CONFIG_MAPPING[self.audio_config.get("model_type", "whisper")](**self.audio_config)
        elif self.audio_config is None:
            self.audio_config = CONFIG_MAPPING["whisper"]()
        if isinstance(self.text_config, dict):
            self.text_config = CONFIG_MAPPING[self.text_config.get("model_type", "llama")](**self.text_config)
        elif self.text_config is None:
            self.text_config = CONFIG_MAPPING["llama"]()
        if self.lora_targets is None:
            self.lora_targets = ["q_proj", "v_proj"]
        super().__post_init__(**kwargs)

    @property
    def frame_width(self) -> int:
        """Width of the frames the aligner takes: Whisper's, plus the sound encoder's when there is one and it feeds
        the aligner."""
        return self.audio_config.d_model + ((self.sound_width or 0) if self.sound_to_aligner else 0)

    def resolve_relative_bases(self, folder) -> None:
        """Bases written as `./NAME` (a self-contained export) are folders inside the checkpoint `folder`."""
        from pathlib import Path

        for name in ("audio_base", "text_base", "sound_encoder"):
            value = getattr(self, name)
            if isinstance(value, str) and value.startswith("./"):
                setattr(self, name, str(Path(folder) / value[2:]))

    def validate_alm(self) -> None:
        """Checks that cannot be expressed as types; raises ValueError with the field named."""
        if self.aligner not in ALIGNERS:
            raise ValueError(f"aligner must be one of {ALIGNERS}, got {self.aligner!r}")
        if self.aligner == "none" and not (self.speech_transcripts or self.sound_tags):
            raise ValueError("aligner none gives the LLM no audio tokens: it hears a clip only through its notes, so "
                             "set speech_transcripts or sound_tags")
        if not self.sound_to_aligner and not (self.sound_encoder and self.sound_tags):
            raise ValueError("sound_to_aligner false sends a sound encoder's frames to the sound tagger alone: it needs "
                             "sound_encoder and sound_tags")
        for name in ("aligner_stack", "pool_stride", "qformer_queries", "qformer_layers", "lora_r"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.frame_width % self.qformer_heads and self.aligner == "qformer":
            raise ValueError(f"qformer_heads={self.qformer_heads} must divide the frame width {self.frame_width}")
        if not 0 < self.window_seconds <= 30:
            raise ValueError(f"window_seconds must be in (0, 30], got {self.window_seconds}")
        if self.max_audio_seconds <= 0:
            raise ValueError(f"max_audio_seconds must be > 0, got {self.max_audio_seconds}")
