"""Speech transcripts from the Whisper decoder, given to the LLM beside the audio tokens (LTU-AS)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from alm.logs import quiet_transformers
from alm.model.audio_tokens import SAMPLE_RATE, split_windows

WINDOW_SECONDS = 30.0  # Whisper's input length; longer clips are decoded window by window
MAX_NEW_TOKENS = 220  # per window (Whisper's decoder holds 448 positions)
TOKENS_PER_SECOND = 6  # fast speech is ~3 words/s; non-Latin scripts take ~2 tokens a word


def token_budget(seconds: float) -> int:
    """New tokens allowed for a window of this much real audio: enough for fast speech, and a stop for the
    repetition loops Whisper falls into on music and noise (which would otherwise run to MAX_NEW_TOKENS)."""
    return min(MAX_NEW_TOKENS, 16 + math.ceil(TOKENS_PER_SECOND * seconds))


def default_dtype(device: str) -> torch.dtype:
    """bfloat16 where the hardware runs it natively (CUDA with bf16, CPUs with AVX512-BF16/AMX): ~2.5x faster
    than float32 on such a CPU with the same transcripts in our checks; float32 elsewhere."""
    if str(device).startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)() or \
        getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return torch.bfloat16 if native else torch.float32


def transcriber_identity(audio_base: str, dtype: torch.dtype) -> str:
    """`<base name>-<16 hex>`: the Whisper base, the decoding settings and a sha256 of the base's files."""
    from alm.weights import resolve_base

    folder = Path(resolve_base(audio_base))
    digest = hashlib.sha256(f"{audio_base}:{dtype}:{MAX_NEW_TOKENS}:{TOKENS_PER_SECOND}".encode())
    for path in sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors")):
        digest.update(path.name.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
    label = str(audio_base).rstrip("/").replace("builtin:", "").rsplit("/", 1)[-1][:40] or "whisper"
    return f"{label}-{digest.hexdigest()[:16]}"


class Transcriber:
    def __init__(self, audio_base: str, dtype: torch.dtype | None = None, device: str = "cpu"):
        """`dtype`: None picks `default_dtype(device)`."""
        from alm.weights import resolve_base

        path = resolve_base(audio_base)
        dtype = dtype or default_dtype(device)
        self.audio_base, self.dtype = audio_base, dtype
        self.processor = WhisperProcessor.from_pretrained(path)
        self.model = WhisperForConditionalGeneration.from_pretrained(path, dtype=dtype).to(device).eval()
        self.multilingual = bool(getattr(self.model.generation_config, "is_multilingual", False))

    def transcribe(self, wave: np.ndarray) -> str:
        """(N,) 16 kHz -> text; each 30 s window is decoded on its own and the texts are joined."""
        return self.transcribe_batch([wave])[0]

    @torch.no_grad()
    def transcribe_batch(self, waves: list[np.ndarray], batch_size: int = 16) -> list[str]:
        """Several clips at once: all their 30 s windows, sorted by length, are decoded greedily in batches of
        `batch_size`, each batch with the token budget of its longest window. The text of a window does not
        depend on its batch neighbours beyond float rounding."""
        step = int(WINDOW_SECONDS * SAMPLE_RATE)
        windows = []  # (clip index, window index, real samples, window)
        for i, wave in enumerate(waves):
            for k, w in enumerate(split_windows(wave, WINDOW_SECONDS)):
                windows.append((i, k, min(step, len(wave) - k * step), w))
        windows.sort(key=lambda item: item[2])
        texts: list[dict[int, str]] = [{} for _ in waves]
        kwargs = {"task": "transcribe"} if self.multilingual else {}
        for start in range(0, len(windows), batch_size):
            chunk = windows[start : start + batch_size]
            feats = self.processor.feature_extractor([w[:n] for _, _, n, w in chunk], sampling_rate=SAMPLE_RATE,
                                                     return_tensors="pt").input_features  # B, M, 3000
            budget = token_budget(max(n for _, _, n, _ in chunk) / SAMPLE_RATE)
            with quiet_transformers():  # per-call notices about generation_config vs max_new_tokens
                ids = self.model.generate(feats.to(self.model.device, self.model.dtype), max_new_tokens=budget,
                                          **kwargs)
            for (i, k, _, _), text in zip(chunk, self.processor.batch_decode(ids, skip_special_tokens=True)):
                texts[i][k] = text.strip()
        return [" ".join(t for _, t in sorted(parts.items()) if t) for parts in texts]
