"""Helpers for tests and benchmarks: wav bytes, OpenAI content parts, a tiny checkpoint."""

from __future__ import annotations

import base64
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from alm.audio.io import encode_audio, wav_base64, wav_bytes  # noqa: F401 - wav_bytes: for tests writing clips


def input_audio(wave: np.ndarray, fmt: str = "wav") -> dict:
    data = base64.b64encode(encode_audio(wave, fmt=fmt)).decode()
    return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}


def audio_url(wave: np.ndarray) -> dict:
    return {"type": "audio_url", "audio_url": {"url": f"data:audio/wav;base64,{wav_base64(wave)}"}}


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def tone(freq: float, seconds: float = 1.0, sr: int = 16_000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def save_tiny_checkpoint(path: Path, audio_base: str, text_base: str, audio_config: dict, seed: int = 0,
                         **overrides) -> Path:
    """A tiny random alm checkpoint (with non-trivial LoRA) on the given tiny bases."""
    import torch

    from alm.model import AlmConfig, AlmForConditionalGeneration
    from alm.processor import AlmProcessor

    fields = dict(audio_config=audio_config, text_base=text_base, audio_base=audio_base, aligner_hidden=64,
                  lora_targets=["q_proj", "v_proj"])
    fields.update(overrides)
    config = AlmConfig(**fields)
    processor = AlmProcessor.from_config(config)
    model = AlmForConditionalGeneration.from_bases(config, seed=seed)
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(seed)
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)
    model.save_pretrained(path, processor=processor)
    return path


@contextmanager
def running_vllm(model: str, served_name: str, python: Path, log_path: Path, timeout: float = 420):
    """vLLM's OpenAI server on `model` (exported for the plugin) for the duration of the block; yields its /v1
    URL. Skips the test when `python` is not a vLLM venv; fails it with the log's tail when vLLM dies."""
    import pytest

    from alm.errors import AlmError
    from serve.server import free_port
    from serve.vllm.launch import check_python, start_vllm, stop, wait_healthy

    try:
        check_python(python)
    except AlmError as exc:
        pytest.skip(str(exc))
    port = free_port()
    with open(log_path, "w") as log:
        proc = start_vllm(model, python, "127.0.0.1", port, served_name, log=log)
        try:
            try:
                wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=timeout)
            except AlmError as exc:
                pytest.fail(f"{exc}\n{log_path.read_text()[-4000:]}")
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            stop(proc)
