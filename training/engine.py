"""The training engine: one stage of a curriculum, on CPU, one GPU or many (Hugging Face accelerate).

The parts a stage is built from: the model (new or `init_from`, frozen per the recipe), AdamW with
warmup + decay, the loss (mean cross-entropy over answer tokens only), validation loss and sample
answers, the transcript pass, and what the training record says about corpus and hardware.
`training.recipe.StageRecipe` puts them together (setup, train loop, finalize); `train_stage(config)`
runs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from alm.audio.io import load_audio
from alm.errors import AlmError
from alm.model import AlmConfig, AlmForConditionalGeneration, set_trainable
from alm.conversation import Conversation, message_text
from alm.processor import IGNORE_INDEX, AlmProcessor
from instruction_data.loader import corpus_dir
from training.config import INIT_FIELDS, TrainConfig, model_fields
from training.data import Example
from training.transcript_cache import (TranscriptCache, default_transcript_root, precompute_transcripts,
                                       transcripts_by_path)

RECORD_FILE = "training_record.json"
SAMPLE_MAX_NEW_TOKENS = 40


@dataclass
class StageResult:
    model_dir: Path | None  # None when the stage stopped before its end
    steps: int  # optimizer steps done
    train_loss: float | None  # mean answer-token loss over the last logging window
    eval_loss: float | None  # last validation loss
    stopped: bool  # True when --stop-after ended it early


def stage_done(config: TrainConfig) -> bool:
    """The stage's final model and record exist (the record is written last)."""
    return (config.model_dir / RECORD_FILE).is_file()


def resolve_init(init_from: str) -> Path:
    """A run folder (use its `model/`) or an alm checkpoint folder or packaged name."""
    path = Path(init_from).expanduser()
    if (path / "model" / "config.json").is_file():
        return path / "model"
    if (path / "config.json").is_file():
        return path
    from alm.checkpoints import resolve_checkpoint

    if not path.exists():
        try:
            return resolve_checkpoint(init_from)
        except AlmError:
            pass
    raise AlmError(f"model.init_from: {init_from} has no trained model (no model/config.json); "
                   f"train the earlier stage first (or run the whole curriculum folder)")


# --------------------------------------------------------------------------- building
def resolve_precision(asked: str) -> tuple[str, str]:
    """The autocast precision a stage trains in (bf16, fp16 or fp32) and, when it matters, why. `auto`: bf16 where
    the hardware runs it natively (CUDA GPUs with bf16; CPUs with AVX512-BF16 or AMX), fp16 on older GPUs, else fp32:
    on an AVX2-only CPU bfloat16 matmuls are emulated, about 50x slower than float32 (measured on a 2-core EPYC)."""
    from alm.devices import cpu_has_native_bf16

    cuda = torch.cuda.is_available()
    native_bf16 = torch.cuda.is_bf16_supported() if cuda else cpu_has_native_bf16()
    if asked == "fp16" and not cuda:
        raise AlmError("precision: fp16 needs a GPU; use auto, bf16 or fp32 on CPU")
    if asked == "auto":
        chosen = "bf16" if native_bf16 else "fp16" if cuda else "fp32"
        lacks = "this GPU has no bfloat16" if cuda else "this CPU has no native bfloat16 (AVX512-BF16/AMX)"
        return chosen, "" if native_bf16 else f"precision auto: {chosen}, {lacks}"
    if asked == "bf16" and not native_bf16:
        return asked, ("precision bf16 on hardware without native bfloat16: its matmuls are emulated (on a CPU "
                       "about 50x slower than fp32); precision: auto would pick " + ("fp16" if cuda else "fp32"))
    return asked, ""


def make_accelerator(precision: str) -> Accelerator:
    """An Accelerator for a resolved precision (`resolve_precision`)."""
    AcceleratorState._reset_state()  # a curriculum may change precision between stages; the process group stays
    # cpu=True on a machine without CUDA lets `accelerate launch --cpu --num_processes N` / torchrun run gloo DDP.
    return Accelerator(mixed_precision={"fp32": "no"}.get(precision, precision), cpu=not torch.cuda.is_available())


def check_quantization(config: TrainConfig) -> None:
    if not config.model.quantization:
        return
    if importlib.util.find_spec("bitsandbytes") is None:
        raise AlmError(f"model.quantization: {config.model.quantization} (QLoRA) needs bitsandbytes: "
                       f"pip install 'alm[qlora]'")
    if not torch.cuda.is_available():
        raise AlmError(f"model.quantization: {config.model.quantization} (QLoRA) needs a CUDA GPU; "
                       f"remove it to train on CPU")


def build_model(config: TrainConfig) -> tuple[AlmForConditionalGeneration, AlmProcessor, str]:
    """The stage's model and processor, frozen per the recipe; also says where the model came from."""
    check_quantization(config)
    m = config.model
    if m.init_from:
        source = resolve_init(m.init_from)
        model = AlmForConditionalGeneration.from_pretrained(source, quantization=m.quantization)
        processor = AlmProcessor.from_pretrained(source)
        origin = str(source)
    else:
        alm_config = AlmConfig(**model_fields(m))
        processor = AlmProcessor.from_config(alm_config)  # adds the audio token to the config first
        model = AlmForConditionalGeneration.from_bases(alm_config, lora=config.llm == "lora", seed=config.seed)
        origin = f"new: {m.audio_base} + {m.text_base}"
    for name in INIT_FIELDS:  # what a stage may also set on an init_from model (quantization: at load)
        if getattr(m, name) is not None:
            setattr(model.config, name, getattr(m, name))
    if m.init_from and m.sound_encoder:  # config validation: only with sound_to_aligner false
        add_tagger_sound_encoder(model, processor, m.sound_encoder)
        model.config.validate_alm()
    set_trainable(model, encoder=config.encoder, aligner=config.aligner, llm=config.llm)
    model.config.freeze_encoder = bool(model.config.freeze_encoder and config.encoder == "frozen")
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model, processor, origin


def add_tagger_sound_encoder(model, processor, name: str) -> None:
    """`model` and `processor` given the general-sound encoder `name` for the sound tagger alone
    (`AlmConfig.sound_to_aligner: false`): its pooled frames become one more block of the stats the tagger reads,
    while the aligner keeps reading Whisper's frames, so a trained model takes it without retraining what it has
    (a stage's `model.sound_encoder` with `init_from`, `scripts/tagger_swap.py`). A model that already has it keeps it;
    one with another sound encoder is refused."""
    from alm.audio.sound_features import SoundFeatures
    from alm.model.sound_encoder import load_sound_encoder

    if model.config.sound_encoder:
        if model.config.sound_encoder == name:
            return
        raise AlmError(f"model.sound_encoder {name}: the model already has the sound encoder "
                       f"{model.config.sound_encoder}")
    encoder = load_sound_encoder(name)
    model.sound_encoder = encoder
    model.config.sound_encoder, model.config.sound_width, model.config.sound_to_aligner = name, encoder.width, False
    processor.sound_encoder, processor.sound_features = name, SoundFeatures.for_encoder(name)


def set_train_mode(model) -> None:
    """Train mode for what trains; frozen parts stay in eval mode (no dropout), as the feature cache saw them."""
    model.train()
    if not any(p.requires_grad for p in model.audio_encoder.parameters()):
        model.audio_encoder.eval()


def make_optimizer(model, config: TrainConfig, total_steps: int):
    aligner, other = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (aligner if name.startswith("aligner.") else other).append(param)
    groups = [{"params": g, "lr": lr} for g, lr in ((other, config.lr), (aligner, config.aligner_lr or config.lr)) if g]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)

    def factor(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / (config.warmup_steps + 1)
        if config.schedule == "constant":
            return 1.0
        progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
        floor = config.min_lr_ratio
        if config.schedule == "linear":
            return 1.0 - (1.0 - floor) * progress
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# --------------------------------------------------------------------------- loss
def answer_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over answer tokens, and their count; the LM head runs only where needed."""
    targets = batch["labels"][:, 1:]  # B, L-1: the token predicted at each position
    keep = (targets != IGNORE_INDEX).any(0).nonzero().squeeze(1)  # positions predicting an answer token in some row
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    logits = model(**inputs, logits_to_keep=keep).logits  # B, K, V
    loss = F.cross_entropy(logits.float().flatten(0, 1), targets[:, keep].flatten(), ignore_index=IGNORE_INDEX,
                           reduction="sum")
    return loss, int((targets != IGNORE_INDEX).sum())


def to_device(batch: dict[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


# --------------------------------------------------------------------------- validation
@torch.no_grad()
def validation_loss(accelerator, model, collator, examples: list[Example], batch_size: int) -> float | None:
    if not examples:
        return None
    order = sorted(range(len(examples)), key=lambda i: examples[i].length)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    total = torch.zeros(2, device=accelerator.device)
    model.eval()
    for batch_ids in batches[accelerator.process_index :: accelerator.num_processes]:
        batch = to_device(collator([examples[i] for i in batch_ids]), accelerator.device)
        with accelerator.autocast():
            loss, tokens = answer_loss(model, batch)
        total += torch.stack([loss.float(), torch.tensor(float(tokens), device=loss.device)])
    set_train_mode(model)
    total = accelerator.reduce(total, "sum")
    return float(total[0] / total[1].clamp(min=1))


@torch.no_grad()
def sample_answers(accelerator, model, processor, examples: list[Example]) -> list[dict]:
    """Greedy answers to a few validation questions (main process)."""
    out = []
    model.eval()
    for ex in examples:
        conv = Conversation(ex.messages[:-1], [load_audio(p) for p in ex.sound], ex.transcripts, ex.tags, ex.asked)
        batch = to_device(processor.batch([conv]), accelerator.device)
        with accelerator.autocast():
            ids = model.generate(**batch, max_new_tokens=SAMPLE_MAX_NEW_TOKENS, do_sample=False, use_cache=True,
                                 eos_token_id=processor.end_of_turn_ids, pad_token_id=processor.tokenizer.pad_token_id)
        question = message_text(ex.messages[-2])
        out.append({"id": ex.id, "task": ex.task, "question": question, "expected": ex.messages[-1]["content"],
                    "answer": processor.decode(ids[0])})
    set_train_mode(model)
    return out


# --------------------------------------------------------------------------- transcripts, records
def stage_transcripts(config: TrainConfig, model_config, paths: list[str], accelerator,
                      progress: bool) -> tuple[dict[str, str], dict]:
    """Whisper transcripts of the stage's clips (path -> text), from the transcript cache, filled first. The
    transcriber is the one answers use on this device (`alm.transcribe.load_transcriber`: CTranslate2 where it
    applies) with the model's no-speech gate, so the LLM trains on the transcripts it will read."""
    from alm.transcribe import load_transcriber, model_gate, planned_identity

    root = default_transcript_root() if config.transcript_cache == "auto" else Path(config.transcript_cache)
    device = str(accelerator.device)
    audio_base, gate = model_config.audio_base, model_gate(model_config)
    cache = TranscriptCache(root, planned_identity(audio_base, device, gate))
    hits, misses = precompute_transcripts(cache, lambda: load_transcriber(audio_base, device=device,
                                                                          no_speech_threshold=gate),
                                          paths, accelerator.process_index, accelerator.num_processes, progress)
    accelerator.wait_for_everyone()
    cache.reload()
    stats = {"enabled": True, "dir": str(cache.dir), "precompute_hits": hits, "precompute_misses": misses}
    return transcripts_by_path(cache, paths), stats


def manifest_info(root: str) -> dict:
    folder = corpus_dir(root)
    data = (folder / "manifest.json").read_bytes()
    return {"root": str(folder), "manifest_sha256": hashlib.sha256(data).hexdigest(),
            "fingerprint": json.loads(data).get("fingerprint")}


def earlier_record(config: TrainConfig) -> dict | None:
    """The training record of the model a stage starts from (None for a new model or an untrained folder)."""
    if not config.model.init_from:
        return None
    path = resolve_init(config.model.init_from) / RECORD_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def hardware(accelerator, precision: str) -> dict:
    return {"device": str(accelerator.device), "processes": accelerator.num_processes, "precision": precision,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "cpu_count": os.cpu_count(), "torch": torch.__version__}


def train_stage(config: TrainConfig, **options) -> StageResult:
    """Run one stage: `training.recipe.StageRecipe(config, **options).run()` (see there for the options)."""
    from training.recipe import StageRecipe  # the recipe is built from this module's parts

    return StageRecipe(config, **options).run()
