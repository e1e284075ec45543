"""Hugging Face audio models as alm's general-sound encoder (`AlmConfig.sound_encoder` = a Hub id or folder).

Three families are wired, each giving frames in time order and how many of them hold real audio:
- models on raw 16 kHz waveforms (wav2vec2, HuBERT, WavLM, data2vec-audio): their `last_hidden_state`;
- the Audio Spectrogram Transformer (AST, e.g. `MIT/ast-finetuned-audioset-10-10-0.4593`, trained on
  AudioSet's 527 sound classes), which takes a fixed span of log-mel frames (1,024 = 10.24 s): a window
  is cut into spans that overlap so that the patches of all spans form one time grid, each span runs
  alone, and each time step's patches are averaged over frequency;
- CLAP's audio tower (HTSAT, e.g. `laion/clap-htsat-unfused`, trained to match sounds with their
  descriptions): 10 s spans side by side (their log-mel comes cut and padded by CLAP's extractor), each run
  alone; its (E, 2, 32) final map averaged over frequency is 32 time steps per span (312.5 ms each).

Others (BEATs, EAT: not in transformers) are refused with a one-line error.
"""

from __future__ import annotations

import torch
from torch import nn

from alm.errors import WeightsError, first_line
from alm.model.audio_encoder import padding_mask

AST_TYPE = "audio-spectrogram-transformer"
CLAP_TYPES = ("clap", "clap_audio_model")  # a whole CLAP (its text tower is dropped) or its audio tower alone


class WaveformSoundEncoder(nn.Module):
    """A transformers audio model on raw 16 kHz waveforms (wav2vec2, HuBERT, WavLM, data2vec-audio): its
    `last_hidden_state` frames."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.width = model.config.hidden_size

    def forward(self, samples: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """samples (W, 1, N) normalised by the model's feature extractor, zero past `lengths` -> (W, S, E), (W,)."""
        samples = samples[:, 0]  # W, 1, N -> W, N
        mask = padding_mask(lengths, samples.shape[1]).long()
        hidden = self.model(input_values=samples, attention_mask=mask).last_hidden_state  # W, S, E
        frame_lengths = self.model._get_feat_extract_output_lengths(lengths).clamp(1, hidden.shape[1])
        return hidden, frame_lengths


class AstSoundEncoder(nn.Module):
    """An Audio Spectrogram Transformer over windows of any length.

    AST embeds a (span, M) log-mel as 16x16 patches every `frequency_stride` bands and `time_stride` frames:
    `bands` x `steps` patches (12 x 101 for 128 bands and 1,024 frames), after a CLS and a distillation token.
    Spans start `steps * time_stride` frames apart (1,010: they overlap by 14 frames), so time step t of span p
    starts at frame (p * steps + t) * time_stride: the spans' steps, laid end to end, are one grid of a step
    every `time_stride` frames (100 ms). A span past a window's real frames is filled with the extractor's
    padding (log-mel 0, normalised), as AST was trained; spans holding no real frame are not run."""

    def __init__(self, model: nn.Module, pad_value: float):
        super().__init__()
        self.model = model
        config = model.config
        self.width = config.hidden_size
        self.span = config.max_length  # log-mel frames one pass takes
        self.stride = config.time_stride  # log-mel frames per time step
        self.bands, self.steps = model.embeddings.get_shape(config)  # patches along frequency and time
        self.hop = self.steps * self.stride  # log-mel frames between span starts
        self.pad_value = pad_value

    def forward(self, spec: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """spec (W, M, S) normalised log-mel, `lengths` (W,) real frames -> frames (W, P * steps, E), their
        lengths (W,): one frame per time step that starts on a real log-mel frame."""
        windows = spec.shape[0]
        frame_lengths = ((lengths + self.stride - 1) // self.stride).clamp(min=1)  # W
        spans = int((frame_lengths.max() + self.steps - 1) // self.steps)  # P
        total = (spans - 1) * self.hop + self.span
        x = spec.transpose(1, 2)  # W, M, S -> W, S, M
        x = nn.functional.pad(x, (0, 0, 0, max(0, total - x.shape[1])))[:, :total]  # W, total, M
        x = x.masked_fill(~padding_mask(lengths, total)[:, :, None], self.pad_value)
        x = x.unfold(1, self.span, self.hop).transpose(2, 3)  # W, P, M, span -> W, P, span, M
        needed = torch.arange(spans, device=spec.device)[None] * self.steps < frame_lengths[:, None]  # W, P
        hidden = self.model(input_values=x[needed]).last_hidden_state[:, 2:]  # N, bands * steps, E
        hidden = hidden.reshape(-1, self.bands, self.steps, self.width).mean(1)  # N, steps, E
        frames = hidden.new_zeros(windows, spans, self.steps, self.width)
        frames[needed] = hidden
        return frames.reshape(windows, spans * self.steps, self.width), frame_lengths  # W, P * steps, E


class ClapSoundEncoder(nn.Module):
    """CLAP's audio tower over windows of any length, a 10 s span at a time: spans without audio are not run; a
    fusion model gets four copies of a span's log-mel and is told it is not longer than one span, a model without
    fusion one copy."""

    def __init__(self, model: nn.Module, span_frames: int):
        super().__init__()
        self.model = model  # ClapAudioModel
        self.width = model.audio_encoder.num_features
        self.bands = model.config.num_mel_bins
        self.span = span_frames  # log-mel frames of one span (1,001)
        self.fusion = model.config.enable_fusion

    def forward(self, spec: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """spec (W, C * M, P * S) log-mel spans, `lengths` (W,) frames holding audio -> frames (W, P * K, E) and
        their lengths (W,): K time steps per span, those that start on audio."""
        windows, channels = spec.shape[0], spec.shape[1] // self.bands
        spans = int((lengths.max() + self.span - 1) // self.span)  # P
        x = nn.functional.pad(spec, (0, max(0, spans * self.span - spec.shape[2])))[:, :, :spans * self.span]
        x = x.reshape(windows, channels, self.bands, spans, self.span).permute(0, 3, 1, 4, 2)  # W, P, C, S, M
        needed = torch.arange(spans, device=spec.device)[None] * self.span < lengths[:, None]  # W, P
        inputs = x[needed]  # N, C, S, M
        if not self.fusion:
            inputs = inputs[:, :1]  # an extractor set to fuse gives four copies; a tower without fusion takes one
        extra = {"is_longer": torch.zeros(len(inputs), 1, dtype=torch.bool, device=spec.device)} if self.fusion else {}
        hidden = self.model(input_features=inputs, **extra).last_hidden_state  # N, E, 2, K
        hidden = hidden.mean(2).transpose(1, 2)  # N, E, K -> N, K, E
        steps = hidden.shape[1]  # K
        frames = hidden.new_zeros(windows, spans, steps, self.width)
        frames[needed] = hidden
        full, rest = lengths // self.span, lengths % self.span
        frame_lengths = (full * steps + (rest * steps + self.span - 1) // self.span).clamp(min=1)
        return frames.reshape(windows, spans * steps, self.width), frame_lengths  # W, P * K, E


def load_hub_sound_encoder(path: str, hub: dict | None = None) -> nn.Module:
    """The frozen-to-be encoder of a Hub id or folder, wrapped for its family; `hub`: access arguments for
    `from_pretrained` (token, cache_dir, local_files_only...). Any other model, or one that cannot be loaded, raises
    WeightsError."""
    from transformers import AutoConfig

    hub = hub or {}
    try:
        return _wrapped(path, AutoConfig.from_pretrained(path, **hub), hub)
    except (OSError, ValueError, ImportError) as exc:
        raise WeightsError(f"cannot load sound encoder {path!r}: {first_line(exc)}") from None


def _wrapped(path: str, config, hub: dict) -> nn.Module:
    from transformers import AutoModel

    from alm.audio.sound_features import load_feature_extractor

    if config.model_type == AST_TYPE:
        model = AutoModel.from_pretrained(path, **hub)  # an ASTForAudioClassification checkpoint loads without its head
        extractor = load_feature_extractor(path, hub=hub)
        pad = float(extractor.normalize(0.0)) if extractor.do_normalize else 0.0
        return AstSoundEncoder(model, pad)
    if config.model_type in CLAP_TYPES:
        from transformers import ClapAudioModel, ClapModel

        audio = ClapModel.from_pretrained(path, **hub).audio_model if config.model_type == "clap" else \
            ClapAudioModel.from_pretrained(path, **hub)
        extractor = load_feature_extractor(path, hub=hub)
        return ClapSoundEncoder(audio, extractor.nb_max_samples // extractor.hop_length + 1)
    model = AutoModel.from_pretrained(path, **hub)
    if model.main_input_name == "input_values" and hasattr(model, "_get_feat_extract_output_lengths"):
        return WaveformSoundEncoder(model)
    raise WeightsError(f"{path}: a {config.model_type} model is not a sound encoder alm can run; it takes "
                       "waveform models (wav2vec2, HuBERT, WavLM, data2vec-audio), the Audio Spectrogram "
                       "Transformer and CLAP")
