"""The training config: one typed dataclass per stage, filled from YAML and `--set key=value` overrides.

A stage is one YAML file whose keys are the fields below (sections `model:` and `data:` nest);
`alm train --keys` lists them all. Filling and type checks are `alm.typed_config`'s (the same
loader reads benchmark declarations); `validate` adds the checks between fields. A problem raises
`ConfigError` with a one-line message that names the file and the key. Relative paths are taken
from the working directory.

The `model:` section is derived from `AlmConfig`'s fields, so a recipe accepts exactly the values
the model does (e.g. `quantization: 4bit | 8bit`); every key is optional, unset meaning AlmConfig's
default (a new model) or the checkpoint's value (`init_from`).
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from alm.model.configuration import AlmConfig
from alm.typed_config import ConfigError, apply_overrides, errors_in, fill, read_mapping, source_comments
from training.tagger import TaggerPlan

__all__ = ["ConfigError", "DataSection", "ModelSection", "TrainConfig", "config_from_dict", "load_config",
           "lookup", "model_fields", "resume_differences", "validate"]

Mode = Literal["frozen", "lora", "train"]

# AlmConfig fields that are not recipe keys: the sub-configs come from the bases, the audio token and its
# id from the processor, `freeze_encoder` follows the recipe's `encoder:` mode, the engine sets `trained`.
NOT_RECIPE_FIELDS = ("audio_config", "text_config", "audio_token", "audio_token_id", "freeze_encoder", "trained",
                     "sound_width")
# AlmConfig fields that also apply to an init_from model (the others shape a new model only)
INIT_FIELDS = ("quantization", "speech_transcripts", "sound_tags", "no_speech_gate")
# with init_from, a sound encoder may join for the tagger alone (sound_to_aligner false): the aligner it does not feed
# is unchanged (`training.engine.add_tagger_sound_encoder`)
TAGGER_ENCODER_FIELDS = ("sound_encoder", "sound_to_aligner")
# descriptions of the AlmConfig fields that have no comment there
def _model_section() -> type:
    """The `model:` dataclass: `init_from`, then each recipe-settable AlmConfig field as `type | None = None`."""
    comments = source_comments(AlmConfig)
    fields = [("init_from", str | None, field(default=None, metadata={
        "doc": "an earlier stage's output_dir (or any alm checkpoint folder) to start from"}))]
    for name, tp in inspect.get_annotations(AlmConfig, eval_str=True).items():
        if name in NOT_RECIPE_FIELDS:
            continue
        doc = comments.get(name, "")
        scope = "new model or init_from" if name in INIT_FIELDS else \
            "new model, or init_from with sound_to_aligner false" if name in TAGGER_ENCODER_FIELDS else "new model only"
        fields.append((name, tp | None, field(default=None, metadata={"doc": f"{doc} ({scope})"})))
    doc = ("Either a new model from two bases, or `init_from` an earlier stage (then the base fields stay unset). "
           "The keys other than init_from are AlmConfig's fields.")
    return dataclasses.make_dataclass("ModelSection", fields, namespace={"__module__": __name__, "__doc__": doc})


ModelSection = _model_section()

# AlmConfig fields only a new model sets
NEW_MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelSection)
                         if f.name != "init_from" and f.name not in INIT_FIELDS)


def model_fields(section) -> dict[str, Any]:
    """The AlmConfig fields a model section sets (those left unset are not given)."""
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)
            if f.name != "init_from" and getattr(section, f.name) is not None}


@dataclass
class DataSection:
    """Which records of the instruction corpus a stage trains and validates on."""

    root: str = "data/offline-corpus"  # corpus folder (holds manifest.json)
    split: str = "train"  # split trained on
    tasks: list[str] | None = None  # tasks kept (unset: all)
    stages: list[str] | None = None  # curriculum stages kept: perception, reasoning (unset: all)
    task_weights: dict[str, float] = field(default_factory=dict)  # task -> record-count multiplier (0.5 half, 2 twice)
    source_weights: dict[str, float] = field(default_factory=dict)  # source (a record's `dataset`) -> record-count
                                                                    # multiplier, on top of its task's weight
    max_per_task: int | None = None  # at most this many records of each task (seeded random choice)
    max_per_class: int | None = None  # class balance: at most this many records per task and sound class (label)
    class_caps: dict[str, int] = field(default_factory=dict)  # task -> its own max_per_class (e.g. more speech per voice)
    per_voice: list[str] = field(default_factory=list)  # labels (or parents, e.g. "human sound") balanced per voice as
    # speech is: a class per label and recording source, so grunts of 14 voice packs are not 6 grunts in all
    max_samples: int | None = None  # at most this many records in all, after the above (seeded random choice)
    balance_answers: list[str] = field(default_factory=list)  # tasks whose yes / no answers are equal per negative mode
    speech_answers: Literal["reference", "transcript"] = "reference"  # what is said: the words, or the transcript read
    speech_captions: Literal["reference", "transcript"] = "reference"  # what a speech clip's caption quotes: the
    # words, or the transcript read (needs a speech-aware model; captions whose transcript was withheld are left out)
    speech_min_words: int = 0  # "what is said" records of speech with fewer words are left out (letters, syllables)
    unheard_speech: Literal["drop", "unclear", "inaudible"] = "drop"  # with speech_answers: transcript, "what is
    # said" about speech whose transcript the no-speech gate withheld: left out, answered that the words cannot be made
    # out (a sentence), or marked as a transcript marks unintelligible speech ("[inaudible]")
    unheard_repeat: int = 1  # with unheard_speech: unclear or inaudible, each such answer this many times (v6 met 68 of
    # them beside thousands of no-speech answers that name the first tag, and never gave one: training/README.md, "v6")
    teacher: str | None = None  # a model (name or folder; "init_from": the model the stage starts from) whose own
    # answers replace the corpus's for teacher_tasks, made once before training (self-distillation replay:
    # training/teacher.py)
    teacher_tasks: list[str] = field(default_factory=list)  # tasks the teacher answers (needs teacher)
    eval_split: str = "validation"  # split for the periodic validation loss
    eval_samples: int = 64  # validation records scored (same filters; 0: no validation)
    sample_answers: int = 3  # greedy answers to validation questions printed and logged at each validation
    num_workers: int = -1  # DataLoader worker processes (-1: chosen from the cores and the device)


@dataclass
class TrainConfig:
    """One curriculum stage."""

    model: ModelSection = field(default_factory=ModelSection)  # what to train (new or init_from)
    encoder: Mode = "frozen"  # Whisper encoder: frozen | train
    aligner: Mode = "train"  # aligner: frozen | train
    llm: Mode = "lora"  # LLM: frozen | lora
    data: DataSection = field(default_factory=DataSection)  # training and validation records
    tagger: TaggerPlan = field(default_factory=TaggerPlan)  # how the sound tagger is fit (model.sound_tags)
    output_dir: str = ""  # run folder: the final model goes to <output_dir>/model, checkpoints beside it
    lr: float = 2e-4  # peak learning rate
    aligner_lr: float | None = None  # peak learning rate of the aligner (unset: lr)
    weight_decay: float = 0.0  # AdamW weight decay
    schedule: Literal["cosine", "linear", "constant"] = "cosine"  # decay after warmup
    warmup_steps: int = 0  # optimizer steps of linear warmup from 0
    min_lr_ratio: float = 0.0  # cosine/linear decay ends at lr * min_lr_ratio
    batch_size: int = 8  # samples per micro-batch per process
    grad_accum: int = 1  # micro-batches per optimizer step
    max_grad_norm: float = 1.0  # gradient clipping (0: none)
    max_length: int = 512  # token limit per sample (audio tokens included)
    overlong: Literal["skip", "truncate"] = "skip"  # samples over max_length: drop, or cut the answer's end
    epochs: int = 1  # passes over the selected records (ignored when max_steps is set)
    max_steps: int | None = None  # optimizer steps in all; overrides epochs
    seed: int = 0  # seeds model init, data selection and order, dropout
    checkpoint_every: int = 200  # optimizer steps between checkpoints (0: none)
    keep_checkpoints: int = 2  # newest checkpoints kept
    eval_every: int = 200  # optimizer steps between validations (0: only at the end)
    log_every: int = 10  # optimizer steps between metrics lines
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # autocast dtype; auto: bf16 where native, else
    # fp16 on a GPU, fp32 on a CPU (emulated bf16 is ~50x slower there); fp16 needs a GPU
    gradient_checkpointing: bool = False  # recompute LLM activations in backward (less memory, ~30% slower)
    feature_cache: str = "auto"  # frozen encoder outputs: auto ($ALM_HOME/feature-cache), off, or a folder
    transcript_cache: str = "auto"  # Whisper transcripts (speech-aware models): auto ($ALM_HOME/transcript-cache) or a folder
    cache_dtype: Literal["float16", "float32"] = "float16"  # how cached encoder outputs are stored
    tensorboard: bool = True  # also log to TensorBoard in <output_dir>/tensorboard, if it is installed
    description: str = ""  # free text, kept in the training record

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir).expanduser().resolve()

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Fields that may differ between a checkpoint's config and the resuming one.
RESUME_FREE_FIELDS = ("checkpoint_every", "keep_checkpoints", "eval_every", "log_every", "tensorboard", "transcript_cache",
                      "description", "data.num_workers", "data.sample_answers")


# --------------------------------------------------------------------------- loading
def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a stage YAML, apply `key=value` overrides, fill and validate the config."""
    path = Path(path)
    data = read_mapping(path)
    with errors_in(path.name):
        return config_from_dict(apply_overrides(data, overrides or []))


def config_from_dict(data: dict) -> TrainConfig:
    config = fill(TrainConfig, data)
    validate(config)
    return config


def validate(c: TrainConfig) -> None:
    from instruction_data.build.splits import SPLITS
    from instruction_data.schema import STAGES, TASKS

    if not c.output_dir:
        raise ConfigError("output_dir: required (the run folder; the model goes to <output_dir>/model)")
    if c.encoder == "lora" or c.aligner == "lora":
        raise ConfigError("LoRA applies to the LLM only: encoder and aligner are 'frozen' or 'train'")
    if c.llm == "train":
        raise ConfigError("llm: 'train' (full fine-tuning) is not supported: alm checkpoints keep only LoRA "
                          "adapters of the LLM; use 'lora'")
    if c.encoder == "frozen" and c.aligner == "frozen" and c.llm == "frozen":
        raise ConfigError("encoder, aligner and llm are all frozen: nothing to train")
    m = c.model
    if m.init_from:
        given = [n for n in NEW_MODEL_FIELDS if getattr(m, n) is not None and n not in TAGGER_ENCODER_FIELDS]
        if m.sound_encoder is not None and m.sound_to_aligner is not False:
            raise ConfigError(f"model.sound_encoder: {m.sound_encoder} with model.init_from joins for the sound tagger "
                              "alone: set model.sound_to_aligner: false (a new aligner input needs a new model)")
        if m.sound_to_aligner is not None and m.sound_encoder is None:
            given.append("sound_to_aligner")
        if given:
            raise ConfigError(f"model.{given[0]}: not allowed with model.init_from (the model comes from there)")
    elif not (m.audio_base and m.text_base):
        raise ConfigError("model: give init_from (an earlier stage's output_dir), or audio_base and text_base")
    if m.quantization and c.llm != "lora":
        raise ConfigError(f"model.quantization: {m.quantization} (QLoRA) needs llm: lora")
    for name, value in (("data.split", c.data.split), ("data.eval_split", c.data.eval_split)):
        if value not in SPLITS:
            raise ConfigError(f"{name}: must be one of {', '.join(SPLITS)}, got {value!r}")
    for task in [*(c.data.tasks or []), *c.data.task_weights, *c.data.balance_answers]:
        if task not in TASKS:
            raise ConfigError(f"data: unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    for stage in c.data.stages or []:
        if stage not in STAGES:
            raise ConfigError(f"data.stages: unknown stage {stage!r}; choose from {', '.join(STAGES)}")
    for name, weights in (("task_weights", c.data.task_weights), ("source_weights", c.data.source_weights)):
        for key, weight in weights.items():
            if weight < 0:
                raise ConfigError(f"data.{name}.{key}: must be >= 0, got {weight}")
    if c.data.unheard_repeat < 1:
        raise ConfigError(f"data.unheard_repeat: must be >= 1, got {c.data.unheard_repeat}")
    if c.data.unheard_repeat > 1 and c.data.unheard_speech == "drop":
        raise ConfigError("data.unheard_repeat: repeats the answers of data.unheard_speech (unclear or inaudible), "
                          "which is not set")
    for task in c.data.teacher_tasks:
        if task not in TASKS:
            raise ConfigError(f"data.teacher_tasks: unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    if c.data.teacher == "init_from" and not m.init_from:
        raise ConfigError("data.teacher: init_from names the model the stage starts from, and model.init_from is unset")
    if bool(c.data.teacher) != bool(c.data.teacher_tasks):
        raise ConfigError("data.teacher and data.teacher_tasks go together: the teacher answers the records of "
                          "those tasks")
    positive = {"lr": c.lr, "batch_size": c.batch_size, "grad_accum": c.grad_accum, "max_length": c.max_length,
                "epochs": c.epochs, "keep_checkpoints": c.keep_checkpoints, "log_every": c.log_every}
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{name}: must be > 0, got {value}")
    optional_positive = {"max_steps": c.max_steps, "aligner_lr": c.aligner_lr, "data.max_samples": c.data.max_samples,
                         "data.max_per_task": c.data.max_per_task}
    for name, value in optional_positive.items():
        if value is not None and value <= 0:
            raise ConfigError(f"{name}: must be > 0, got {value}")
    non_negative = {"warmup_steps": c.warmup_steps, "weight_decay": c.weight_decay, "max_grad_norm": c.max_grad_norm,
                    "checkpoint_every": c.checkpoint_every, "eval_every": c.eval_every,
                    "data.eval_samples": c.data.eval_samples, "data.sample_answers": c.data.sample_answers,
                    "data.speech_min_words": c.data.speech_min_words}
    for name, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"{name}: must be >= 0, got {value}")
    if c.data.num_workers < -1:
        raise ConfigError(f"data.num_workers: must be >= 0, or -1 to choose from the cores; got {c.data.num_workers}")
    if not 0.0 <= c.min_lr_ratio <= 1.0:
        raise ConfigError(f"min_lr_ratio: must be in [0, 1], got {c.min_lr_ratio}")
    if m.lora_dropout is not None and not 0.0 <= m.lora_dropout < 1.0:
        raise ConfigError(f"model.lora_dropout: must be in [0, 1), got {m.lora_dropout}")
    if not 0.0 <= c.tagger.label_smoothing < 1.0:
        raise ConfigError(f"tagger.label_smoothing: must be in [0, 1), got {c.tagger.label_smoothing}")
    if c.tagger.batch_size < 0:
        raise ConfigError(f"tagger.batch_size: 0 (every fitting clip each step) or a batch size; got {c.tagger.batch_size}")
    if c.tagger.layers < 1:
        raise ConfigError(f"tagger.layers: the last Whisper layers the tagger reads, at least 1; got {c.tagger.layers}")
    if c.tagger.steps < 1:
        raise ConfigError(f"tagger.steps: the fit's optimizer steps, at least 1; got {c.tagger.steps}")


def flat_items(data: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and key not in ("task_weights", "source_weights"):
            out.update(flat_items(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def resume_differences(saved: dict, current: TrainConfig) -> list[str]:
    """Keys whose values differ in ways a resumed run cannot absorb."""
    a, b = flat_items(saved), flat_items(current.to_dict())
    return [k for k in sorted(set(a) | set(b)) if k not in RESUME_FREE_FIELDS and a.get(k) != b.get(k)]


def lookup(data: dict, dotted: str) -> Any:
    """{"a": {"b": 1}}, "a.b" -> 1 (None where a part is missing)."""
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data
