"""Writing an alm checkpoint folder atomically, and uploading one to the Hugging Face Hub."""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import save_file

from alm.errors import AlmError
from alm.files import atomic_folder


def write_checkpoint(model, target: Path, processor=None) -> None:
    """config.json, aligner.safetensors (+ audio_encoder.safetensors when the encoder trains), lora/, the sound
    tagger (tagger.json, tagger.safetensors) when there is one, and the processor, written to a temporary folder
    beside `target` and renamed into place."""
    from alm.model.modeling import ALIGNER_FILE, ENCODER_FILE, LORA_DIR
    from alm.model.trainable import is_lora_model

    with atomic_folder(target) as tmp:
        model.config.save_pretrained(tmp)
        save_file(cpu_state(model.aligner), tmp / ALIGNER_FILE)
        if not model.config.freeze_encoder:
            save_file(cpu_state(model.audio_encoder), tmp / ENCODER_FILE)
        if is_lora_model(model.language_model):
            # the base's embeddings are never resized (audio tokens are replaced by aligner outputs), so none are saved;
            # peft's "auto" would look for the base's config by its name (`builtin:...`) and warn that it found none
            model.language_model.save_pretrained(tmp / LORA_DIR, save_embedding_layers=False)
            name_base_in_adapter(tmp / LORA_DIR, model.config.text_base)
            (tmp / LORA_DIR / "README.md").unlink(missing_ok=True)  # peft's empty card, with local paths in it
        if model.tagger is not None:
            model.tagger.save(tmp)
        if processor is not None:
            processor.save_pretrained(tmp)


def cpu_state(module) -> dict:
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def name_base_in_adapter(lora_dir: Path, text_base: str | None) -> None:
    """peft records the local path it loaded from; record the portable base name instead."""
    cfg_path = lora_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = text_base
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + os.linesep)


def push_folder(folder: Path, repo_id: str | None = None, token: str | None = None, private: bool | None = None,
                commit_message: str | None = None, revision: str | None = None, create_pr: bool = False) -> str:
    """Upload a saved folder to the Hub (needs a network and a token with write access); returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        repo = api.create_repo(repo_id or folder.name, private=private, exist_ok=True).repo_id
        info = api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message=commit_message or "Upload alm model",
                                 revision=revision, create_pr=create_pr)
    except Exception as exc:  # noqa: BLE001 - network, auth and hub errors all mean "not uploaded"
        raise AlmError(f"cannot push {folder} to the Hugging Face Hub: {(str(exc).splitlines() or [exc])[0]}") from None
    return str(info)
