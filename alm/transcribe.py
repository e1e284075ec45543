"""Speech transcripts from the Whisper decoder, given to the LLM beside the audio tokens (LTU-AS)."""

from __future__ import annotations

import numpy as np
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from alm.model.audio_tokens import SAMPLE_RATE, split_windows


class Transcriber:
    def __init__(self, audio_base: str, dtype=torch.float32, device: str = "cpu"):
        from alm.weights import resolve_base

        path = resolve_base(audio_base)
        self.processor = WhisperProcessor.from_pretrained(path)
        self.model = WhisperForConditionalGeneration.from_pretrained(path, dtype=dtype).to(device).eval()
        self.multilingual = bool(getattr(self.model.generation_config, "is_multilingual", False))

    @torch.no_grad()
    def transcribe(self, wave: np.ndarray) -> str:
        """(N,) 16 kHz -> text; each 30 s window is decoded on its own and the texts are joined."""
        texts = []
        for window in split_windows(wave, 30.0):
            feats = self.processor(window, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
            kwargs = {"task": "transcribe"} if self.multilingual else {}
            ids = self.model.generate(feats.to(self.model.device, self.model.dtype), max_new_tokens=220, **kwargs)
            texts.append(self.processor.batch_decode(ids, skip_special_tokens=True)[0].strip())
        return " ".join(t for t in texts if t)
