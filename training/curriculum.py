"""Recipes and curricula: a stage is a YAML file; a curriculum is a folder of them, run in name order.

Each stage names the previous stage's `output_dir` as `model.init_from`. Stages whose final model
already exists are skipped, so rerunning a curriculum after an interruption continues where it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from alm.errors import AlmError
from training.config import TrainConfig, load_config
from training.teacher import asks

RECIPES = Path(__file__).parent / "recipes"


@dataclass
class Stage:
    name: str  # the file's stem, e.g. stage1
    path: Path  # the YAML file
    config: TrainConfig


def packaged_recipes() -> list[str]:
    return sorted(p.name for p in RECIPES.iterdir() if p.is_dir() or p.suffix == ".yaml") if RECIPES.is_dir() else []


def find_recipe(name: str | Path) -> Path:
    """A path to a YAML file or folder, else a packaged recipe (`alm-tiny`, `alm-tiny/stage1`)."""
    path = Path(name).expanduser()
    if path.exists():
        return path
    for candidate in (RECIPES / str(name), RECIPES / f"{name}.yaml"):
        if candidate.exists():
            return candidate
    known = ", ".join(packaged_recipes()) or "none"
    raise AlmError(f"{name}: no such recipe file or folder (packaged recipes: {known})")


def load_stages(recipe: str | Path, overrides: list[str] | None = None, out: str | Path | None = None) -> list[Stage]:
    """The stage files of a recipe, loaded and validated (all of them, before anything trains). With `out`, each
    stage trains into `<out>/<stage name>` and a stage starting from an earlier one's output_dir starts from its new
    folder: the same curriculum, another run (a candidate beside the shipped model, another corpus)."""
    path = find_recipe(recipe)
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise AlmError(f"{path}: no stage files (*.yaml) in this folder")
    overrides = overrides or []
    model_sets = [o for o in overrides if is_new_model_override(o)]
    if model_sets and all(starts_from_earlier(f, overrides) for f in files):
        raise AlmError(f"--set {model_sets[0]}: every stage of {path.name} starts from an earlier model "
                       "(model.init_from), which it would not change; set it on the recipe whose stage builds the model")
    stages = [Stage(f.stem, f, load_config(f, stage_overrides(f, overrides))) for f in files]
    if out is not None:
        _relocate(stages, Path(out).expanduser())
    outputs = [s.config.run_dir for s in stages]
    if len(set(outputs)) != len(outputs):
        raise AlmError(f"{path}: two stages share one output_dir")
    for i, stage in enumerate(stages):
        init = stage.config.model.init_from
        if init and Path(init).expanduser().resolve() in outputs[i:]:
            raise AlmError(f"{stage.path.name}: model.init_from {init} is this or a later stage's output_dir")
    return stages


def is_new_model_override(override: str) -> bool:
    """Whether `--set` text sets a field of a new model's build (`model.sound_encoder=...`, not `model.init_from`)."""
    from alm.typed_config import parse_override
    from training.config import NEW_MODEL_FIELDS

    parts = parse_override(override)[0]
    return len(parts) == 2 and parts[0] == "model" and parts[1] in NEW_MODEL_FIELDS


def starts_from_earlier(path: Path, overrides: list[str]) -> bool:
    """Whether a stage file starts from an earlier model (`model.init_from` in it and not overridden)."""
    from alm.typed_config import parse_override, read_mapping

    model = read_mapping(path).get("model")
    return bool(isinstance(model, dict) and model.get("init_from")) and not any(
        parse_override(o)[0] == ["model", "init_from"] for o in overrides)


def stage_overrides(path: Path, overrides: list[str]) -> list[str]:
    """The `--set` overrides that apply to one stage file: all of them, except that a stage starting from an earlier
    model keeps that model's build: a new model's fields (`model.sound_encoder`, `model.text_base`...) apply to the
    stages that build one and reach later stages through their models."""
    if not starts_from_earlier(path, overrides):
        return overrides
    return [o for o in overrides if not is_new_model_override(o)]


def _relocate(stages: list[Stage], out: Path) -> None:
    """Each stage's output_dir -> out/<stage name>; an init_from naming an earlier stage's old folder follows it."""
    moved: dict[Path, str] = {}
    for stage in stages:
        c = stage.config
        init = c.model.init_from
        if init and (new := moved.get(Path(init).expanduser().resolve())):
            c.model.init_from = new
        moved[c.run_dir] = str(out / stage.name)
        c.output_dir = str(out / stage.name)


def describe(stage: Stage) -> str:
    """One line per stage for `--check`: where it starts, what trains, how much data."""
    from training.data import select_records
    from training.engine import stage_done

    c = stage.config
    records = select_records(c.data, c.seed)
    steps = c.max_steps or math.ceil(len(records) / (c.batch_size * c.grad_accum)) * c.epochs
    m = c.model
    origin = f"init_from {m.init_from}" if m.init_from else f"new {m.audio_base} + {m.text_base}"
    status = "done" if stage_done(c) else "to train"
    teacher = ""
    if c.data.teacher:
        asked = {r.id for r in records if asks(r, c.data.teacher_tasks)}
        teacher = f"; {len(asked)} records answered by the teacher ({c.data.teacher})"
    return (f"{stage.name}: {status}; {origin}; encoder={c.encoder} aligner={c.aligner} llm={c.llm}; "
            f"{len(records)} samples, ~{steps} steps of {c.batch_size}x{c.grad_accum}; lr {c.lr:g}{teacher}; "
            f"-> {c.output_dir}")


def run_curriculum(recipe: str | Path, overrides: list[str] | None = None, *, out: str | Path | None = None,
                   resume: bool = False, restart: bool = False, force: bool = False, stop_after: int | None = None,
                   progress: bool = True, command: str | None = None, say=print) -> list:
    """Train each stage in order, skipping finished ones (unless `force`); stops early if one is stopped."""
    from training.engine import stage_done, train_stage

    results = []
    for stage in load_stages(recipe, overrides, out):
        if stage_done(stage.config) and not force:
            say(f"[{stage.name}] already trained: {stage.config.model_dir} (use --force to retrain)")
            continue
        result = train_stage(stage.config, recipe=stage.path, resume=resume, restart=restart, stop_after=stop_after,
                             command=command, progress=progress, name=stage.name)
        results.append(result)
        if result.stopped:
            break
    return results
