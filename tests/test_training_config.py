"""The training config: YAML + --set overrides, typed filling, one-line validation errors; packaged recipes."""

import pytest
import yaml

from alm.errors import AlmError
from instruction_data.schema import TASKS
from training.config import ConfigError, TrainConfig, config_from_dict, load_config, resume_differences
from training.curriculum import RECIPES, load_stages

BASE = {"model": {"audio_base": "builtin:whisper-base", "text_base": "builtin:smollm2-135m-instruct"},
        "output_dir": "runs/x"}


def write(tmp_path, data, name="stage.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_load_with_overrides(tmp_path):
    path = write(tmp_path, {**BASE, "lr": "1e-3", "data": {"tasks": ["caption"]}})
    config = load_config(path, ["max_steps=5", "data.max_samples=100", "data.tasks=[classification, caption]",
                                "aligner_lr=2e-3", "model.lora_targets=q_proj,v_proj", "precision=fp32"])
    assert isinstance(config, TrainConfig)
    assert config.lr == 1e-3 and config.aligner_lr == 2e-3 and config.max_steps == 5
    assert config.data.max_samples == 100 and config.data.tasks == ["classification", "caption"]
    assert config.model.lora_targets == ["q_proj", "v_proj"] and config.precision == "fp32"
    assert config.data.split == "train"  # defaults kept


@pytest.mark.parametrize("change, message", [
    ({"lerning_rate": 1}, "unknown key 'lerning_rate'"),
    ({"data": {"taks": ["caption"]}}, "unknown key 'data.taks'"),
    ({"lr": "fast"}, "lr: expected a number"),
    ({"batch_size": 2.5}, "batch_size: expected an integer"),
    ({"gradient_checkpointing": "yes"}, "gradient_checkpointing: expected true or false"),
    ({"encoder": "lora"}, "LoRA applies to the LLM only"),
    ({"llm": "tuned"}, "llm: must be one of frozen, lora, train"),
    ({"llm": "train"}, "full fine-tuning"),
    ({"aligner": "frozen", "llm": "frozen"}, "nothing to train"),
    ({"schedule": "step"}, "schedule: must be one of cosine, linear, constant"),
    ({"data": {"tasks": ["sing"]}}, "unknown task 'sing'"),
    ({"data": {"split": "dev"}}, "data.split: must be one of"),
    ({"batch_size": 0}, "batch_size: must be > 0"),
    ({"model": {"init_from": "runs/a", "aligner": "pool"}}, "model.aligner: not allowed with model.init_from"),
    ({"model": {"audio_base": "x"}}, "give init_from"),
    ({"output_dir": ""}, "output_dir: required"),
    ({"model": {"init_from": "runs/a", "speech_transcripts": "yes"}}, "model.speech_transcripts: expected true or false"),
    ({"tagger": {"kind": "softmx"}}, "tagger.kind: must be one of softmax, sigmoid"),
    ({"tagger": {"label_smoothing": 1.0}}, "tagger.label_smoothing: must be in [0, 1)"),
    ({"tagger": {"layers": 0}}, "tagger.layers: the last Whisper layers the tagger reads, at least 1; got 0"),
    ({"tagger": {"steps": 0}}, "tagger.steps: the fit's optimizer steps, at least 1; got 0"),
    ({"tagger": {"batch_size": -1}}, "tagger.batch_size: 0 (every fitting clip each step) or a batch size; got -1"),
    ({"data": {"teacher": "alm-tiny"}}, "data.teacher and data.teacher_tasks go together"),
    ({"data": {"teacher": "alm-tiny", "teacher_tasks": ["sing"]}}, "data.teacher_tasks: unknown task 'sing'"),
    ({"data": {"teacher": "init_from", "teacher_tasks": ["caption"]}}, "data.teacher: init_from names the model"),
])
def test_validation_errors_are_one_line(tmp_path, change, message):
    data = {**BASE, **change}
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert message in text and "\n" not in text and text.startswith("stage.yaml: ")


def test_bad_override_and_bad_yaml(tmp_path):
    path = write(tmp_path, BASE)
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(path, ["max_steps"])
    with pytest.raises(ConfigError, match="max_stepz"):
        load_config(path, ["max_stepz=3"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_resume_differences_ignore_logging_fields():
    a = config_from_dict({**BASE})
    b = config_from_dict({**BASE, "eval_every": 7, "lr": 0.5})
    assert resume_differences(a.to_dict(), b) == ["lr"]


def test_packaged_curriculum_chains_stages():
    """alm-tiny's recipe (v5): the aligner alone on the larger corpus, then LoRA with transcripts behind the no-speech
    gate and sound tags, then more captions, order and counts; each stage starts from the one before."""
    stages = load_stages(RECIPES / "alm-tiny")
    assert [s.name for s in stages] == ["stage1", "stage2", "stage3"]
    s1, s2, s3 = (s.config for s in stages)
    assert {s.data.root for s in (s1, s2, s3)} == {"data/corpus-v4"}
    assert s2.tagger.exclude == s3.tagger.exclude == ["music"]
    assert (s1.encoder, s1.aligner, s1.llm) == ("frozen", "train", "frozen")
    assert set(s1.data.tasks) == {"classification", "caption"}
    assert (s2.aligner, s2.llm, s3.llm) == ("train", "lora", "lora")
    assert s2.model.init_from == s1.output_dir and s3.model.init_from == s2.output_dir
    assert (s2.model.speech_transcripts, s2.model.sound_tags, s2.model.no_speech_gate) == (True, True, 0.45)
    assert s3.tagger == s2.tagger  # stage 3 keeps stage 2's tagger and its cross-fitted tags
    assert s2.tagger.ensemble == 5


def test_speech_stage_reads_as_the_shipped_model_and_keeps_its_aligner():
    """alm-tiny's fourth stage (what is said): LoRA alone, from alm-tiny as it stood before it (v5y read, which the
    retrain script makes at runs/alm-tiny/read), its tagger read as alm-tiny reads it (two tags behind the speech gate),
    the fit plan stage 3's; withheld speech is marked "[inaudible]"; every other task but captions is answered by the
    model it starts from."""
    import dataclasses
    import json

    from alm.checkpoints import resolve_checkpoint

    s4 = load_stages(RECIPES / "alm-tiny-speech")[0].config
    s3 = load_stages(RECIPES / "alm-tiny" / "stage3.yaml")[0].config
    assert (s4.encoder, s4.aligner, s4.llm, s4.model.init_from) == ("frozen", "frozen", "lora", "runs/alm-tiny/read")
    assert s4.data.tasks is None and s4.data.balance_answers == ["existence"]
    assert s4.data.teacher == "init_from" and set(s4.data.teacher_tasks) == set(TASKS) - {"speech_content", "caption"}
    assert (s4.data.speech_answers, s4.data.unheard_speech, s4.data.speech_min_words) == ("transcript", "inaudible", 1)
    reading = ("top_k", "speech_gate", "speech_gate_words", "speech_gate_floor")
    shipped = json.loads((resolve_checkpoint("alm-tiny") / "tagger.json").read_text())
    assert {k: getattr(s4.tagger, k) for k in reading} == {k: shipped[k] for k in reading}
    assert dataclasses.replace(s4.tagger, **{k: getattr(s3.tagger, k) for k in reading}) == s3.tagger


def test_curriculum_out_moves_every_stage_and_its_chain(tmp_path):
    """`alm train alm-tiny --out DIR`: each stage trains into DIR/<stage>, starting from the moved earlier stage; an
    init_from outside the curriculum is kept."""
    stages = load_stages(RECIPES / "alm-tiny", ["data.root=data/corpus-v3"], out=tmp_path / "cand")
    s1, s2, s3 = (s.config for s in stages)
    assert [c.output_dir for c in (s1, s2, s3)] == [str(tmp_path / "cand" / n) for n in ("stage1", "stage2", "stage3")]
    assert (s2.model.init_from, s3.model.init_from) == (s1.output_dir, s2.output_dir)
    assert s1.data.root == "data/corpus-v3"
    stage = load_stages(RECIPES / "alm-tiny" / "stage3.yaml", out=tmp_path / "one")[0].config
    assert stage.output_dir == str(tmp_path / "one" / "stage3") and stage.model.init_from == "runs/alm-tiny/stage2"


def test_a_new_models_field_set_on_a_curriculum_goes_to_the_stage_that_builds_the_model():
    """`alm train alm-tiny --set model.sound_encoder=builtin:yamnet`: stage 1 builds the model with it, stages 2-3
    start from there (init_from) and inherit it; on a recipe whose every stage starts from a model it is refused."""
    stages = load_stages(RECIPES / "alm-tiny", ["model.sound_encoder=builtin:yamnet", "max_steps=3"])
    assert [s.config.model.sound_encoder for s in stages] == ["builtin:yamnet", None, None]
    assert [s.config.max_steps for s in stages] == [3, 3, 3]
    with pytest.raises(AlmError, match="every stage of stage2.yaml starts from an earlier model"):
        load_stages(RECIPES / "alm-tiny" / "stage2.yaml", ["model.sound_encoder=builtin:yamnet"])


def test_first_curriculum_chains_stages():
    stages = load_stages(RECIPES / "alm-tiny-v1")
    assert [s.name for s in stages] == ["stage1", "stage2", "stage3"]
    s1, s2, s3 = (s.config for s in stages)
    assert (s1.encoder, s1.aligner, s1.llm) == ("frozen", "train", "frozen")
    assert set(s1.data.tasks) == {"classification", "caption"}
    assert (s2.aligner, s2.llm) == ("train", "lora") and s2.data.stages == ["perception"]
    assert s3.data.stages is None and s3.data.tasks is None  # perception and reasoning together
    assert s2.model.init_from == s1.output_dir and s3.model.init_from == s2.output_dir
    # speech-aware from stage 2 on (stage 3 inherits it from stage 2's saved config)
    assert (s1.model.speech_transcripts, s2.model.speech_transcripts, s3.model.speech_transcripts) == (None, True, None)


def test_model_section_is_derived_from_alm_config(tmp_path):
    """Every recipe-settable AlmConfig field is a `model:` key with AlmConfig's type (or null), documented."""
    import dataclasses
    import inspect
    import typing

    from alm.model import AlmConfig
    from alm.typed_config import field_docs
    from training.config import NOT_RECIPE_FIELDS, ModelSection

    alm_types = inspect.get_annotations(AlmConfig, eval_str=True)
    section = {f.name: f.type for f in dataclasses.fields(ModelSection)}
    assert set(section) == {"init_from"} | (set(alm_types) - set(NOT_RECIPE_FIELDS))
    hints = typing.get_type_hints(ModelSection)
    for name in set(section) - {"init_from"}:
        assert hints[name] == alm_types[name] | None, name
    assert not [name for name, doc in field_docs(ModelSection).items() if doc.startswith("(")]  # a text, not a scope
    # the values AlmConfig allows, no more: 8bit is valid in a recipe because the model takes it
    config = load_config(write(tmp_path, {**BASE, "model": {**BASE["model"], "quantization": "8bit"}}))
    assert config.model.quantization == "8bit"
    allowed = ", ".join(typing.get_args(typing.get_args(alm_types["quantization"])[0]))
    with pytest.raises(ConfigError, match=f"model.quantization: must be one of {allowed}, got '2bit'"):
        load_config(write(tmp_path, {**BASE, "model": {**BASE["model"], "quantization": "2bit"}}))
    with pytest.raises(ConfigError, match="model.quantization: 8bit \\(QLoRA\\) needs llm: lora"):
        load_config(write(tmp_path, {**BASE, "llm": "frozen", "model": {**BASE["model"], "quantization": "8bit"}}))


def test_model_fields_give_alm_config_only_what_is_set():
    from training.config import model_fields

    config = config_from_dict({**BASE, "model": {**BASE["model"], "lora_r": 4, "speech_transcripts": True}})
    assert model_fields(config.model) == {**BASE["model"], "lora_r": 4, "speech_transcripts": True}
    init = config_from_dict({**BASE, "model": {"init_from": "runs/a", "quantization": "4bit"}})
    assert model_fields(init.model) == {"quantization": "4bit"}
