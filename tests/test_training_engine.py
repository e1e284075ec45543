"""The training engine on tiny random bases and a synthetic corpus: a short run, resume equivalence,
the frozen-encoder feature cache, and a curriculum whose stage 2 starts from stage 1."""

import contextlib
import json
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from conftest import tone
from instruction_data.errors import DataError
from instruction_data.schema import Record
from training.checkpointing import list_checkpoints
from training.config import config_from_dict
from training.curriculum import run_curriculum
from training.engine import RECORD_FILE, answer_loss, build_model, train_stage
from training.logs import read_metrics

FREQS = {"low tone": 220.0, "middle tone": 440.0, "high tone": 880.0, "very high tone": 1760.0}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A corpus folder with manifest, train/validation JSONL and short tone clips."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "audio").mkdir()
    (root / "manifest.json").write_text(json.dumps({"version": 1, "fingerprint": "synthetic"}))
    splits = {"train": [], "validation": []}
    for i, (name, freq) in enumerate(FREQS.items()):
        for k, seconds in enumerate((0.6, 1.1, 1.7)):
            clip = f"audio/{name.replace(' ', '_')}-{k}.wav"
            sf.write(root / clip, tone(freq, seconds) * (0.5 + 0.15 * k), 16_000, subtype="FLOAT")
            split = "validation" if k == 2 else "train"
            for task, question, answer in (("classification", "What sound is this?", name.capitalize() + "."),
                                           ("caption", "Describe the audio.", f"A steady {name} at {freq:g} Hz.")):
                rec = Record(id=f"{name}-{k}-{task}", instruction=question, output=answer, sound=[clip],
                             dataset="synthetic", task=task, stage="perception")
                splits[split].append(json.dumps(rec.to_openaqa()))
    for split, lines in splits.items():
        (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    (root / "test.jsonl").write_text("")
    return root


@pytest.fixture
def stage(tiny_bases, corpus, tmp_path):
    audio_base, text_base = tiny_bases

    def make(out="run", **over):
        data = {"model": {"audio_base": audio_base, "text_base": text_base, "aligner_hidden": 64,
                          "lora_targets": ["q_proj", "v_proj"], "lora_dropout": 0.1},
                "encoder": "frozen", "aligner": "train", "llm": "lora",
                "data": {"root": str(corpus), "eval_samples": 2, "sample_answers": 1},
                "output_dir": str(tmp_path / out), "lr": 1e-2, "batch_size": 2, "max_length": 256,
                "precision": "fp32", "feature_cache": "off", "log_every": 1, "eval_every": 0,
                "checkpoint_every": 0, "tensorboard": False, "warmup_steps": 1}
        for key, value in over.items():
            section, _, name = key.partition("__")
            if name:
                data[section] = {**data.get(section, {}), name: value}
            else:
                data[key] = value
        return config_from_dict(data)

    return make


def final_weights(model_dir):
    weights = load_file(str(model_dir / "aligner.safetensors"))
    lora = model_dir / "lora" / "adapter_model.safetensors"
    if lora.exists():
        weights.update({f"lora.{k}": v for k, v in load_file(str(lora)).items()})
    return weights


def test_two_step_run_writes_model_record_and_metrics(stage):
    config = stage(max_steps=2, precision="bf16", eval_every=1, checkpoint_every=1, gradient_checkpointing=True)
    result = train_stage(config, progress=False)
    assert result.steps == 2 and not result.stopped and np.isfinite(result.train_loss)
    record = json.loads((config.model_dir / RECORD_FILE).read_text())
    assert record["steps"] == 2 and record["corpus"]["fingerprint"] == "synthetic"
    assert len(record["corpus"]["manifest_sha256"]) == 64 and record["config"]["max_steps"] == 2
    assert record["data"]["kept"] == 16 and record["final_eval_loss"] is not None
    saved = json.loads((config.model_dir / "config.json").read_text())
    assert saved["trained"] is True and (config.model_dir / "lora").is_dir()
    metrics = read_metrics(config.run_dir)
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2]
    evals = [m for m in metrics if "eval_loss" in m]
    assert [m["step"] for m in evals] == [0, 1, 2] and evals[0]["samples"][0]["expected"]
    assert list_checkpoints(config.run_dir) == []  # removed once the model is saved


@pytest.mark.parametrize("native, asked, chosen, says", [
    (False, "auto", "fp32", "no native bfloat16"), (True, "auto", "bf16", ""),
    (False, "bf16", "bf16", "emulated"), (False, "fp32", "fp32", ""), (True, "bf16", "bf16", "")])
def test_precision_auto_trains_in_bf16_only_where_the_cpu_runs_it_natively(monkeypatch, native, asked, chosen, says):
    import alm.devices
    from training.engine import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(alm.devices, "cpu_has_native_bf16", lambda: native)
    precision, why = resolve_precision(asked)
    assert precision == chosen and (says in why if says else why == "")


def test_precision_auto_on_a_gpu_without_bf16_is_fp16(monkeypatch):
    from training.engine import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_precision("auto") == ("fp16", "precision auto: fp16, this GPU has no bfloat16")
    assert resolve_precision("fp16") == ("fp16", "")


def test_fp16_on_a_cpu_is_a_clear_error(monkeypatch):
    from alm.errors import AlmError
    from training.engine import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(AlmError, match="fp16 needs a GPU"):
        resolve_precision("fp16")


def test_qlora_without_bitsandbytes_or_cuda_is_a_clear_error(stage):
    from alm.errors import AlmError
    from training.engine import check_quantization

    with pytest.raises(AlmError, match="bitsandbytes|CUDA GPU"):
        check_quantization(stage(model__quantization="4bit"))


def test_loss_is_on_answer_tokens_only(stage):
    """The engine's loss equals the model's own labels loss (which the processor masks to answers)."""
    config = stage()
    model, processor, _ = build_model(config)
    from training.data import Collator, prepare_examples, select_records

    examples, _ = prepare_examples(select_records(config.data, 0)[:3], processor, 256, "skip")
    batch = Collator(processor, 256)(examples)
    model.eval()
    with torch.no_grad():
        total, tokens = answer_loss(model, batch)
        reference = model(**batch).loss
    assert tokens == int((batch["labels"][:, 1:] != -100).sum()) > 0
    torch.testing.assert_close(total / tokens, reference, rtol=1e-5, atol=1e-6)


def test_killed_and_resumed_run_ends_with_the_same_weights(stage):
    # 16 samples / (2 x accum 2) = 4 steps per epoch; 7 steps cross an epoch boundary.
    common = dict(max_steps=7, grad_accum=2, checkpoint_every=2, keep_checkpoints=1)
    straight = stage("straight", **common)
    train_stage(straight, progress=False)

    broken = stage("broken", **common)
    first = train_stage(broken, progress=False, stop_after=5, checkpoint_on_stop=False)  # "killed" after step 5
    assert first.stopped and [p.name for p in list_checkpoints(broken.run_dir)] == ["step-00000004"]
    with pytest.raises(Exception, match="--resume"):
        train_stage(broken, progress=False)
    resumed = train_stage(broken, progress=False, resume=True)  # redoes step 5 from the step-4 checkpoint
    assert resumed.steps == 7
    a, b = final_weights(straight.model_dir), final_weights(broken.model_dir)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    losses = lambda cfg: [m["loss"] for m in read_metrics(cfg.run_dir) if "loss" in m]  # noqa: E731
    assert losses(straight) == pytest.approx(losses(broken), abs=1e-6)


def test_feature_cache_hits_on_second_run_and_keeps_the_loss(stage, tmp_path):
    cache_dir = tmp_path / "feature-cache"
    plain = train_stage(stage("plain", max_steps=3), progress=False)
    first_cfg = stage("cached1", max_steps=3, feature_cache=str(cache_dir), cache_dtype="float32")
    first = train_stage(first_cfg, progress=False)
    second_cfg = stage("cached2", max_steps=3, feature_cache=str(cache_dir), cache_dtype="float32")
    second = train_stage(second_cfg, progress=False)
    r1 = json.loads((first_cfg.model_dir / RECORD_FILE).read_text())["feature_cache"]
    r2 = json.loads((second_cfg.model_dir / RECORD_FILE).read_text())["feature_cache"]
    clips = r1["precompute_misses"]  # 8 train clips + the validation records' clips, one window each
    assert clips >= 9 and r1["precompute_hits"] == 0
    assert (r2["precompute_hits"], r2["precompute_misses"]) == (clips, 0)
    assert r2["lookup_hits"] > 0 and r2["lookup_misses"] == 0
    assert len(list((cache_dir).glob("*/shard-*.safetensors"))) == 1
    assert first.train_loss == pytest.approx(plain.train_loss, rel=1e-4)
    assert second.train_loss == pytest.approx(first.train_loss, rel=1e-6)
    # float16 storage (the default) stays close
    half = train_stage(stage("half", max_steps=3, feature_cache=str(tmp_path / "fc16")), progress=False)
    assert half.train_loss == pytest.approx(plain.train_loss, rel=1e-2)


def test_curriculum_stage2_starts_from_stage1(stage, tmp_path):
    import yaml

    folder = tmp_path / "recipe"
    folder.mkdir()
    s1 = stage("s1", max_steps=2, llm="frozen", data__tasks=["classification"]).to_dict()
    s2 = stage("s2", max_steps=2).to_dict()
    s2["model"] = {"init_from": s1["output_dir"]}
    (folder / "stage1.yaml").write_text(yaml.safe_dump(s1))
    (folder / "stage2.yaml").write_text(yaml.safe_dump(s2))
    results = run_curriculum(folder, progress=False, say=lambda *_: None)
    assert [r.steps for r in results] == [2, 2]
    out1, out2 = results[0].model_dir, results[1].model_dir
    assert not (out1 / "lora").exists() and (out2 / "lora").is_dir()
    record2 = json.loads((out2 / RECORD_FILE).read_text())
    assert record2["init"] == str(out1) and record2["init_record"]["stage"] == "stage1"
    assert record2["curriculum_wall_time_s"] >= record2["wall_time_s"]
    # stage 2 began from stage 1's aligner: with lr 0 it would be unchanged; check it is not the fresh init
    a1 = load_file(str(out1 / "aligner.safetensors"))
    fresh, _, _ = build_model(stage("fresh"))
    assert not torch.equal(a1["fc1.weight"], fresh.aligner.fc1.weight.detach())
    again = run_curriculum(folder, progress=False, say=lambda *_: None)
    assert again == []  # both stages done: skipped


def test_overlong_samples_are_skipped_or_truncated_and_counted(stage):
    from training.data import Collator, prepare_examples, select_records

    config = stage()
    _, processor, _ = build_model(config)
    records = select_records(config.data, 0)
    full, _ = prepare_examples(records, processor, 10_000, "skip")
    limit = sorted(e.length for e in full)[len(full) // 2]  # half the samples are longer
    over = sum(e.length > limit for e in full)
    kept, stats = prepare_examples(records, processor, limit, "skip")
    assert stats.skipped_overlong == over and len(kept) == len(full) - over
    cut, stats = prepare_examples(records, processor, limit, "truncate")
    assert stats.truncated + stats.skipped_overlong == over and stats.truncated > 0
    batch = Collator(processor, limit)([e for e in cut if e.truncated][:2])
    assert batch["input_ids"].shape[1] == limit and (batch["labels"][:, 1:] != -100).any()



def tiny_sound_cnn(folder):
    """A random aisfx-shaped CNN of width 4 (32-d frames) in `folder`, as alm's converter writes it."""
    from alm.audio.sound_features import CNN_MARKER
    from alm.model.sound_encoder import SoundCnn

    folder.mkdir(parents=True)
    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in SoundCnn(width=4).state_dict().items()}, folder / "model.safetensors")
    (folder / CNN_MARKER).write_text(json.dumps({"kind": "aisfx-cnn", "width": 4}))
    return folder


@contextlib.contextmanager
def labelled_clips(corpus, origins: bool = False):
    """The corpus's clips.jsonl (each tone clip's label, under the parent "tone"; with `origins` the k-th clip of
    each tone from recording source k) while the block runs."""
    rows = [{"audio": f"audio/{name.replace(' ', '_')}-{k}.wav", "split": "validation" if k == 2 else "train",
             "labels": [name, "tone"], "kind": "tone", **({"origin": f"source-{k}"} if origins else {})}
            for name in FREQS for k in range(3)]
    (corpus / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        yield
    finally:
        (corpus / "clips.jsonl").unlink()


@pytest.mark.parametrize("layers,asked,sound", [(1, False, False), (2, True, False), (1, False, True),
                                                (2, False, True), (2, False, "tagger-only")])
def test_a_tag_reading_stage_fits_the_tagger_and_its_prompts_carry_the_tags(stage, corpus, tmp_path, layers, asked,
                                                                            sound, monkeypatch):
    """model.sound_tags: the stage fits a tagger on the corpus's labelled training clips (cross-fitted tags for
    those clips), the training prompts carry each clip's tags, and the saved model tags clips at inference; a
    tagger reading more than the final frames fits on layer stats cached beside the frames; with `tagger.asked`
    the saved tagger knows the sound names, and a prompt naming one gets its probability (with `asked_verdict`, and
    whether it is likely at the threshold the stage set on the cross-fitted tags or, with `asked_top`, as the first
    tag); in a model with a general-sound encoder a one-layer tagger reads its frames too, normalised apart, and a
    tagger reading more layers reads them as one more block (with `tagger.layers_only` heads on the layers alone
    averaged in); a sound encoder for the tagger alone (`model.sound_to_aligner: false`) gives that block from a stats
    cache of its own while the aligner reads Whisper's frames alone; `tagger.batch_size` reaches every fit."""
    import training.tagger as tagger_module
    from alm.conversation import Conversation
    from alm.inference import Assistant
    from alm.model import AlmForConditionalGeneration
    from alm.processor import AlmProcessor

    extra = {"model__sound_encoder": str(tiny_sound_cnn(tmp_path / "cnn")), "tagger__layers_only": 2} if sound else {}
    if sound == "tagger-only":
        extra["model__sound_to_aligner"] = False
    layers_only = 2 if sound and layers > 1 else 0  # heads on the layers alone beside those reading the block
    batch = 4 if sound and layers == 1 else 0  # one case fits in minibatches
    if batch:
        extra["tagger__batch_size"] = batch
    batches, real_fit = [], tagger_module.fit

    def recording_fit(*args, **kwargs):
        batches.append(kwargs.get("batch_size", 0))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(tagger_module, "fit", recording_fit)
    config = stage("tags", max_steps=2, feature_cache=str(tmp_path / "fc"), model__sound_tags=True,
                   tagger__min_clips=1, tagger__folds=2, tagger__steps=50, tagger__threshold=0.0,
                   tagger__layers=layers, tagger__asked=asked, tagger__asked_verdict=asked, tagger__asked_top=asked,
                   **extra)
    with labelled_clips(corpus):
        train_stage(config, progress=False)
    plain = stage("plain", max_steps=2, feature_cache=str(tmp_path / "fc"))
    train_stage(plain, progress=False)
    record = json.loads((config.model_dir / RECORD_FILE).read_text())
    plain_record = json.loads((plain.model_dir / RECORD_FILE).read_text())
    tags = record["sound_tags"]
    # two folds, then the fit on every clip; with layers_only each fits its two groups: the one head reading the
    # block, and the layers_only heads alone (an ensemble: one call, then one per head)
    assert batches == [batch] * 3 * ((3 + layers_only) if layers_only else 1)
    assert tags["enabled"] and tags["fitted_on"] == 8 and tags["tagged"] == 10  # 8 train clips, 2 validation
    assert tags["kind"] == "softmax" and tags["labels"] == len(FREQS)  # the most specific labels; "tone" is implied
    assert 0.0 <= tags["cross_fit_top1"] <= 1.0 and 0.0 <= tags["train_top1"] <= 1.0
    assert not plain_record["sound_tags"]["enabled"]
    assert record["data"]["mean_tokens"] > plain_record["data"]["mean_tokens"] + 10  # 3 tags per clip in the prompt

    model = AlmForConditionalGeneration.from_pretrained(config.model_dir)
    processor = AlmProcessor.from_pretrained(config.model_dir)
    assert model.config.sound_tags and model.tagger is not None and set(model.tagger.settings.labels) == set(FREQS)
    assert model.tagger.settings.layers == layers
    assert model.tagger.settings.sound_width == (32 if sound and layers == 1 else 0)  # the tiny CNN's, apart
    assert model.tagger.settings.sound_block == (bool(sound) and layers > 1)  # the CNN's pooled frames: one more block
    assert model.config.sound_to_aligner == (sound != "tagger-only")
    assert model.tagger.settings.layers_only == layers_only  # a one-layer tagger has no block to set apart
    assert model.tagger.settings.layers_width == (model.config.audio_config.d_model if layers_only else 0)
    stats_dir = f"*-layers{layers}" + ("-sound" if sound == "tagger-only" else "")  # the block in the stats' cache
    assert len(list((tmp_path / "fc").glob(f"{stats_dir}/shard-*"))) == (layers > 1)
    assistant = Assistant(model, processor)
    clip_tags = assistant.tag([tone(440.0, 1.0), tone(1760.0, 0.7)])
    assert [len(t) for t in clip_tags] == [3, 3] and all(0.0 <= p <= 1.0 for t in clip_tags for _, p in t)
    question = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "What is it?"}]}]
    conv = assistant.with_notes(Conversation(question, [tone(440.0, 1.0)]))
    assert conv.tags == clip_tags[:1]
    prompt = processor.tokenizer.decode(processor.tokenize(conv, train=False)[0])
    assert f"(sound tags: {clip_tags[0][0][0]} " in prompt
    assert assistant.answer(question, [tone(440.0, 1.0)]).completion_tokens > 0
    assert tags["asked_names"] == (len(FREQS) + 1 if asked else 0)  # every label, and "tone" covering them all
    naming = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "Is there a high tone?"}]}]
    conv = assistant.with_notes(Conversation(naming, [tone(440.0, 1.0)]))
    assert conv.tags == clip_tags[:1]
    if asked:
        assert model.tagger.settings.names["tone"] == sorted(FREQS) and len(conv.asked[0]) == 1
        name, p, verdict = conv.asked[0][0]
        threshold = model.tagger.settings.asked_threshold
        assert threshold == tags["asked_threshold"] and 0.0 < threshold < 1.0 and 0.0 <= tags["asked_score"] <= 1.0
        assert model.tagger.settings.asked_top and tags["asked_top"]  # likely too when it is the first tag
        first = clip_tags[0][0][0] in model.tagger.settings.names[name]
        assert name == "high tone" and 0.0 <= p <= 1.0 and verdict == ("likely" if p >= threshold or first else
                                                                       "unlikely")
        assert f"; asked: high tone {p:.2f} {verdict})" in \
            processor.tokenizer.decode(processor.tokenize(conv, train=False)[0])
    else:
        assert conv.asked is None and model.tagger.settings.asked_threshold is None


def test_an_excluded_label_is_no_class_of_the_tagger_but_still_a_name_asked_sounds_cover(stage, corpus, tmp_path):
    """tagger.exclude: the listed label is not one the softmax tagger tells apart (its clips stay out of the loss), so
    no first tag is it; asked sounds still cover the other labels under their parent. A label no clip carries is a
    typo, refused before any fit."""
    from alm.errors import AlmError
    from alm.model import AlmForConditionalGeneration

    config = stage("excluded", max_steps=1, feature_cache=str(tmp_path / "fc"), model__sound_tags=True,
                   tagger__min_clips=1, tagger__folds=2, tagger__steps=20, tagger__asked=True,
                   tagger__exclude=["very high tone"])
    with labelled_clips(corpus):
        train_stage(config, progress=False)
    tags = json.loads((config.model_dir / RECORD_FILE).read_text())["sound_tags"]
    settings = AlmForConditionalGeneration.from_pretrained(config.model_dir).tagger.settings
    assert tags["labels"] == len(FREQS) - 1 and set(settings.labels) == set(FREQS) - {"very high tone"}
    assert settings.names["tone"] == sorted(set(FREQS) - {"very high tone"})
    typo = stage("typo", max_steps=1, feature_cache=str(tmp_path / "fc"), model__sound_tags=True, tagger__min_clips=1,
                 tagger__exclude=["very hihg tone"])
    with labelled_clips(corpus), pytest.raises(AlmError, match="tagger.exclude: no fitting clip is labelled 'very hihg"):
        train_stage(typo, progress=False)


def test_a_notes_only_stage_trains_lora_on_tags_and_saves_no_aligner_weights(stage, corpus, tmp_path):
    """model.aligner: none (the cascade): the stage trains LoRA alone on prompts that carry each clip as its tags
    (no audio tokens), and the saved model answers from them. Its tagger is the same fit as a soft-prompt stage's
    with the same tagger settings, reused from the tagger cache rather than fit again."""
    from alm.conversation import Conversation
    from alm.inference import Assistant
    from alm.model import AlmForConditionalGeneration
    from alm.processor import AlmProcessor

    plan = dict(feature_cache=str(tmp_path / "fc"), model__sound_tags=True, tagger__min_clips=1, tagger__folds=2,
                tagger__steps=50)
    soft = stage("soft", max_steps=1, **plan)
    config = stage("notes", max_steps=2, model__aligner="none", **plan)
    with labelled_clips(corpus):
        train_stage(soft, progress=False)
        result = train_stage(config, progress=False)
    assert result.steps == 2 and np.isfinite(result.train_loss)
    records = [json.loads((c.model_dir / RECORD_FILE).read_text())["sound_tags"] for c in (soft, config)]
    assert [r["fit_reused"] for r in records] == [False, True] and records[0] == {**records[1], "fit_reused": False}
    record = json.loads((config.model_dir / RECORD_FILE).read_text())
    assert not record["feature_cache"]["enabled"]  # no frames pass: its batches are token ids alone
    saved = [load_file(str(c.model_dir / "tagger.safetensors")) for c in (soft, config)]
    assert saved[0].keys() == saved[1].keys() and all(torch.equal(saved[0][k], saved[1][k]) for k in saved[0])
    assert load_file(str(config.model_dir / "aligner.safetensors")) == {}
    assert any("lora_B" in k for k in final_weights(config.model_dir))
    model = AlmForConditionalGeneration.from_pretrained(config.model_dir)
    processor = AlmProcessor.from_pretrained(config.model_dir)
    assert model.config.aligner == "none" and model.tagger is not None
    question = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": "What is it?"}]}]
    conv = Assistant(model, processor).with_notes(Conversation(question, [tone(440.0, 1.0)]))
    ids = processor.tokenize(conv, train=False)[0]
    assert model.config.audio_token_id not in ids and "(sound tags: " in processor.tokenizer.decode(ids)
    assert Assistant(model, processor).answer(question, [tone(440.0, 1.0)]).completion_tokens > 0


def test_a_later_stage_keeps_the_tagger_and_its_cross_fitted_tags(stage, corpus, tmp_path):
    """A stage starting from a tag-reading model keeps its tagger (not fit again); the clips that tagger was fit on
    keep their cross-fitted tags when the stage's tagger plan names the same fit in the tagger cache, and get the
    tagger's own tags, said so in the record, when it does not, or with `tagger.refold` tags cross-fitted now by folds
    fit under the stage's plan, which must tag the kept tagger's labels."""
    from alm.errors import AlmError

    plan = dict(feature_cache=str(tmp_path / "fc"), tagger__min_clips=1, tagger__folds=2, tagger__steps=50)
    first = stage("first", max_steps=1, model__sound_tags=True, **plan)
    later = stage("later", max_steps=1, model={"init_from": str(first.output_dir)}, **plan)
    other = stage("other", max_steps=1, model={"init_from": str(first.output_dir)},
                  **{**plan, "tagger__steps": 20})  # another plan: its fit is not the one the model holds
    unlisted = stage("unlisted", max_steps=1, model={"init_from": str(first.output_dir)}, **plan)
    refolded = stage("refolded", max_steps=1, model={"init_from": str(first.output_dir)},
                     **{**plan, "tagger__steps": 20, "tagger__refold": True})  # that plan's folds fit now
    relabelled = stage("relabelled", max_steps=1, model={"init_from": str(first.output_dir)},
                       **{**plan, "tagger__refold": True, "tagger__exclude": [next(iter(FREQS))]})
    with labelled_clips(corpus):
        for config in (first, later, other, refolded):
            train_stage(config, progress=False)
        with pytest.raises(AlmError, match="tagger.refold: this plan draws 3 labels, the kept tagger tells 4 apart"):
            train_stage(relabelled, progress=False)  # folds of other labels cannot stand in for the kept tagger's
    train_stage(unlisted, progress=False)  # a corpus with no clip list: nothing to find the fit by, and no error
    runs = (first, later, other, unlisted, refolded)
    records = [json.loads((c.model_dir / RECORD_FILE).read_text())["sound_tags"] for c in runs]
    assert records[0]["fitted_on"] == 8 and "inherited" not in records[0]
    assert records[1] == {"enabled": True, "inherited": True, "fit_cross_fitted": 8, "tagged": 10}
    assert records[2] == records[3] == {"enabled": True, "inherited": True, "fit_cross_fitted": 0, "tagged": 10}
    assert records[4] == {"enabled": True, "inherited": True, "fit_cross_fitted": 8, "tagged": 10, "refolded": True}
    saved = [load_file(str(c.model_dir / "tagger.safetensors")) for c in runs]
    assert all(torch.equal(saved[0][k], s[k]) for s in saved[1:] for k in saved[0])  # kept, not fit again


def test_folds_of_both_kinds_tag_half_the_fitting_clips_each_and_a_later_stage_can_change_the_folds(stage, corpus,
                                                                                                     tmp_path):
    """tagger.fold_by: both cross-fits the fitting clips by source and by clip and gives each clip one of the two, in
    equal shares; the fits land in the tagger cache, so the same plan again reuses them; a later stage whose plan
    changes source folds to both keeps the model's tagger and cross-fits its clips by clip too."""
    from training.tagger import TAGGER_CACHE_DIR, mixed_held_out

    plan = dict(feature_cache=str(tmp_path / "fc"), tagger__min_clips=1, tagger__folds=2, tagger__steps=50)
    by_source = stage("source", max_steps=1, model__sound_tags=True, tagger__fold_by="source", **plan)
    later = stage("later", max_steps=1, model={"init_from": str(by_source.output_dir)}, tagger__fold_by="both",
                  **plan)
    fresh = [stage(name, max_steps=1, model__sound_tags=True, tagger__fold_by="both", **plan)
             for name in ("both", "again")]
    fits = tmp_path / "fc"
    with labelled_clips(corpus, origins=True):
        train_stage(by_source, progress=False)
        assert len(list(fits.rglob(f"{TAGGER_CACHE_DIR}/*/held_out.safetensors"))) == 1
        train_stage(later, progress=False)
        assert len(list(fits.rglob(f"{TAGGER_CACHE_DIR}/*/held_out.safetensors"))) == 2  # the clip folds, added
        for config in fresh:
            train_stage(config, progress=False)
    records = [json.loads((c.model_dir / RECORD_FILE).read_text())["sound_tags"] for c in (later, *fresh)]
    assert records[0] == {"enabled": True, "inherited": True, "fit_cross_fitted": 8, "tagged": 10}
    assert [r["fit_reused"] for r in records[1:]] == [True, True]  # both schemes' fits were in the cache already
    saved = [load_file(str(c.model_dir / "tagger.safetensors")) for c in (by_source, later, *fresh)]
    assert all(torch.equal(saved[0][k], s[k]) for s in saved[1:] for k in saved[0])  # the fit on every clip is one

    held = {"source": torch.zeros(9, 3), "clip": torch.ones(9, 3)}
    mixed = mixed_held_out(held, seed=0)
    assert sorted(mixed[:, 0].tolist()) == [0.0] * 5 + [1.0] * 4  # each clip one scheme's row, equal shares
    assert torch.equal(mixed, mixed_held_out(held, seed=0)) and not torch.equal(mixed, mixed_held_out(held, seed=1))
    assert mixed_held_out({"clip": held["clip"]}, seed=0) is held["clip"]


def test_source_folds_on_a_corpus_of_one_source_are_a_clear_error(stage, corpus, tmp_path):
    from alm.errors import AlmError

    rows = [{"audio": f"audio/{name.replace(' ', '_')}-{k}.wav", "split": "train", "labels": [name], "origin": "one"}
            for name in FREQS for k in range(2)]
    (corpus / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        config = stage("one-source", max_steps=1, feature_cache=str(tmp_path / "fc"), model__sound_tags=True,
                       tagger__min_clips=1, tagger__folds=2, tagger__fold_by="source")
        with pytest.raises(AlmError, match="at least 2 recording sources.*have 1"):
            train_stage(config, progress=False)
    finally:
        (corpus / "clips.jsonl").unlink()


def write_train_split(root, lines: list[str]) -> None:
    """A corpus folder whose train split holds these OpenAQA lines."""
    (root / "manifest.json").write_text(json.dumps({"version": 1, "fingerprint": root.name}))
    (root / "train.jsonl").write_text("\n".join(lines) + "\n")


def test_class_balanced_selection_caps_each_sound_class_per_task(tmp_path):
    from training.config import DataSection
    from training.data import select_records

    lines = []
    for cls, n in (("dog", 30), ("cat", 3), ("rain", 8)):
        for k in range(n):
            for task in ("classification", "caption"):
                rec = Record(id=f"{cls}-{k}-{task}", instruction="?", output=cls, sound=[f"audio/{cls}-{k}.wav"],
                             dataset="synthetic", task=task, stage="perception", metadata={"labels": [cls, "animal"]})
                lines.append(json.dumps(rec.to_openaqa()))
    write_train_split(tmp_path, lines)
    chosen = select_records(DataSection(root=str(tmp_path), max_per_class=5), seed=0)
    counts = {}
    for rec in chosen:
        key = (rec.task, rec.metadata["labels"][0])
        counts[key] = counts.get(key, 0) + 1
    assert counts == {(t, c): n for t in ("classification", "caption") for c, n in (("dog", 5), ("cat", 3), ("rain", 5))}
    assert len(select_records(DataSection(root=str(tmp_path)), seed=0)) == 82  # unset: every record


def test_class_balance_caps_speech_per_voice_not_per_label(tmp_path):
    from training.config import DataSection
    from training.data import select_records

    lines = []
    for voice in ("synth_speech:en-us", "synth_speech:en-gb", "piper_speech"):
        for k in range(10):
            rec = Record(id=f"{voice}-{k}", instruction="What is said?", output="words", sound=[f"audio/{k}.wav"],
                         dataset="synthetic", task="speech_content", stage="perception",
                         metadata={"labels": ["speech"], "origin": voice})
            lines.append(json.dumps(rec.to_openaqa()))
    write_train_split(tmp_path, lines)
    chosen = select_records(DataSection(root=str(tmp_path), max_per_class=4), seed=0)
    assert Counter(rec.metadata["origin"] for rec in chosen) == {"synth_speech:en-us": 4, "synth_speech:en-gb": 4, "piper_speech": 4}
    more = select_records(DataSection(root=str(tmp_path), max_per_class=4, class_caps={"speech_content": 7}), seed=0)
    assert len(more) == 21  # the task's own cap


def test_per_voice_labels_are_capped_per_voice_as_speech_is(tmp_path):
    """`data.per_voice` names labels (parents too) whose class is the label and the clip's source, as speech's is:
    grunts of three voice packs keep the cap each, the rest of the labels one cap in all."""
    from training.config import DataSection
    from training.data import select_records

    lines = []
    for pack in ("hedgewars:British", "hedgewars:Pirate", "hedgewars:Russian"):
        for label, parent in (("grunt", "human sound"), ("explosion", "explosion")):
            for k in range(10):
                rec = Record(id=f"{pack}-{label}-{k}", instruction="What sound is this?", output=label,
                             sound=[f"audio/{k}.wav"], dataset="hedgewars", task="classification", stage="perception",
                             metadata={"labels": [label, parent], "origin": pack})
                lines.append(json.dumps(rec.to_openaqa()))
    write_train_split(tmp_path, lines)
    chosen = select_records(DataSection(root=str(tmp_path), max_per_class=4, per_voice=["human sound"]), seed=0)
    assert Counter(rec.metadata["labels"][0] for rec in chosen) == {"grunt": 12, "explosion": 4}
    assert len({rec.metadata["origin"] for rec in chosen if rec.metadata["labels"][0] == "grunt"}) == 3
    plain = select_records(DataSection(root=str(tmp_path), max_per_class=4), seed=0)
    assert Counter(rec.metadata["labels"][0] for rec in plain) == {"grunt": 4, "explosion": 4}


def test_source_weights_scale_each_sources_records_on_top_of_the_task_weight(tmp_path):
    from training.config import DataSection
    from training.data import select_records

    lines = []
    for source, n in (("mixes", 4), ("samples", 6), ("words", 10)):
        for k in range(n):
            rec = Record(id=f"{source}-{k}", instruction="Describe the audio.", output="A sound.",
                         sound=[f"audio/{source}-{k}.wav"], dataset=source, task="caption", stage="perception")
            lines.append(json.dumps(rec.to_openaqa()))
    write_train_split(tmp_path, lines)
    plain = select_records(DataSection(root=str(tmp_path)), seed=0)
    weighted = select_records(DataSection(root=str(tmp_path), task_weights={"caption": 2.0},
                                          source_weights={"mixes": 1.5, "words": 0.5}), seed=0)
    assert Counter(r.dataset for r in plain) == {"mixes": 4, "samples": 6, "words": 10}
    assert Counter(r.dataset for r in weighted) == {"mixes": 12, "samples": 12, "words": 10}  # 4 x 3, 6 x 2, 10 x 1
    assert len({r.id for r in weighted if r.dataset == "words"}) == 10  # x1: each once
    with pytest.raises(DataError, match="source_weights names no source.*piper"):
        select_records(DataSection(root=str(tmp_path), source_weights={"piper": 2.0}), seed=0)


def test_class_balance_leaves_records_without_a_label_uncapped(tmp_path):
    """Multi-clip questions carry no label; pooled under one class, a cap of 5 would keep 5 of them."""
    from training.config import DataSection
    from training.data import select_records

    lines = []
    for k in range(12):
        rec = Record(id=f"pair-{k}", instruction="Which clip is louder?", output="The first.",
                     sound=[f"audio/{k}a.wav", f"audio/{k}b.wav"], dataset="synthetic", task="multi_clip_compare",
                     stage="reasoning", metadata={})
        lines.append(json.dumps(rec.to_openaqa()))
        rec = Record(id=f"dog-{k}", instruction="?", output="dog", sound=[f"audio/dog-{k}.wav"],
                     dataset="synthetic", task="multi_clip_compare", stage="reasoning", metadata={"labels": ["dog"]})
        lines.append(json.dumps(rec.to_openaqa()))
    write_train_split(tmp_path, lines)
    chosen = select_records(DataSection(root=str(tmp_path), max_per_class=5), seed=0)
    assert Counter(rec.id.split("-")[0] for rec in chosen) == {"pair": 12, "dog": 5}


def test_answer_balance_makes_yes_and_no_equal_per_negative_mode(tmp_path):
    """7 yes to 3 no in the popular mode, 2 to 4 in the random one, 5 answers that are neither: 3 + 3 and 2 + 2
    kept, and all 5 others."""
    from training.config import DataSection
    from training.data import select_records

    plan = [("popular", "Yes, a dog.", 7), ("popular", "No.", 3), ("random", "Yes: a bell.", 2),
            ("random", "No, there is none.", 4), (None, "I can't tell.", 5)]
    lines = []
    for mode, answer, count in plan:
        for k in range(count):
            rec = Record(id=f"{mode}-{answer[:2]}-{k}", instruction="Is there a dog?", output=answer,
                         sound=[f"audio/{mode}-{k}.wav"], dataset="synthetic", task="existence", stage="perception",
                         negative_mode=mode, metadata={} if mode else {"answer": "unsure"})
            lines.append(json.dumps(rec.to_openaqa()))
    write_train_split(tmp_path, lines)
    chosen = select_records(DataSection(root=str(tmp_path), balance_answers=["existence"]), seed=0)
    assert Counter((r.negative_mode, r.output.split()[0].strip(",.:")) for r in chosen) == {
        ("popular", "Yes"): 3, ("popular", "No"): 3, ("random", "Yes"): 2, ("random", "No"): 2, (None, "I"): 5}
    assert len(select_records(DataSection(root=str(tmp_path)), seed=0)) == 21  # not asked: unchanged


def test_speech_min_words_leaves_out_short_speech_but_not_clips_without_speech(tmp_path):
    from training.config import DataSection
    from training.data import select_records

    lines = []
    for name, transcript in [("letter", "B"), ("pair", "Hello there"), ("sentence", "Set an alarm for seven"),
                             ("music", "")]:
        rec = Record(id=name, instruction="What is said?", output=transcript or "No one speaks.",
                     sound=[f"audio/{name}.wav"], dataset="synthetic", task="speech_content", stage="perception",
                     metadata={"transcript": transcript})
        lines.append(json.dumps(rec.to_openaqa()))
    write_train_split(tmp_path, lines)
    chosen = select_records(DataSection(root=str(tmp_path), speech_min_words=2), seed=0)
    assert sorted(r.id for r in chosen) == ["music", "pair", "sentence"]
    assert len(select_records(DataSection(root=str(tmp_path)), seed=0)) == 4


def test_transcript_answers_copy_what_the_model_reads_and_drop_withheld_speech():
    from training.data import transcript_answers

    def said(name, transcript, output):
        return Record(id=name, instruction="What is said?", output=output, sound=[f"/a/{name}.wav"], dataset="d",
                      task="speech_content", stage="perception", metadata={"transcript": transcript})

    records = [said("read", "Set an alarm for seven.", "Set an alarm for seven."),
               said("gated", "Hello there.", "Hello there."),
               said("music", "", "No one speaks in this clip."),
               Record(id="tag", instruction="What is it?", output="A dog.", sound=["/a/read.wav"], dataset="d",
                      task="classification", stage="perception", metadata={"transcript": "x"})]
    transcripts = {"/a/read.wav": "Set an alarm for 7", "/a/gated.wav": "", "/a/music.wav": "you"}
    out, dropped, unclear = transcript_answers(records, transcripts)
    assert [(r.id, r.output) for r in out] == [("read", "Set an alarm for 7"), ("music", "No one speaks in this clip."),
                                               ("tag", "A dog.")]
    assert (dropped, unclear) == (1, 0)
    out, dropped, unclear = transcript_answers(records, transcripts, unheard="unclear")  # the gated one is kept
    from instruction_data.generate.templates import UNCLEAR_SPEECH_A
    assert [r.id for r in out] == ["read", "gated", "music", "tag"] and (dropped, unclear) == (0, 1)
    assert out[1].output in UNCLEAR_SPEECH_A and out[1].instruction == "What is said?"
    assert transcript_answers(records, transcripts, unheard="unclear")[0][1].output == out[1].output  # by its id
    out, dropped, unclear = transcript_answers(records, transcripts, unheard="unclear", unheard_repeat=3)
    assert [r.id for r in out] == ["read", "gated", "gated", "gated", "music", "tag"] and (dropped, unclear) == (0, 3)
    assert {r.output for r in out[1:4]} == {out[1].output} and out[1].output in UNCLEAR_SPEECH_A
    from instruction_data.generate.templates import INAUDIBLE_SPEECH_A
    out, dropped, unclear = transcript_answers(records, transcripts, unheard="inaudible", unheard_repeat=2)
    assert [r.id for r in out] == ["read", "gated", "gated", "music", "tag"] and (dropped, unclear) == (0, 2)
    assert out[1].output in INAUDIBLE_SPEECH_A and out[0].output == "Set an alarm for 7"


def test_unheard_speech_setting_is_checked():
    from training.config import ConfigError, config_from_dict

    def data(**section):
        return config_from_dict({"output_dir": "runs/x", "model": {"init_from": "runs/w"}, "data": section}).data

    assert data(unheard_speech="unclear").unheard_speech == "unclear" and data().unheard_speech == "drop"
    with pytest.raises(ConfigError, match="unheard_speech"):
        data(unheard_speech="guess")
    assert data(unheard_speech="unclear", unheard_repeat=4).unheard_repeat == 4 and data().unheard_repeat == 1
    assert data(unheard_speech="inaudible", unheard_repeat=2).unheard_repeat == 2
    with pytest.raises(ConfigError, match="unheard_repeat: must be >= 1"):
        data(unheard_speech="unclear", unheard_repeat=0)
    with pytest.raises(ConfigError, match="unheard_repeat: repeats"):
        data(unheard_repeat=2)  # nothing to repeat without unheard_speech: unclear


def test_speech_captions_quote_the_transcript_the_model_reads():
    from training.data import transcript_answers

    def caption(name, transcript, output):
        return Record(id=name, instruction="Describe the audio.", output=output, sound=[f"/a/{name}.wav"],
                      dataset="d", task="caption", stage="perception", metadata={"transcript": transcript})

    said = Record(id="said", instruction="What is said?", output="En VW Beetle.", sound=["/a/da.wav"], dataset="d",
                  task="speech_content", stage="perception", metadata={"transcript": "En VW Beetle."})
    records = [caption("da", "En VW Beetle.", 'A voice says in Danish: "En VW Beetle."'),
               caption("gated", "Hello there.", 'A woman says: "Hello there."'),
               caption("unquoted", "Ba.", "A voice says a syllable."), said]
    transcripts = {"/a/da.wav": "Ein Volkswagen Beetle.", "/a/gated.wav": "", "/a/unquoted.wav": "Bah."}
    out, dropped, _ = transcript_answers(records, transcripts, captions=True, answers=False)
    assert [(r.id, r.output) for r in out] == [("da", 'A voice says in Danish: "Ein Volkswagen Beetle."'),
                                               ("unquoted", "A voice says a syllable."),
                                               ("said", "En VW Beetle.")]
    assert dropped == 1
    out, dropped, _ = transcript_answers(records, transcripts)  # captions keep the reference words by default
    assert [r.output for r in out][:3] == [r.output for r in records][:3] and out[3].output == "Ein Volkswagen Beetle."
    assert dropped == 0


def test_tag_top1_counts_a_clip_whose_first_tag_is_one_of_its_labels():
    from training.tagger import tag_top1

    tags = [[("dog", 0.9), ("animal", 0.8)], [("rain", 0.6)], [], [("animal", 0.7), ("cat", 0.5)]]
    labels = [["dog", "animal"], ["thunder"], ["cat"], ["cat", "animal"]]
    assert tag_top1(tags, labels) == 0.5


def test_encoder_identity_hashes_every_encoder_tensor_even_zero_dimensional_buffers():
    """A sound encoder's BatchNorm holds a 0-dim `num_batches_tracked`; the identity must hash it (and change
    with any encoder weight) rather than fail. A sound encoder that feeds only the tagger makes other frames (Whisper's
    alone), so its model's cache is named apart from the same encoders' with the sound frames beside."""
    from types import SimpleNamespace

    from torch import nn

    from training.feature_cache import encoder_identity

    def fake(sound_bias: float, to_aligner: bool = True):
        torch.manual_seed(0)
        sound = nn.Sequential(nn.Conv1d(2, 2, 1), nn.BatchNorm1d(2))
        nn.init.constant_(sound[0].bias, sound_bias)
        config = SimpleNamespace(audio_base="builtin:whisper-base", sound_encoder="builtin:aisfx",
                                 sound_to_aligner=to_aligner)
        return SimpleNamespace(config=config, audio_encoder=nn.Linear(2, 2), sound_encoder=sound)

    first = encoder_identity(fake(0.0))
    assert first.startswith("whisper-base-") and first == encoder_identity(fake(0.0))
    assert encoder_identity(fake(1.0)) != first
    assert encoder_identity(fake(0.0, to_aligner=False)) not in (first, encoder_identity(fake(1.0, to_aligner=False)))


def test_a_later_stage_adds_a_sound_encoder_for_the_tagger_alone(stage, corpus, tmp_path):
    """`model.sound_encoder` with `init_from` and `sound_to_aligner: false`: the stage gives the trained model a sound
    encoder that only its tagger reads (one more block beside the Whisper layers), the aligner keeps its input width;
    without `sound_to_aligner: false` the stage is refused (a new aligner input needs a new model)."""
    from alm.inference import Assistant
    from alm.model import AlmForConditionalGeneration
    from alm.processor import AlmProcessor
    from alm.typed_config import ConfigError

    cnn = str(tiny_sound_cnn(tmp_path / "cnn"))
    first = stage("first", max_steps=1)
    later = stage("later", max_steps=1, feature_cache=str(tmp_path / "fc"), tagger__min_clips=1, tagger__folds=2,
                  tagger__steps=50, tagger__layers=2,
                  model={"init_from": str(first.output_dir), "sound_encoder": cnn, "sound_to_aligner": False,
                         "sound_tags": True})
    with labelled_clips(corpus):
        train_stage(first, progress=False)
        train_stage(later, progress=False)
    before = load_file(str(first.model_dir / "aligner.safetensors"))
    model = AlmForConditionalGeneration.from_pretrained(later.model_dir)
    assert model.config.sound_encoder and model.config.sound_to_aligner is False and model.sound_encoder is not None
    assert {k: v.shape for k, v in model.aligner.state_dict().items()} == {k: v.shape for k, v in before.items()}
    assert model.tagger.settings.sound_block and model.tagger.settings.layers == 2
    tags = Assistant(model, AlmProcessor.from_pretrained(later.model_dir)).tag([tone(440.0, 1.0)])
    assert len(tags[0]) >= 1
    with pytest.raises(ConfigError, match="set model.sound_to_aligner: false"):
        stage("refused", model={"init_from": str(first.output_dir), "sound_encoder": cnn})
