"""The Whisper transcript cache of speech-aware training: computed once, resumable, and fed to the LLM.

The Whisper decoder itself is replaced by a fake that names each clip by its length (the real
`alm.transcribe.Transcriber` runs in the integration tests on whisper-base)."""

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from training.transcript_cache import TranscriptCache, clip_key, precompute_transcripts, transcripts_by_path


class FakeTranscriber:
    """Counts the clips it is asked to transcribe; answers '<N> samples'; can fail after some batches."""

    loads = 0
    gates: list = []  # the no_speech_threshold of each load

    def __init__(self, *args, fail_after_batches: int | None = None, **kwargs):
        FakeTranscriber.loads += 1
        FakeTranscriber.gates.append(kwargs.get("no_speech_threshold"))
        self.seen = 0
        self.batches = 0
        self.fail_after = fail_after_batches

    def transcribe_batch(self, waves, batch_size=16):
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.batches += 1
        self.seen += len(waves)
        return [f"{len(w)} samples" for w in waves]


@pytest.fixture
def clips(tmp_path):
    paths = []
    for i in range(7):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, tone(200.0 + 50 * i, 0.3 + 0.1 * i), 16_000, subtype="FLOAT")
        paths.append(str(path))
    return paths


def test_each_clip_is_transcribed_once_and_found_again(tmp_path, clips, monkeypatch):
    monkeypatch.setattr("training.transcript_cache.DECODE_BATCH", 3)
    cache = TranscriptCache(tmp_path / "tc", "whisper-test")
    fake = FakeTranscriber()
    hits, misses = precompute_transcripts(cache, lambda: fake, clips + clips[:2], progress=False)
    assert (hits, misses) == (0, 7) and fake.seen == 7  # duplicates are one clip
    again = TranscriptCache(tmp_path / "tc", "whisper-test")  # a new process reads the shards
    assert len(again) == 7
    never = []
    assert precompute_transcripts(again, lambda: never.append(1), clips, progress=False) == (7, 0)
    assert never == []  # nothing missing: the transcriber is not even loaded
    texts = transcripts_by_path(again, clips)
    assert texts[clips[0]] == f"{int(0.3 * 16_000)} samples"
    # another transcriber identity is another cache
    assert len(TranscriptCache(tmp_path / "tc", "whisper-other")) == 0


def test_interrupted_precompute_resumes_with_what_was_written(tmp_path, clips, monkeypatch):
    monkeypatch.setattr("training.transcript_cache.DECODE_BATCH", 2)
    monkeypatch.setattr("training.transcript_cache.SHARD_CLIPS", 2)
    cache = TranscriptCache(tmp_path / "tc", "whisper-test")
    with pytest.raises(KeyboardInterrupt):
        precompute_transcripts(cache, lambda: FakeTranscriber(fail_after_batches=2), clips, progress=False)
    assert len(TranscriptCache(tmp_path / "tc", "whisper-test")) == 4  # two shards of two made it to disk
    assert not list((tmp_path / "tc" / "whisper-test").glob(".*.tmp"))
    fake = FakeTranscriber()
    hits, misses = precompute_transcripts(TranscriptCache(tmp_path / "tc", "whisper-test"), lambda: fake, clips,
                                          progress=False)
    assert (hits, misses) == (4, 3) and fake.seen == 3


def test_missing_transcript_is_a_clear_error(tmp_path, clips):
    with pytest.raises(KeyError, match="no transcript"):
        transcripts_by_path(TranscriptCache(tmp_path / "tc", "whisper-test"), clips[:1])


def test_clip_key_is_the_audio_content():
    a = tone(440.0, 0.5)
    assert clip_key(a) == clip_key(a.copy()) != clip_key(a * 0.5)
    assert clip_key(a.astype(np.float64)) == clip_key(a)


def test_speech_aware_stage_trains_on_the_cached_transcripts(tiny_bases, tmp_path, monkeypatch):
    """A stage with model.speech_transcripts=true: transcripts computed once, in the prompt, in the record."""
    from training.config import config_from_dict
    from training.data import Collator, prepare_examples, select_records
    from training.engine import RECORD_FILE, build_model, train_stage

    corpus = tmp_path / "corpus"
    (corpus / "audio").mkdir(parents=True)
    (corpus / "manifest.json").write_text(json.dumps({"version": 1, "fingerprint": "synthetic"}))
    lines = {"train": [], "validation": []}
    for i in range(6):
        clip = f"audio/c{i}.wav"
        sf.write(corpus / clip, tone(300.0 + 100 * i, 0.5 + 0.1 * i), 16_000, subtype="FLOAT")
        split = "validation" if i == 5 else "train"
        lines[split].append(json.dumps({"id": f"r{i}", "instruction": "What is said?", "input": "",
                                        "output": "Nothing.", "audio_id": clip, "sound": [clip],
                                        "dataset": "synthetic", "task": "speech_content", "stage": "perception"}))
    for split, rows in lines.items():
        (corpus / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    (corpus / "test.jsonl").write_text("")

    FakeTranscriber.loads = 0
    monkeypatch.setattr("alm.transcribe.Transcriber", FakeTranscriber)
    audio_base, text_base = tiny_bases

    def config(out, **model):
        return config_from_dict({
            "model": {"audio_base": audio_base, "text_base": text_base, "aligner_hidden": 64,
                      "lora_targets": ["q_proj", "v_proj"], "speech_transcripts": True, **model},
            "data": {"root": str(corpus), "eval_samples": 1, "sample_answers": 1},
            "output_dir": str(tmp_path / out), "batch_size": 2, "max_steps": 2, "precision": "fp32",
            "feature_cache": "off", "transcript_cache": str(tmp_path / "tc"), "eval_every": 0,
            "checkpoint_every": 0, "tensorboard": False})

    first = config("run1")
    train_stage(first, progress=False)
    record = json.loads((first.model_dir / RECORD_FILE).read_text())
    assert record["transcripts"]["precompute_misses"] == 6 and FakeTranscriber.loads == 1
    assert json.loads((first.model_dir / "config.json").read_text())["speech_transcripts"] is True
    second = config("run2")
    train_stage(second, progress=False)
    record = json.loads((second.model_dir / RECORD_FILE).read_text())
    assert (record["transcripts"]["precompute_hits"], record["transcripts"]["precompute_misses"]) == (6, 0)
    assert FakeTranscriber.loads == 1  # all found: Whisper not loaded the second time
    # a model with a no-speech gate: transcribed with its gate, cached apart, the gate saved in its config
    FakeTranscriber.gates = []
    gated = config("run3", no_speech_gate=0.45)
    train_stage(gated, progress=False)
    record = json.loads((gated.model_dir / RECORD_FILE).read_text())
    assert record["transcripts"]["precompute_misses"] == 6 and FakeTranscriber.gates == [0.45]
    assert record["transcripts"]["dir"] != json.loads((first.model_dir / RECORD_FILE).read_text())["transcripts"]["dir"]
    assert json.loads((gated.model_dir / "config.json").read_text())["no_speech_gate"] == 0.45

    # the transcript is in the tokens the LLM trains on, and counted in the length
    model, processor, _ = build_model(second)
    cache = TranscriptCache(tmp_path / "tc", next((tmp_path / "tc").iterdir()).name)
    records = select_records(second.data, second.seed)
    texts = transcripts_by_path(cache, [r.sound[0] for r in records])
    with_text, _ = prepare_examples(records, processor, 256, "skip", transcripts=texts)
    without, _ = prepare_examples(records, processor, 256, "skip")
    assert all(a.length > b.length for a, b in zip(with_text, without))
    batch = Collator(processor, 256)(with_text[:1])
    decoded = processor.tokenizer.decode(batch["input_ids"][0])
    assert f'(speech transcript: "{with_text[0].transcripts[0]}")' in decoded
