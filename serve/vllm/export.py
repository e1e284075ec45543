"""Export an alm checkpoint to a folder vLLM loads with the alm plugin.

One `model.safetensors` with the audio encoder, the aligner and the LLM with its LoRA merged
(`audio_encoder.*`, `aligner.*`, `language_model.*`); the alm config with
`architectures = ["AlmForConditionalGeneration"]`; alm's processor (tokenizer with the audio token,
alm's chat template with its system prompt, processor_config.json: vLLM renders prompts with
that template and its front end runs that processor); and alm's generation config (end-of-turn
ids, greedy); for a model that reads sound tags, its tagger in `tagger/`, and for a model with a general-sound
encoder (feeding the aligner, the tagger or both), that encoder in `sound_encoder/`: both run in the plugin's front end.
Exports are cached under `$ALM_HOME/vllm/` keyed by the checkpoint's files, and
written atomically.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from serve.vllm.plugin import ARCHITECTURE

EXPORT_VERSION = 2  # 2: alm's processor and chat template (content parts) in the export
DEFAULT_MAX_AUDIO_SECONDS = 60.0
TAGGER_DIR = "tagger"  # the sound tagger of a tag-reading model (alm.model.tagger files), beside the weights


def export_for_vllm(model: str, out_dir: Path | None = None, dtype: torch.dtype = torch.float32,
                    max_audio_seconds: float | None = DEFAULT_MAX_AUDIO_SECONDS) -> Path:
    """alm checkpoint (name or folder) -> a vLLM-ready folder (reused when already exported).

    `max_audio_seconds` caps the clip length vLLM accepts (and so what it profiles at start-up:
    vLLM runs one clip of the maximum length through the encoder before serving, which takes
    minutes on CPU for alm's 600 s default). None keeps the checkpoint's limit.
    """
    from alm.checkpoints import resolve_checkpoint
    from alm.errors import AlmError
    from alm.export import SOUND_DIR, generation_config, merged_language_model
    from alm.model.sound_encoder import save_sound_encoder
    from alm.files import atomic_folder, atomic_write_json
    from alm.hashing import folder_fingerprint
    from alm.model import AlmConfig, AlmForConditionalGeneration
    from alm.processor import AlmProcessor
    from alm.weights.cache import alm_home

    source = resolve_checkpoint(model)
    if out_dir is None:
        cap = "" if max_audio_seconds is None else f"-{max_audio_seconds:g}s"
        out_dir = alm_home() / "vllm" / f"{source.name}-{folder_fingerprint(source, f'v{EXPORT_VERSION}')}{cap}"
    out_dir = Path(out_dir)
    if (out_dir / "model.safetensors").is_file():
        return out_dir
    config = AlmConfig.from_pretrained(source)  # refused from the config alone, before any weight loads
    unsupported = ["instruction_aware"] if config.instruction_aware else []
    if config.aligner == "none":  # the plugin splices embeddings at placeholders; none has no placeholders
        unsupported.append("aligner none")
    if unsupported:
        raise AlmError(f"{source}: the vLLM engine does not run models with {', '.join(unsupported)} yet; serve "
                       "this model with the transformers engine (alm serve --engine transformers)")
    alm = AlmForConditionalGeneration.from_pretrained(source, dtype=dtype)
    processor = AlmProcessor.from_pretrained(source)
    llm = merged_language_model(alm)
    state = {f"audio_encoder.{k}": v for k, v in alm.audio_encoder.state_dict().items()}
    state.update({f"aligner.{k}": v for k, v in alm.aligner.state_dict().items()})
    tied = bool(getattr(llm.config, "tie_word_embeddings", False))
    state.update({f"language_model.{k}": v for k, v in llm.state_dict().items()
                  if not (tied and k == "lm_head.weight")})
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in state.items()}

    with atomic_folder(out_dir) as tmp:
        save_file(state, tmp / "model.safetensors", metadata={"format": "pt"})
        config = alm.config
        config.architectures = [ARCHITECTURE]
        config.text_config.architectures = [type(llm).__name__]
        config.quantization = None
        if max_audio_seconds is not None:
            config.max_audio_seconds = min(config.max_audio_seconds, max_audio_seconds)
            processor.max_audio_seconds = config.max_audio_seconds
        config.dtype = dtype
        if config.sound_encoder:  # the general-sound encoder, run in the front end (serve.vllm.model.sound_frames)
            save_sound_encoder(alm.sound_encoder, processor.sound_features, tmp / SOUND_DIR)
            config.sound_encoder = processor.sound_encoder = f"./{SOUND_DIR}"
        config.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        if alm.tagger is not None:  # sound tags are made in vLLM's front end (serve.vllm.model.clip_tags); in a
            (tmp / TAGGER_DIR).mkdir()  # folder of its own, as vLLM loads every *.safetensors beside the config
            alm.tagger.save(tmp / TAGGER_DIR)
        atomic_write_json(tmp / "generation_config.json", {**generation_config(processor), "temperature": 0.0})
        atomic_write_json(tmp / "alm_export.json", {"source": str(source), "version": EXPORT_VERSION})
    return out_dir
