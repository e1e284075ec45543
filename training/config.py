"""The training config: one typed dataclass per stage, filled from YAML and `--set key=value` overrides.

A stage is one YAML file whose keys are the fields below (sections `model:` and `data:` nest).
Everything is validated on load; a problem raises `ConfigError` with a one-line message that
names the file and the key. Relative paths are taken from the working directory.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from alm.errors import AlmError

Mode = Literal["frozen", "lora", "train"]


class ConfigError(AlmError):
    """A recipe or an override is wrong: unknown key, wrong type, bad value."""


@dataclass
class ModelSection:
    """Either a new model from two bases, or `init_from` an earlier stage (then the base fields stay unset)."""

    init_from: str | None = None  # an earlier stage's output_dir (or any alm checkpoint folder) to start from
    audio_base: str | None = None  # new model: Whisper base (Hugging Face id, folder or builtin:NAME)
    text_base: str | None = None  # new model: causal LM base (id, folder or builtin:NAME)
    aligner: Literal["mlp", "pool", "qformer"] | None = None  # new model: aligner kind (unset: AlmConfig default)
    aligner_stack: int | None = None  # new model, mlp: encoder frames stacked into one token
    aligner_hidden: int | None = None  # new model, mlp: hidden width
    pool_stride: int | None = None  # new model, pool: encoder frames averaged into one token
    qformer_queries: int | None = None  # new model, qformer: learnable queries per window
    qformer_layers: int | None = None  # new model, qformer: decoder layers
    qformer_heads: int | None = None  # new model, qformer: attention heads
    instruction_aware: bool | None = None  # new model, qformer: queries also see the question
    window_seconds: float | None = None  # new model: Whisper window length in seconds (<= 30)
    lora_r: int | None = None  # new model: LoRA rank
    lora_alpha: int | None = None  # new model: LoRA alpha
    lora_dropout: float | None = None  # new model: LoRA dropout
    lora_targets: list[str] | None = None  # new model: LLM modules given LoRA adapters
    quantization: Literal["4bit"] | None = None  # QLoRA: load the LLM in 4 bit (needs bitsandbytes and CUDA)
    speech_transcripts: bool | None = None  # give the LLM Whisper transcripts of the clips (LTU-AS); unset: keep


# AlmConfig fields only a new model sets (quantization and speech_transcripts also apply to init_from)
NEW_MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(ModelSection)
                         if f.name not in ("init_from", "quantization", "speech_transcripts"))


@dataclass
class DataSection:
    """Which records of the instruction corpus a stage trains and validates on."""

    root: str = "data/offline-corpus"  # corpus folder (holds manifest.json)
    split: str = "train"  # split trained on
    tasks: list[str] | None = None  # tasks kept (unset: all)
    stages: list[str] | None = None  # curriculum stages kept: perception, reasoning (unset: all)
    task_weights: dict[str, float] = field(default_factory=dict)  # task -> record-count multiplier (0.5 half, 2 twice)
    max_per_task: int | None = None  # at most this many records of each task (seeded random choice)
    max_samples: int | None = None  # at most this many records in all, after the above (seeded random choice)
    eval_split: str = "validation"  # split for the periodic validation loss
    eval_samples: int = 64  # validation records scored (same filters; 0: no validation)
    sample_answers: int = 3  # greedy answers to validation questions printed and logged at each validation
    num_workers: int = 0  # DataLoader worker processes (audio loading, tokenizing)


@dataclass
class TrainConfig:
    """One curriculum stage."""

    model: ModelSection = field(default_factory=ModelSection)  # what to train (new or init_from)
    encoder: Mode = "frozen"  # Whisper encoder: frozen | train
    aligner: Mode = "train"  # aligner: frozen | train
    llm: Mode = "lora"  # LLM: frozen | lora
    data: DataSection = field(default_factory=DataSection)  # training and validation records
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
    precision: Literal["bf16", "fp16", "fp32"] = "bf16"  # autocast dtype (fp16 needs a GPU)
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


# --------------------------------------------------------------------------- typed filling
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(map(str, typing.get_args(tp)))
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` as type `tp`, or ConfigError naming `key`."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a section (mapping), got {value!r}")
        return _fill(tp, value, key + ".")
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{key}: must be one of {', '.join(map(str, typing.get_args(tp)))}, got {value!r}")
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        return [_coerce(v, typing.get_args(tp)[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _coerce(v, vt, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)  # YAML reads 1e-3 (no dot) as a string
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {tp!r} for {key}")


def _fill(cls, data: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown key '{prefix}{key}'; known keys: {', '.join(names)}")
    return cls(**{k: _coerce(v, hints[k], prefix + k) for k, v in data.items()})


# --------------------------------------------------------------------------- loading
def parse_override(text: str) -> tuple[list[str], Any]:
    """`data.max_samples=100` -> (["data", "max_samples"], 100); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set lr=1e-3")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    data = dict(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
        node[parts[-1]] = value
    return data


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a stage YAML, apply `key=value` overrides, fill and validate the config."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    try:
        return config_from_dict(apply_overrides(data, overrides or []))
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None


def config_from_dict(data: dict) -> TrainConfig:
    config = _fill(TrainConfig, data)
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
        given = [n for n in NEW_MODEL_FIELDS if getattr(m, n) is not None]
        if given:
            raise ConfigError(f"model.{given[0]}: not allowed with model.init_from (the model comes from there)")
    elif not (m.audio_base and m.text_base):
        raise ConfigError("model: give init_from (an earlier stage's output_dir), or audio_base and text_base")
    if m.quantization and c.llm != "lora":
        raise ConfigError("model.quantization: 4bit (QLoRA) needs llm: lora")
    for name, value in (("data.split", c.data.split), ("data.eval_split", c.data.eval_split)):
        if value not in SPLITS:
            raise ConfigError(f"{name}: must be one of {', '.join(SPLITS)}, got {value!r}")
    for task in [*(c.data.tasks or []), *c.data.task_weights]:
        if task not in TASKS:
            raise ConfigError(f"data: unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    for stage in c.data.stages or []:
        if stage not in STAGES:
            raise ConfigError(f"data.stages: unknown stage {stage!r}; choose from {', '.join(STAGES)}")
    for task, weight in c.data.task_weights.items():
        if weight < 0:
            raise ConfigError(f"data.task_weights.{task}: must be >= 0, got {weight}")
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
                    "data.num_workers": c.data.num_workers}
    for name, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"{name}: must be >= 0, got {value}")
    if not 0.0 <= c.min_lr_ratio <= 1.0:
        raise ConfigError(f"min_lr_ratio: must be in [0, 1], got {c.min_lr_ratio}")
    if m.lora_dropout is not None and not 0.0 <= m.lora_dropout < 1.0:
        raise ConfigError(f"model.lora_dropout: must be in [0, 1), got {m.lora_dropout}")


def flat_items(data: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "task_weights":
            out.update(flat_items(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def resume_differences(saved: dict, current: TrainConfig) -> list[str]:
    """Keys whose values differ in ways a resumed run cannot absorb."""
    a, b = flat_items(saved), flat_items(current.to_dict())
    return [k for k in sorted(set(a) | set(b)) if k not in RESUME_FREE_FIELDS and a.get(k) != b.get(k)]
