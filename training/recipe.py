"""`StageRecipe`: one curriculum stage, laid out as torchtune's recipes are: setup, train, finalize.

setup()     the accelerator; the model (new or init_from, frozen per the recipe); the data (selected,
            measured; Whisper transcripts and frozen-encoder features cached); AdamW and its schedule;
            the position of the newest checkpoint when resuming
train()     optimizer steps over length-grouped batches, with metrics, validation and checkpoints on schedule
finalize()  a last validation, then the trained model in `<output_dir>/model` and its training record
            (written last: it marks the stage done); only a message when the stage was stopped early

The parts (model, optimizer, loss, validation) are functions in `training.engine`.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from accelerate.utils import gather_object, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from alm.errors import AlmError
from alm.files import atomic_write_json
from alm.processor import IGNORE_INDEX
from training.checkpointing import list_checkpoints, load_checkpoint, remove_checkpoints, rng_state, save_checkpoint
from training.config import TrainConfig, lookup, resume_differences
from training.data import (ClipLengths, Collator, attach_window_keys, epoch_batches, loader_workers,
                           prepare_examples, rank_steps, select_eval_records, select_records,
                           transcript_answers)
from training.engine import (RECORD_FILE, StageResult, answer_loss, build_model, earlier_record, hardware,
                             make_accelerator, make_optimizer, manifest_info, resolve_precision, sample_answers,
                             set_train_mode, stage_transcripts, to_device, validation_loss)
from training.feature_cache import FeatureCache, default_cache_root, encoder_identity, precompute
from training.logs import MetricsLog
from training.tagger import stage_tags
from training.teacher import teacher_answers


@dataclass
class Position:
    """How far the run is: checkpoints save it, --resume restores it."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # the pass over the data under way
    epoch_step: int = 0  # optimizer steps done in this epoch
    samples: int = 0  # samples seen by all processes (approximate on an uneven last batch)


class StageRecipe:
    """One stage of a curriculum: `StageRecipe(config).run()` is setup(), train(), finalize()."""

    def __init__(self, config: TrainConfig, *, recipe: Path | None = None, resume: bool = False,
                 restart: bool = False, stop_after: int | None = None, checkpoint_on_stop: bool = True,
                 command: str | None = None, progress: bool = True, name: str | None = None):
        self.config = config
        self.recipe = recipe  # the stage file (kept in the training record), if there is one
        self.resume = resume  # continue from the newest checkpoint
        self.restart = restart  # discard checkpoints and start over
        self.stop_after = stop_after  # stop after this many steps in this call, as if killed
        self.checkpoint_on_stop = checkpoint_on_stop  # leave a checkpoint when stop_after stops the stage
        self.command = command or " ".join(sys.argv)  # the command line, for the training record
        self.progress = progress  # progress bars
        self.name = name or (recipe.stem if recipe else "stage")  # prefix of messages, e.g. stage1

    def run(self) -> StageResult:
        self.setup()
        self.train()
        return self.finalize()

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    def say(self, text: str) -> None:
        if self.main:
            tqdm.write(f"[{self.name}] {text}")

    # --------------------------------------------------------------------------- setup
    def setup(self) -> None:
        """Everything the loop needs, in an order that keeps the RNG streams (and so resume) exact."""
        self.started, self.t0 = datetime.now(timezone.utc), time.perf_counter()
        checkpoints = self._checkpoints_to_resume()
        self.precision, why = resolve_precision(self.config.precision)
        self.accelerator = make_accelerator(self.precision)
        if why:
            self.say(why)
        self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
        set_seed(self.config.seed)
        self._setup_model()
        self._place_model()  # before the data: a tagging stage encodes its clips while choosing them
        self._open_feature_cache()
        self._setup_data()
        self._setup_feature_cache()
        self.collator = Collator(self.processor, self.config.max_length, self.cache, audio=self.soft_prompts)
        self._setup_optimizer()
        self.position, self.resumed_from = Position(), None
        if self.resume and checkpoints:
            self._load_checkpoint(checkpoints[-1])
        self.metrics = MetricsLog(self.config.run_dir, enabled=self.main, tensorboard=self.config.tensorboard,
                                  resume_step=self.resumed_from if self.resume else None)

    def _checkpoints_to_resume(self) -> list[Path]:
        """The run folder's checkpoints; refuses to start over them unless told to resume or restart."""
        run_dir = self.config.run_dir
        checkpoints = list_checkpoints(run_dir)
        if checkpoints and not (self.resume or self.restart):
            raise AlmError(f"{run_dir} holds checkpoints of an unfinished run (newest: {checkpoints[-1].name}); "
                           f"pass --resume to continue it or --restart to start over")
        if self.restart:
            remove_checkpoints(run_dir)
            checkpoints = []
        return checkpoints

    def _setup_model(self) -> None:
        c = self.config
        self.model, self.processor, self.origin = build_model(c)
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        self.say(f"model: {self.origin}; training encoder={c.encoder} aligner={c.aligner} llm={c.llm} "
                 f"({trainable / 1e6:.2f}M parameters)")

    def _setup_data(self) -> None:
        """Training and validation examples with exact token lengths; the number of steps."""
        c = self.config
        records = select_records(c.data, c.seed)
        eval_records = select_eval_records(c.data, c.seed)
        self.teacher_stats = None
        if c.data.teacher:
            records = self._teacher_answers(records)
        paths = [p for r in [*records, *eval_records] for p in r.sound]
        tags = self._setup_tags(paths)
        transcripts = self._setup_transcripts(paths, tags)
        quoting = [k for k in ("speech_answers", "speech_captions") if getattr(c.data, k) == "transcript"]
        if quoting:
            if transcripts is None:
                raise AlmError(f"data.{quoting[0]}: transcript needs a speech-aware model (model.speech_transcripts)")
            answers, captions = "speech_answers" in quoting, "speech_captions" in quoting
            unheard = c.data.unheard_speech
            records, withheld, unclear = transcript_answers(records, transcripts, captions, answers, unheard,
                                                            c.data.unheard_repeat)
            eval_records, *_ = transcript_answers(eval_records, transcripts, captions, answers, unheard)
            self.say(f"{' and '.join(k.replace('_', ' ') for k in quoting)} quote the transcript the model reads; "
                     f"{withheld} records of speech left out (the no-speech gate withheld their clip's transcript)"
                     + (f"; {unclear} asked what is said about such clips answered that the words cannot be made out"
                        if unheard != "drop" and answers else ""))
        lengths = self.clip_lengths = ClipLengths()
        self.examples, self.data_stats = prepare_examples(records, self.processor, c.max_length, c.overlong,
                                                          lengths, transcripts, tags)
        self.eval_examples, _ = prepare_examples(eval_records, self.processor, c.max_length, c.overlong, lengths,
                                                 transcripts, tags)
        if not self.examples:
            raise AlmError(f"no training samples fit max_length={c.max_length}")
        s = self.data_stats
        self.say(f"data: {s.kept} samples ({s.skipped_overlong} over max_length skipped, {s.truncated} truncated), "
                 f"{s.mean_tokens} tokens on average; {len(self.eval_examples)} for validation")
        per_epoch = len(self._epoch_plan(0))
        if per_epoch == 0:
            raise AlmError(f"{len(self.examples)} samples make no whole step of batch_size={c.batch_size} x "
                           f"grad_accum={c.grad_accum} x {self.world} processes")
        self.total_steps = c.max_steps or per_epoch * c.epochs

    def _teacher_answers(self, records: list) -> list:
        """The records of data.teacher_tasks answered by data.teacher (`training.teacher`), on the main process."""
        c = self.config
        teacher = c.model.init_from if c.data.teacher == "init_from" else c.data.teacher
        path = c.run_dir / "teacher-answers.jsonl"
        if self.main:
            records, stats = teacher_answers(records, teacher, c.data.teacher_tasks, path,
                                             str(self.accelerator.device), self.say)
            self.teacher_stats = {"model": teacher, **asdict(stats)}
            self.say(f"teacher {teacher}: {stats.answered} records of {len(c.data.teacher_tasks)} tasks "
                     f"answered ({stats.cached} from {path.name}), {stats.changed} unlike the corpus's answer; "
                     f"{stats.kept} keep the corpus's (earlier turns, answers cut at the token limit)")
        self.accelerator.wait_for_everyone()
        if not self.main:  # the others read what the main process wrote
            records, _ = teacher_answers(records, teacher, c.data.teacher_tasks, path, "cpu", lambda _: None)
        return records

    def _setup_transcripts(self, paths: list[str], tags) -> dict[str, str] | None:
        """Whisper transcripts of the clips (path -> text) for a speech-aware model, else None. Behind the tagger's
        speech gate (`tags`, a `training.tagger.StageTags`, or None) as `alm.inference.Assistant.transcribe` gates:
        a clip that may keep no transcript (`SoundTagger.may_keep`: no speech heard and, with `speech_gate_words`,
        under the gate's floor) is not decoded and gets none (""), nor does one whose transcript the gate does not
        keep (`SoundTagger.keeps_transcript`)."""
        self.transcript_stats = {"enabled": False}
        if not self.model.config.speech_transcripts:
            return None
        clips = sorted(set(paths))
        gate = tags.tagger if tags is not None and tags.tagger.settings.speech_gate else None
        heard = dict(zip(clips, tags.hears_speech(clips))) if gate else {}
        decode = [p for p in clips if gate is None or gate.may_keep(heard[p])]
        transcripts, self.transcript_stats = stage_transcripts(self.config, self.model.config, decode,
                                                               self.accelerator, self.progress and self.main)
        stats = self.transcript_stats
        self.say(f"transcripts {stats['dir']}: {stats['precompute_hits']} clips found, "
                 f"{stats['precompute_misses']} transcribed")
        if gate is None:
            return transcripts
        kept = {p: gate.keeps_transcript(t, heard[p]) for p, t in transcripts.items()}
        stats["tagger_not_decoded"] = len(clips) - len(decode)
        stats["tagger_gated"] = sum(bool(t) and not kept[p] for p, t in transcripts.items())
        self.say(f"tagger speech gate: {stats['tagger_not_decoded']} of {len(clips)} clips not decoded, "
                 f"{stats['tagger_gated']} of {sum(map(bool, transcripts.values()))} transcripts withheld")
        return {p: transcripts[p] if kept.get(p) else "" for p in clips}

    def _setup_tags(self, paths: list[str]):
        """Sound tags of the clips (`training.tagger.StageTags`) for a model that reads them, else None; fits the tagger
        first if the model has none (`training.tagger.stage_tags`)."""
        self.tag_stats = {"enabled": False}
        if not self.model.config.sound_tags:
            return None
        if self.cache is None:
            raise AlmError("model.sound_tags needs a frozen encoder and the feature cache (encoder: frozen, "
                           "feature_cache: auto or a folder)")
        tags, self.tag_stats = stage_tags(self.model, self.processor, self.cache, self.config.data.root,
                                          sorted(set(paths)), self.config.tagger, self.config.seed,
                                          self._precompute, progress=self.progress and self.main, say=self.say)
        return tags

    def _precompute(self, paths: list[str], clips: dict[str, tuple[int, list[str]]], cache=None,
                    stats_layers: int = 0, sound_block: bool = False) -> tuple[int, int]:
        """Fill the feature cache with the clips' encoder frames (each process its share); `clips` gets every
        clip's (samples, window keys). Clips an earlier pass of this stage saw (the tagging pass) are not read
        again. With `stats_layers`, fill `cache` with every clip's layer stats instead (the stage's frames pass
        still reads them), and with `sound_block` the sound encoder's stats as one more block
        (`training.feature_cache.precompute`). Returns (windows found, windows computed) of this pass."""
        frames = not stats_layers
        todo = [p for p in dict.fromkeys(paths) if not frames or p not in self.clip_keys]
        cache = self.cache if frames else cache
        mine: dict[str, tuple[int, list[str]]] = {}
        hits, misses = precompute(cache, self.model, self.processor, todo, self.rank, self.world,
                                  progress=self.progress and self.main, clips=mine, stats_layers=stats_layers,
                                  sound_block=sound_block)
        self.accelerator.wait_for_everyone()
        cache.reload()
        if self.world > 1:  # each process saw its share of the clips
            mine = {k: v for part in gather_object([mine]) for k, v in part.items()}
        if frames:
            self.clip_keys.update(mine)
            mine = self.clip_keys
        clips.update({p: mine[p] for p in paths if p in mine})
        return hits, misses

    def _epoch_plan(self, epoch: int) -> list[list[list[int]]]:
        """This process's optimizer steps in `epoch`: each a list of micro-batches of example indices."""
        c = self.config
        batches = epoch_batches([e.length for e in self.examples], c.batch_size, c.seed, epoch)
        return rank_steps(batches, self.world, self.rank, c.grad_accum)

    def _place_model(self) -> None:
        device = self.accelerator.device
        if self.config.model.quantization:  # bitsandbytes placed the quantized LLM on the GPU already
            self.model.audio_encoder.to(device)
            self.model.aligner.to(device)
        else:
            self.model.to(device)

    def _open_feature_cache(self) -> None:
        """The frozen encoder's feature cache (None when the encoder trains or the recipe turns it off)."""
        c = self.config
        self.cache, self.cache_stats = None, {"enabled": False}
        self.clip_keys: dict[str, tuple[int, list[str]]] = {}  # path -> (samples, window keys), once per stage
        if c.encoder != "frozen" or c.feature_cache == "off":
            return
        root = default_cache_root() if c.feature_cache == "auto" else Path(c.feature_cache)
        self.cache = FeatureCache(root, encoder_identity(self.model), c.cache_dtype)

    @property
    def soft_prompts(self) -> bool:
        """Whether the model's prompts carry aligner outputs (not with `aligner: none`, whose clips are notes)."""
        return self.accelerator.unwrap_model(self.model).config.aligner != "none"

    def _setup_feature_cache(self) -> None:
        """A frozen encoder's outputs for every clip, computed once (shared by processes, stages and runs)."""
        if self.cache is None or not self.soft_prompts:
            return
        paths = [p for ex in [*self.examples, *self.eval_examples] for p in ex.sound]
        clips: dict[str, tuple[int, list[str]]] = {}
        hits, misses = self._precompute(paths, clips)
        keyed = attach_window_keys([*self.examples, *self.eval_examples], clips, self.clip_lengths)
        self.cache_stats = {"enabled": True, "dir": str(self.cache.dir), "precompute_hits": hits,
                            "precompute_misses": misses}
        self.say(f"feature cache {self.cache.dir}: {hits} windows found, {misses} computed; "
                 f"{keyed} samples read from it without audio or tokenizing")

    def _setup_optimizer(self) -> None:
        self.optimizer, self.scheduler = make_optimizer(self.model, self.config, self.total_steps)
        self.model, self.optimizer = self.accelerator.prepare(self.model, self.optimizer)  # model: DDP-wrapped
        self.unwrapped = self.accelerator.unwrap_model(self.model)
        self.unwrapped.language_model.config.use_cache = False
        set_train_mode(self.unwrapped)

    def _load_checkpoint(self, ckpt: Path) -> None:
        """Weights, optimizer, scheduler, RNG and data position of `ckpt`, made with the same recipe."""
        saved = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
        diffs = resume_differences(saved["config"], self.config)
        if diffs:
            key = diffs[0]
            raise AlmError(f"--resume: {ckpt} was made with a different recipe ({key}: "
                           f"{lookup(saved['config'], key)!r} then, {lookup(self.config.to_dict(), key)!r} "
                           f"now); use --restart to start over")
        state = load_checkpoint(ckpt, self.unwrapped, self.optimizer, self.scheduler, self.rank, self.world)
        self.position = Position(state["step"], state["epoch"], state["epoch_step"], state["samples"])
        self.resumed_from = self.position.step
        self.say(f"resumed from {ckpt.name} (epoch {self.position.epoch}, step {self.position.step}/"
                 f"{self.total_steps})")

    # --------------------------------------------------------------------------- the loop
    def train(self) -> None:
        """Optimizer steps until total_steps, or until stop_after steps in this call (then `stopped`)."""
        c, p = self.config, self.position
        first_eval = self.resumed_from is None and self.eval_examples and c.eval_every
        self.eval_loss = self.validate(0) if first_eval else None
        self.bar = tqdm(total=self.total_steps, initial=p.step, desc=self.name, unit="step",
                        disable=not (self.progress and self.main), dynamic_ncols=True)
        # loss sum, answer tokens, samples and seconds waiting for data since the last log
        self.window = torch.zeros(4, device=self.accelerator.device)
        self.window_start, self.train_loss, self.train_time, self.stopped = time.perf_counter(), None, 0.0, False
        self.steps_this_call = self.samples_this_call = 0
        self.data_wait = 0.0  # seconds of train_time spent waiting for batches
        loader_rng = torch.Generator().manual_seed(c.seed)  # keeps DataLoader seeding off the global RNG
        workers = loader_workers(c.data.num_workers, self.accelerator.device)
        cuda = self.accelerator.device.type == "cuda"
        loader_options = {"num_workers": workers, "pin_memory": cuda}
        if workers:
            loader_options["prefetch_factor"] = 4
        self.say(f"data loader: {workers} worker process(es)" + (", pinned memory" if cuda else ""))
        while p.step < self.total_steps and not self.stopped:
            plan = self._epoch_plan(p.epoch)
            micro = [b for s in plan[p.epoch_step:] for b in s]  # the epoch's micro-batches still to do
            batches = iter(DataLoader(self.examples, batch_sampler=micro, collate_fn=self.collator,
                                      generator=loader_rng, **loader_options))
            while p.epoch_step < len(plan) and p.step < self.total_steps and not self.stopped:
                self._step(batches)
                self._after_step(epoch_done=p.epoch_step == len(plan))
            if p.epoch_step >= len(plan):
                p.epoch, p.epoch_step = p.epoch + 1, 0
        self.bar.close()

    def _step(self, batches) -> None:
        """One optimizer step over grad_accum micro-batches; the loss is normalized by the step's answer tokens."""
        t_step = time.perf_counter()
        parts = [next(batches) for _ in range(self.config.grad_accum)]
        self.data_wait += time.perf_counter() - t_step
        self.window[3] += time.perf_counter() - t_step
        tokens = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in parts)
        for i, batch in enumerate(parts):
            sync = i == len(parts) - 1  # DDP all-reduces gradients on the last micro-batch only
            with nullcontext() if sync else self.accelerator.no_sync(self.model):
                loss, _ = answer_loss(self.model, to_device(batch, self.accelerator.device))
                self.accelerator.backward(loss / max(1, tokens))
            self.window[0] += loss.item()
        samples = sum(len(b["input_ids"]) for b in parts)
        self.window[1:3] += torch.tensor([tokens, samples], device=self.window.device)
        if self.config.max_grad_norm:
            self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.position.step, self.position.epoch_step = self.position.step + 1, self.position.epoch_step + 1
        self.position.samples += samples * self.world
        self.steps_this_call += 1
        self.samples_this_call += samples * self.world
        self.train_time += time.perf_counter() - t_step
        self.bar.update(1)

    def _after_step(self, epoch_done: bool) -> None:
        """Metrics, validation, stopping and a checkpoint, each when its schedule says so."""
        c, step, total = self.config, self.position.step, self.total_steps
        if step % c.log_every == 0 or step == total:
            self._log_window()
        if c.eval_every and step % c.eval_every == 0 and step < total:
            self.eval_loss = self.validate(step)
        self.stopped = self.stop_after is not None and self.steps_this_call >= self.stop_after and step < total
        due = c.checkpoint_every and step % c.checkpoint_every == 0
        if step < total and (due or (self.stopped and self.checkpoint_on_stop)):
            self.checkpoint(epoch_done)

    def _log_window(self) -> None:
        """Training loss, learning rates and speed since the last log, over all processes."""
        total = self.accelerator.reduce(self.window.clone(), "sum")
        elapsed = time.perf_counter() - self.window_start
        self.train_loss = float(total[0] / total[1].clamp(min=1))
        lrs = self.scheduler.get_last_lr()
        values = {"loss": round(self.train_loss, 5), "lr": lrs[0], "lr_aligner": lrs[-1],
                  "samples_per_s": round(float(total[2]) / elapsed, 3), "epoch": self.position.epoch,
                  "data_wait_share": round(float(total[3]) / self.world / elapsed, 4)}
        self.bar.set_postfix(loss=f"{self.train_loss:.4f}", lr=f"{lrs[0]:.2e}", sps=f"{values['samples_per_s']:.2f}")
        self.metrics.log(self.position.step, **values)
        self.window.zero_()
        self.window_start = time.perf_counter()

    def validate(self, at_step: int) -> float | None:
        """Validation loss (all processes) and a few greedy answers (main process), printed and logged."""
        loss = validation_loss(self.accelerator, self.unwrapped, self.collator, self.eval_examples,
                               self.config.batch_size)
        answers = []
        if self.main and self.config.data.sample_answers:
            answers = sample_answers(self.accelerator, self.unwrapped, self.processor,
                                     self.eval_examples[: self.config.data.sample_answers])
        if self.main and loss is not None:
            self.say(f"step {at_step}: validation loss {loss:.4f}")
            for a in answers:
                tqdm.write(f"    [{a['task']}] {a['question']!r} -> {a['answer']!r} (expected {a['expected']!r})")
            self.metrics.log(at_step, eval_loss=round(loss, 5), samples=answers)
        return loss

    def checkpoint(self, epoch_done: bool) -> None:
        """Save the trainable weights, optimizer, scheduler, every process's RNG and where to start again."""
        p = self.position
        rngs = gather_object([rng_state()])
        if self.main:
            epoch, epoch_step = (p.epoch + 1, 0) if epoch_done else (p.epoch, p.epoch_step)  # where a resume starts
            state = {"step": p.step, "epoch": epoch, "epoch_step": epoch_step, "samples": p.samples,
                     "num_processes": self.world, "config": self.config.to_dict()}
            save_checkpoint(self.config.run_dir, p.step, self.unwrapped, self.optimizer, self.scheduler, state, rngs,
                            self.config.keep_checkpoints)
        self.accelerator.wait_for_everyone()

    # --------------------------------------------------------------------------- the end
    def finalize(self) -> StageResult:
        """Stopped early: a message (the checkpoint is written). Else: last validation, model, record."""
        p = self.position
        if self.stopped:
            self.say(f"stopped after step {p.step}/{self.total_steps}; continue with --resume")
            self.metrics.close()
            return StageResult(None, p.step, self.train_loss, self.eval_loss, stopped=True)
        self.eval_loss = self.validate(p.step) if self.eval_examples else self.eval_loss
        self.accelerator.wait_for_everyone()
        if self.main:
            self._save()
        self.metrics.close()
        self.accelerator.wait_for_everyone()
        return StageResult(self.config.model_dir, p.step, self.train_loss, self.eval_loss, stopped=False)

    def _save(self) -> None:
        """The trained model, then its record (last: it marks the stage done); the checkpoints go."""
        c = self.config
        self.unwrapped.language_model.config.use_cache = True
        self.unwrapped.config.trained = True
        self.unwrapped.save_pretrained(c.model_dir, processor=self.processor)
        record = self.record()
        atomic_write_json(c.model_dir / RECORD_FILE, record)
        remove_checkpoints(c.run_dir)
        self.say(f"done: {self.position.step} steps, train loss {self.train_loss}, validation loss "
                 f"{self.eval_loss}; model in {c.model_dir} ({record['wall_time_s']:.0f} s)")

    def record(self) -> dict:
        """training_record.json: recipe, config, data, timing, results, caches, hardware; the earlier stage's."""
        c, p = self.config, self.position
        wall_time = round(time.perf_counter() - self.t0, 1)
        earlier = earlier_record(c)
        return {
            "stage": self.name,
            "recipe": str(self.recipe) if self.recipe else None,
            "recipe_text": self.recipe.read_text(encoding="utf-8") if self.recipe else None,
            "command": self.command,
            "config": c.to_dict(),
            "init": self.origin,
            "corpus": manifest_info(c.data.root),
            "data": asdict(self.data_stats),
            "validation_samples": len(self.eval_examples),
            "started": self.started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": wall_time,
            "train_time_s_this_run": round(self.train_time, 1),
            "seconds_per_sample": round(self.train_time / max(1, self.samples_this_call), 4),  # wall time per sample
            "data_wait_share": round(self.data_wait / max(1e-9, self.train_time), 4),  # share of it waiting for data
            "steps": p.step,
            "samples": p.samples,
            "resumed_from_step": self.resumed_from,
            "final_train_loss": self.train_loss,
            "final_eval_loss": self.eval_loss,
            "transcripts": self.transcript_stats,
            "teacher": self.teacher_stats,
            "sound_tags": self.tag_stats,
            "feature_cache": {**self.cache_stats, "lookup_hits": self.cache.hits if self.cache else 0,
                              "lookup_misses": self.cache.misses if self.cache else 0},
            "hardware": hardware(self.accelerator, self.precision),
            # this and the earlier stages; the earlier stage's record, so the last one documents the whole chain
            "curriculum_wall_time_s": round(wall_time + (earlier or {}).get("curriculum_wall_time_s", 0), 1),
            "init_record": earlier,
        }
