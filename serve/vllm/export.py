"""Export an alm checkpoint to a folder vLLM loads with the alm plugin.

One `model.safetensors` with the audio encoder, the aligner and the LLM with its LoRA merged
(`audio_encoder.*`, `aligner.*`, `language_model.*`); the alm config with
`architectures = ["AlmForConditionalGeneration"]`; the tokenizer with the audio token and a chat
template whose default system prompt is the config's (as `alm.processor` adds it); and a
generation config with alm's end-of-turn ids and greedy default. Exports are cached under
`$ALM_HOME/vllm/` keyed by the checkpoint's files, and written atomically.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from serve.vllm.plugin import ARCHITECTURE

EXPORT_VERSION = 1


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = f.stat()
        h.update(f"{f.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def chat_template_with_system(template: str, system_prompt: str) -> str:
    """Prefix a chat template so a conversation without a system message gets alm's system prompt."""
    literal = json.dumps(system_prompt)
    return ("{%- if messages and messages[0]['role'] != 'system' -%}"
            f"{{%- set messages = [{{'role': 'system', 'content': {literal}}}] + messages -%}}"
            "{%- endif -%}" + template)


DEFAULT_MAX_AUDIO_SECONDS = 60.0


def export_for_vllm(model: str, out_dir: Path | None = None, dtype: torch.dtype = torch.float32,
                    max_audio_seconds: float | None = DEFAULT_MAX_AUDIO_SECONDS) -> Path:
    """alm checkpoint (name or folder) -> a vLLM-ready folder (reused when already exported).

    `max_audio_seconds` caps the clip length vLLM accepts (and so what it profiles at start-up:
    vLLM runs one clip of the maximum length through the encoder before serving, which takes
    minutes on CPU for alm's 600 s default). None keeps the checkpoint's limit.
    """
    from peft import PeftModel

    from alm.checkpoints import resolve_checkpoint
    from alm.model import AlmForConditionalGeneration
    from alm.processor import AlmProcessor
    from alm.weights.cache import alm_home

    source = resolve_checkpoint(model)
    if out_dir is None:
        cap = "" if max_audio_seconds is None else f"-{max_audio_seconds:g}s"
        out_dir = alm_home() / "vllm" / f"{source.name}-{_fingerprint(source)}{cap}"
    out_dir = Path(out_dir)
    if (out_dir / "model.safetensors").is_file():
        return out_dir
    alm = AlmForConditionalGeneration.from_pretrained(source, dtype=dtype)
    processor = AlmProcessor.from_pretrained(alm.config, checkpoint=source)
    llm = alm.language_model
    if isinstance(llm, PeftModel):
        llm = llm.merge_and_unload()  # W + B A (alpha / r) folded into W
    state = {f"audio_encoder.{k}": v for k, v in alm.audio_encoder.state_dict().items()}
    state.update({f"aligner.{k}": v for k, v in alm.aligner.state_dict().items()})
    tied = bool(getattr(llm.config, "tie_word_embeddings", False))
    state.update({f"language_model.{k}": v for k, v in llm.state_dict().items()
                  if not (tied and k == "lm_head.weight")})
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in state.items()}

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        save_file(state, tmp / "model.safetensors", metadata={"format": "pt"})
        config = alm.config
        config.architectures = [ARCHITECTURE]
        config.text_config.architectures = [type(llm).__name__]
        config.quantization = None
        if max_audio_seconds is not None:
            config.max_audio_seconds = min(config.max_audio_seconds, max_audio_seconds)
        config.dtype = dtype
        config.save_pretrained(tmp)
        tok = processor.tokenizer
        tok.chat_template = chat_template_with_system(tok.chat_template, config.system_prompt)
        tok.save_pretrained(tmp)
        ends = {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")}
        eos = sorted(i for i in ends if isinstance(i, int) and i >= 0 and i != tok.unk_token_id)
        generation = {"eos_token_id": eos, "pad_token_id": tok.pad_token_id, "temperature": 0.0,
                      "bos_token_id": tok.bos_token_id}
        (tmp / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
        (tmp / "alm_export.json").write_text(json.dumps({"source": str(source), "version": EXPORT_VERSION}) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
