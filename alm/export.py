"""`export_model`: a self-contained checkpoint folder, ready for the Hugging Face Hub.

A training checkpoint names its bases (`builtin:whisper-base`, a Hub id...) and keeps only the
aligner and the LoRA adapter. An export holds every weight, so it loads from the folder alone:

    config.json              AlmConfig; audio_base "./whisper", text_base "./llm" (inside this folder)
    aligner.safetensors      the aligner
    whisper/                 the Whisper base (its encoder, and its decoder for speech transcripts)
    llm/                     the LLM with the LoRA merged into its weights
    sound_encoder/           the general-sound encoder and its feature extractor (a model with one)
    tagger.json, tagger.safetensors    the sound tagger (a model that reads sound tags)
    processor_config.json, chat_template.jinja, tokenizer files    the processor
    generation_config.json   alm's end-of-turn tokens, greedy by default
    training_record.json     how it was trained (when the source has one)
    README.md                the model card

Load it with `AlmForConditionalGeneration.from_pretrained(folder)`, `AutoModel.from_pretrained`
after `import alm`, or `alm ask --model folder`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from alm.errors import AlmError
from alm.files import atomic_folder, atomic_write_json, atomic_write_text

WHISPER_DIR = "whisper"
LLM_DIR = "llm"
SOUND_DIR = "sound_encoder"


def merged_language_model(model):
    """The LLM with its LoRA folded into the weights (W + B A alpha/r); the model itself is left as it was."""
    from alm.model.trainable import is_lora_model

    llm = model.language_model
    if not is_lora_model(llm):
        return llm
    import copy

    return copy.deepcopy(llm).merge_and_unload()


def generation_config(processor) -> dict:
    tok = processor.tokenizer
    return {"eos_token_id": processor.end_of_turn_ids, "pad_token_id": tok.pad_token_id,
            "bos_token_id": tok.bos_token_id, "do_sample": False}


def export_model(model: str, out_dir: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write the self-contained folder for `model` (packaged name, checkpoint folder or Hub id) to `out_dir`,
    atomically; returns it."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from alm.checkpoints import resolve_checkpoint
    from alm.model import AlmForConditionalGeneration
    from alm.model.modeling import ALIGNER_FILE
    from alm.model.saving import cpu_state
    from alm.model.sound_encoder import save_sound_encoder
    from alm.processor import AlmProcessor
    from alm.weights import resolve_base

    source = resolve_checkpoint(model)
    alm = AlmForConditionalGeneration.from_pretrained(source, dtype=dtype)
    processor = AlmProcessor.from_pretrained(source)
    out = Path(out_dir)
    with atomic_folder(out) as tmp:
        config = alm.config
        origin = {"audio_base": config.audio_base, "text_base": config.text_base}
        whisper_base = resolve_base(config.audio_base)
        whisper = WhisperForConditionalGeneration.from_pretrained(whisper_base, dtype=dtype)
        whisper.model.encoder.load_state_dict(alm.audio_encoder.encoder.state_dict())  # a trained encoder is kept
        whisper.save_pretrained(tmp / WHISPER_DIR)
        try:  # Whisper's tokenizer and feature extractor: what the transcriber needs beside the weights
            WhisperProcessor.from_pretrained(whisper_base).save_pretrained(tmp / WHISPER_DIR)
        except OSError as exc:
            if config.speech_transcripts:
                raise AlmError(f"{config.audio_base}: no Whisper tokenizer to transcribe with: "
                               f"{(str(exc).splitlines() or [exc])[0]}") from None
        merged_language_model(alm).to(dtype).save_pretrained(tmp / LLM_DIR)
        save_file(cpu_state(alm.aligner), tmp / ALIGNER_FILE)
        if alm.tagger is not None:
            alm.tagger.save(tmp)
        if config.sound_encoder:
            origin["sound_encoder"] = config.sound_encoder
            save_sound_encoder(alm.sound_encoder, processor.sound_features, tmp / SOUND_DIR)
            config.sound_encoder = processor.sound_encoder = f"./{SOUND_DIR}"
        config.audio_base, config.text_base = f"./{WHISPER_DIR}", f"./{LLM_DIR}"
        config.freeze_encoder = True  # the encoder's weights are in whisper/ now
        config.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        atomic_write_json(tmp / "generation_config.json", generation_config(processor))
        record = source / "training_record.json"
        if record.is_file():
            shutil.copy2(record, tmp / record.name)
        atomic_write_text(tmp / "README.md", model_card(out.name, config, origin, record if record.is_file() else None))
    return out


def model_card(name: str, config, origin: dict, record: Path | None) -> str:
    """The README.md of an export: what it is, how to load it, how it was trained, its limits."""
    facts = json.loads(record.read_text()) if record is not None else {}
    speech = ("It reads Whisper's transcript of each clip beside the audio tokens (LTU-AS style).\n"
              if config.speech_transcripts else "")
    trained = "" if config.trained else "\n**The aligner is untrained: answers do not reflect the audio.**\n"
    extras = (f"`{SOUND_DIR}/` (the general-sound encoder `{origin['sound_encoder']}` beside Whisper), "
              if "sound_encoder" in origin else "")
    extras += "`tagger.json` and `tagger.safetensors` (the sound tagger whose top labels the LLM reads), " \
        if config.sound_tags else ""
    lines = [
        "---", "library_name: alm", "pipeline_tag: audio-text-to-text", "tags: [audio, audio-language-model, alm]",
        "---", "", f"# {name}", "",
        f"An audio-language model built with [alm](https://github.com/): a Whisper encoder (`{origin['audio_base']}`), "
        f"a `{config.aligner}` aligner and the causal LLM `{origin['text_base']}` with its LoRA merged.",
        speech + trained,
        "## Use", "", "```python", "import alm  # registers alm with transformers' Auto classes",
        "from transformers import AutoModel, AutoProcessor", "",
        f'model = AutoModel.from_pretrained("{name}")', f'processor = AutoProcessor.from_pretrained("{name}")',
        "```", "", f"or from the command line: `alm ask --model {name} clip.wav \"What do you hear?\"`.", "",
        "## Contents", "",
        "`whisper/` (encoder, and the decoder that writes speech transcripts), `llm/` (the LLM, LoRA merged), "
        "`aligner.safetensors`, " + extras + "the processor (`processor_config.json`, `chat_template.jinja`, "
        "tokenizer) and `generation_config.json`. Nothing is downloaded when it loads.", "",
    ]
    if facts:
        lines += ["## Training", "",
                  f"- curriculum stage: {facts.get('stage', '?')}, steps: {facts.get('steps', '?')}, "
                  f"final validation loss: {facts.get('final_eval_loss', '?')}",
                  f"- wall time: {facts.get('curriculum_wall_time_s') or facts.get('wall_time_s', '?')} s on "
                  f"{(facts.get('hardware') or {}).get('device', 'the recorded hardware')}",
                  *([f"- weights interpolated after training: {blend['alpha']} of this stage's, the rest of "
                     f"`{blend['from']}`'s (scripts/interpolate_models.py)"] if (blend := facts.get("interpolated"))
                    else []),
                  "- the whole record is in `training_record.json`.", ""]
    lines += ["## Limitations", "",
              "Scores and their protocols are in alm's README and `alm eval` reports; a small model trained on a small "
              "corpus hears coarse sound classes and what is said, not everything a person hears.", ""]
    return "\n".join(lines)
