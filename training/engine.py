"""The training engine: one stage of a curriculum, on CPU, one GPU or many (Hugging Face accelerate).

`train_stage(config)` builds (or loads) the model, freezes per the recipe, selects and measures
the data, fills the frozen-encoder feature cache, and runs AdamW with warmup + decay over
length-grouped batches. The loss is the mean cross-entropy over answer tokens only. It writes
checkpoints, metrics and validation samples to the run folder and, at the end, the trained model
to `<output_dir>/model` with a `training_record.json`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import gather_object, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from alm.audio.io import load_audio
from alm.errors import AlmError
from alm.model import AlmConfig, AlmForConditionalGeneration, set_trainable
from alm.processor import IGNORE_INDEX, AlmProcessor, Conversation
from instruction_data.loader import corpus_dir
from training.checkpointing import list_checkpoints, load_checkpoint, remove_checkpoints, rng_state, save_checkpoint
from training.config import NEW_MODEL_FIELDS, TrainConfig, resume_differences
from training.data import (ClipLengths, Collator, Example, epoch_batches, prepare_examples, rank_steps,
                           select_eval_records, select_records)
from training.feature_cache import FeatureCache, default_cache_root, encoder_identity, precompute
from training.transcript_cache import (TranscriptCache, default_transcript_root, precompute_transcripts,
                                       transcripts_by_path)
from training.logs import MetricsLog

logger = logging.getLogger(__name__)

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
def make_accelerator(config: TrainConfig) -> Accelerator:
    precision = {"bf16": "bf16", "fp16": "fp16", "fp32": "no"}[config.precision]
    if precision == "fp16" and not torch.cuda.is_available():
        raise AlmError("precision: fp16 needs a GPU; use bf16 or fp32 on CPU")
    AcceleratorState._reset_state()  # a curriculum may change precision between stages; the process group stays
    # cpu=True on a machine without CUDA lets `accelerate launch --cpu --num_processes N` / torchrun run gloo DDP.
    return Accelerator(mixed_precision=precision, cpu=not torch.cuda.is_available())


def check_quantization(config: TrainConfig) -> None:
    if not config.model.quantization:
        return
    if importlib.util.find_spec("bitsandbytes") is None:
        raise AlmError("model.quantization: 4bit (QLoRA) needs bitsandbytes: pip install 'alm[qlora]'")
    if not torch.cuda.is_available():
        raise AlmError("model.quantization: 4bit (QLoRA) needs a CUDA GPU; remove it to train on CPU")


def build_model(config: TrainConfig) -> tuple[AlmForConditionalGeneration, AlmProcessor, str]:
    """The stage's model and processor, frozen per the recipe; also says where the model came from."""
    check_quantization(config)
    m = config.model
    if m.init_from:
        source = resolve_init(m.init_from)
        model = AlmForConditionalGeneration.from_pretrained(source, quantization=m.quantization)
        processor = AlmProcessor.from_pretrained(model.config, source)
        origin = str(source)
    else:
        fields = {name: getattr(m, name) for name in NEW_MODEL_FIELDS if getattr(m, name) is not None}
        alm_config = AlmConfig(**fields, quantization=m.quantization)
        processor = AlmProcessor.from_pretrained(alm_config)  # adds the audio token to the config first
        model = AlmForConditionalGeneration.from_bases(alm_config, lora=config.llm == "lora", seed=config.seed)
        origin = f"new: {m.audio_base} + {m.text_base}"
    if m.speech_transcripts is not None:
        model.config.speech_transcripts = m.speech_transcripts
    set_trainable(model, encoder=config.encoder, aligner=config.aligner, llm=config.llm)
    model.config.freeze_encoder = bool(model.config.freeze_encoder and config.encoder == "frozen")
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model, processor, origin


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
        conv = Conversation(ex.messages[:-1], [load_audio(p) for p in ex.sound], ex.transcripts)
        batch = to_device(processor([conv], train=False), accelerator.device)
        with accelerator.autocast():
            ids = model.generate(**batch, max_new_tokens=SAMPLE_MAX_NEW_TOKENS, do_sample=False, use_cache=True,
                                 pad_token_id=processor.tokenizer.pad_token_id)
        question = ex.messages[-2]["content"].split("\n", 1)[-1]
        out.append({"id": ex.id, "task": ex.task, "question": question, "expected": ex.messages[-1]["content"],
                    "answer": processor.decode(ids[0])})
    set_train_mode(model)
    return out


# --------------------------------------------------------------------------- the stage
def stage_transcripts(config: TrainConfig, audio_base: str, paths: list[str], accelerator,
                      progress: bool) -> tuple[dict[str, str], dict]:
    """Whisper transcripts of the stage's clips (path -> text), from the transcript cache, filled first."""
    from alm.transcribe import Transcriber, default_dtype, transcriber_identity

    root = default_transcript_root() if config.transcript_cache == "auto" else Path(config.transcript_cache)
    device = str(accelerator.device)
    cache = TranscriptCache(root, transcriber_identity(audio_base, default_dtype(device)))
    hits, misses = precompute_transcripts(cache, lambda: Transcriber(audio_base, device=device),
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


def _atomic_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def train_stage(config: TrainConfig, *, recipe: Path | None = None, resume: bool = False, restart: bool = False,
                stop_after: int | None = None, checkpoint_on_stop: bool = True, command: str | None = None,
                progress: bool = True, name: str | None = None) -> StageResult:
    """Run one stage. `stop_after`: stop after that many optimizer steps in this call (as if killed; with a
    checkpoint unless `checkpoint_on_stop` is False), to be continued with `resume=True`."""
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    name = name or (recipe.stem if recipe else "stage")
    run_dir = config.run_dir
    checkpoints = list_checkpoints(run_dir)
    if checkpoints and not (resume or restart):
        raise AlmError(f"{run_dir} holds checkpoints of an unfinished run (newest: {checkpoints[-1].name}); "
                       f"pass --resume to continue it or --restart to start over")
    if restart:
        remove_checkpoints(run_dir)
        checkpoints = []

    accelerator = make_accelerator(config)
    main = accelerator.is_main_process
    rank, world = accelerator.process_index, accelerator.num_processes

    def say(text: str) -> None:
        if main:
            tqdm.write(text)

    set_seed(config.seed)
    model, processor, origin = build_model(config)
    say(f"[{name}] model: {origin}; training encoder={config.encoder} aligner={config.aligner} llm={config.llm} "
        f"({sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6:.2f}M parameters)")

    # ---- data
    records = select_records(config.data, config.seed)
    eval_records = select_eval_records(config.data, config.seed)
    transcripts, transcript_stats = None, {"enabled": False}
    if model.config.speech_transcripts:
        transcripts, transcript_stats = stage_transcripts(config, model.config.audio_base,
                                                          [p for r in [*records, *eval_records] for p in r.sound],
                                                          accelerator, progress and main)
        say(f"[{name}] transcripts {transcript_stats['dir']}: {transcript_stats['precompute_hits']} clips found, "
            f"{transcript_stats['precompute_misses']} transcribed")
    lengths = ClipLengths()
    examples, stats = prepare_examples(records, processor, config.max_length, config.overlong, lengths, transcripts)
    eval_examples, _ = prepare_examples(eval_records, processor, config.max_length, config.overlong, lengths,
                                        transcripts)
    if not examples:
        raise AlmError(f"no training samples fit max_length={config.max_length}")
    say(f"[{name}] data: {stats.kept} samples ({stats.skipped_overlong} over max_length skipped, "
        f"{stats.truncated} truncated), {stats.mean_tokens} tokens on average; {len(eval_examples)} for validation")
    per_epoch = len(rank_steps(epoch_batches([e.length for e in examples], config.batch_size, config.seed, 0),
                               world, rank, config.grad_accum))
    if per_epoch == 0:
        raise AlmError(f"{len(examples)} samples make no whole step of batch_size={config.batch_size} x "
                       f"grad_accum={config.grad_accum} x {world} processes")
    total_steps = config.max_steps or per_epoch * config.epochs

    if config.model.quantization:  # bitsandbytes placed the 4-bit LLM on the GPU already
        model.audio_encoder.to(accelerator.device)
        model.aligner.to(accelerator.device)
    else:
        model.to(accelerator.device)
    # ---- frozen-encoder feature cache
    cache, cache_stats = None, {"enabled": False}
    if config.encoder == "frozen" and config.feature_cache != "off":
        root = default_cache_root() if config.feature_cache == "auto" else Path(config.feature_cache)
        cache = FeatureCache(root, encoder_identity(model), config.cache_dtype)
        paths = [p for ex in [*examples, *eval_examples] for p in ex.sound]
        hits, misses = precompute(cache, model, processor, paths, rank, world, progress=progress and main)
        accelerator.wait_for_everyone()
        cache.reload()
        cache_stats = {"enabled": True, "dir": str(cache.dir), "precompute_hits": hits, "precompute_misses": misses}
        say(f"[{name}] feature cache {cache.dir}: {hits} windows found, {misses} computed")
    collator = Collator(processor, config.max_length, cache)

    # ---- optimizer, resume
    optimizer, scheduler = make_optimizer(model, config, total_steps)
    model, optimizer = accelerator.prepare(model, optimizer)
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.language_model.config.use_cache = False
    set_train_mode(unwrapped)
    step, epoch, epoch_step, samples_seen, resumed_from = 0, 0, 0, 0, None
    if resume and checkpoints:
        ckpt = checkpoints[-1]
        saved = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
        diffs = resume_differences(saved["config"], config)
        if diffs:
            raise AlmError(f"--resume: {ckpt} was made with a different recipe ({diffs[0]}: "
                           f"{_lookup(saved['config'], diffs[0])!r} then, {_lookup(config.to_dict(), diffs[0])!r} "
                           f"now); use --restart to start over")
        state = load_checkpoint(ckpt, unwrapped, optimizer, scheduler, rank, world)
        step, epoch, epoch_step, samples_seen = state["step"], state["epoch"], state["epoch_step"], state["samples"]
        resumed_from = step
        say(f"[{name}] resumed from {ckpt.name} (epoch {epoch}, step {step}/{total_steps})")
    metrics = MetricsLog(run_dir, enabled=main, tensorboard=config.tensorboard,
                         resume_step=resumed_from if resume else None)

    def run_validation(at_step: int) -> float | None:
        loss = validation_loss(accelerator, unwrapped, collator, eval_examples, config.batch_size)
        answers = []
        if main and config.data.sample_answers:
            answers = sample_answers(accelerator, unwrapped, processor, eval_examples[: config.data.sample_answers])
        if main and loss is not None:
            say(f"[{name}] step {at_step}: validation loss {loss:.4f}")
            for a in answers:
                say(f"    [{a['task']}] {a['question']!r} -> {a['answer']!r} (expected {a['expected']!r})")
            metrics.log(at_step, eval_loss=round(loss, 5), samples=answers)
        return loss

    def checkpoint(at_step: int, epoch_done: bool) -> None:
        rngs = gather_object([rng_state()])
        if main:
            position = (epoch + 1, 0) if epoch_done else (epoch, epoch_step)  # where the resumed run starts
            state = {"step": at_step, "epoch": position[0], "epoch_step": position[1], "samples": samples_seen,
                     "num_processes": world, "config": config.to_dict()}
            save_checkpoint(run_dir, at_step, unwrapped, optimizer, scheduler, state, rngs, config.keep_checkpoints)
        accelerator.wait_for_everyone()

    # ---- loop
    eval_loss = run_validation(0) if resumed_from is None and eval_examples and config.eval_every else None
    bar = tqdm(total=total_steps, initial=step, desc=name, unit="step", disable=not (progress and main),
               dynamic_ncols=True)
    window = torch.zeros(3, device=accelerator.device)  # loss sum, answer tokens, samples since the last log
    window_start, train_loss, train_time, stopped = time.perf_counter(), None, 0.0, False
    steps_this_call = samples_this_call = 0
    loader_rng = torch.Generator().manual_seed(config.seed)  # keeps DataLoader seeding off the global RNG
    while step < total_steps and not stopped:
        plan = rank_steps(epoch_batches([e.length for e in examples], config.batch_size, config.seed, epoch),
                          world, rank, config.grad_accum)
        micro = [b for s in plan[epoch_step:] for b in s]
        loader = DataLoader(examples, batch_sampler=micro, collate_fn=collator, num_workers=config.data.num_workers,
                            generator=loader_rng)
        batches = iter(loader)
        while epoch_step < len(plan) and step < total_steps:
            t_step = time.perf_counter()
            parts = [next(batches) for _ in range(config.grad_accum)]
            tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in parts)
            for i, batch in enumerate(parts):
                batch = to_device(batch, accelerator.device)
                sync = i == len(parts) - 1
                with nullcontext() if sync else accelerator.no_sync(model):
                    loss, _ = answer_loss(model, batch)
                    accelerator.backward(loss / max(1, tokens))
                window += torch.tensor([loss.item(), 0.0, 0.0], device=window.device)
            window += torch.tensor([0.0, tokens, sum(len(b["input_ids"]) for b in parts)], device=window.device)
            if config.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step, epoch_step, steps_this_call = step + 1, epoch_step + 1, steps_this_call + 1
            samples_seen += sum(len(b["input_ids"]) for b in parts) * world  # approximate on an uneven last batch
            samples_this_call += sum(len(b["input_ids"]) for b in parts) * world
            train_time += time.perf_counter() - t_step
            bar.update(1)
            if step % config.log_every == 0 or step == total_steps:
                total = accelerator.reduce(window.clone(), "sum")
                elapsed = time.perf_counter() - window_start
                train_loss = float(total[0] / total[1].clamp(min=1))
                lrs = scheduler.get_last_lr()
                values = {"loss": round(train_loss, 5), "lr": lrs[0], "lr_aligner": lrs[-1],
                          "samples_per_s": round(float(total[2]) / elapsed, 3), "epoch": epoch}
                bar.set_postfix(loss=f"{train_loss:.4f}", lr=f"{lrs[0]:.2e}", sps=f"{values['samples_per_s']:.2f}")
                metrics.log(step, **values)
                window.zero_()
                window_start = time.perf_counter()
            if config.eval_every and step % config.eval_every == 0 and step < total_steps:
                eval_loss = run_validation(step)
            if stop_after is not None and steps_this_call >= stop_after and step < total_steps:
                stopped = True
            if step < total_steps and ((config.checkpoint_every and step % config.checkpoint_every == 0)
                                       or (stopped and checkpoint_on_stop)):
                checkpoint(step, epoch_done=epoch_step == len(plan))
            if stopped:
                break
        if epoch_step >= len(plan):
            epoch, epoch_step = epoch + 1, 0
    bar.close()
    if stopped:
        say(f"[{name}] stopped after step {step}/{total_steps}; continue with --resume")
        metrics.close()
        return StageResult(None, step, train_loss, eval_loss, stopped=True)

    eval_loss = run_validation(step) if eval_examples else eval_loss
    accelerator.wait_for_everyone()
    if main:
        unwrapped.language_model.config.use_cache = True
        unwrapped.config.trained = True
        unwrapped.save_pretrained(config.model_dir, processor=processor)
        record = {
            "stage": name,
            "recipe": str(recipe) if recipe else None,
            "recipe_text": recipe.read_text(encoding="utf-8") if recipe else None,
            "command": command or " ".join(sys.argv),
            "config": config.to_dict(),
            "init": origin,
            "corpus": manifest_info(config.data.root),
            "data": asdict(stats),
            "validation_samples": len(eval_examples),
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": round(time.perf_counter() - t0, 1),
            "train_time_s_this_run": round(train_time, 1),
            "seconds_per_sample": round(train_time / max(1, samples_this_call), 4),  # wall time per sample
            "steps": step,
            "samples": samples_seen,
            "resumed_from_step": resumed_from,
            "final_train_loss": train_loss,
            "final_eval_loss": eval_loss,
            "transcripts": transcript_stats,
            "feature_cache": {**cache_stats, "lookup_hits": cache.hits if cache else 0,
                              "lookup_misses": cache.misses if cache else 0},
            "hardware": {"device": str(accelerator.device), "processes": world, "precision": config.precision,
                         "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                         "cpu_count": os.cpu_count(), "torch": torch.__version__},
        }
        earlier = _earlier_record(config)
        before = (earlier or {}).get("curriculum_wall_time_s", 0)
        record["curriculum_wall_time_s"] = round(record["wall_time_s"] + before, 1)  # this and earlier stages
        record["init_record"] = earlier  # the earlier stage's record, so the last stage documents the whole chain
        _atomic_json(config.model_dir / RECORD_FILE, record)
        remove_checkpoints(run_dir)
        say(f"[{name}] done: {step} steps, train loss {train_loss}, validation loss {eval_loss}; "
            f"model in {config.model_dir} ({record['wall_time_s']:.0f} s)")
    metrics.close()
    accelerator.wait_for_everyone()
    return StageResult(config.model_dir, step, train_loss, eval_loss, stopped=False)


def _earlier_record(config: TrainConfig) -> dict | None:
    if not config.model.init_from:
        return None
    path = resolve_init(config.model.init_from) / RECORD_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _lookup(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data
