"""The Whisper encoder, run at each window's own length.

Hugging Face's `WhisperEncoder.forward` insists on 30 s (3000 mel frames) of input. Here the
same modules are run on windows padded only to the longest in the batch, with the padding
masked out of attention, so a 2 s clip costs 2 s of compute and its frames do not depend on
what else is in the batch.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from alm.model.audio_tokens import encoder_frames


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool, True where a position holds real data."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def window_stats(frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(W, T, C) frames -> (W, 2C) float32: each window's mean and max over its real frames (what sound taggers
    read)."""
    frames = frames.float()
    keep = padding_mask(lengths, frames.shape[1])[..., None]  # W, T, 1
    mean = (frames * keep).sum(1) / lengths.clamp(min=1)[:, None]
    peak = frames.masked_fill(~keep, torch.finfo(frames.dtype).min).amax(1)
    return torch.cat([mean, peak], -1)  # W, 2C


class WhisperAudioEncoder(nn.Module):
    def __init__(self, config: WhisperConfig, encoder: WhisperEncoder | None = None):
        super().__init__()
        self.config = config
        self.encoder = encoder if encoder is not None else WhisperEncoder(config)

    @property
    def width(self) -> int:
        return self.config.d_model

    def forward(self, mel: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode windows.

        mel: (W, M, Tm) log-mel windows, zero-padded after each window's `mel_lengths`.
        Returns frames (W, T, C) with T = ceil(Tm / 2), and frame_lengths (W,).
        """
        frames, frame_lengths, _ = self.encode(mel, mel_lengths)
        return frames, frame_lengths

    def encode(self, mel: torch.Tensor, mel_lengths: torch.Tensor, stats_layers: int = 0):
        """`forward`, and with `stats_layers` > 0 also each window's `window_stats` of the outputs of the last
        `stats_layers` layers, (W, K, 2C), the last from the final (layer-normed) frames; else None."""
        if stats_layers > len(self.encoder.layers):
            raise ValueError(f"{stats_layers} layers asked for; this encoder has {len(self.encoder.layers)}")
        x, frame_lengths = self.embed(mel, mel_lengths)
        x, stats = self.run_layers(x, frame_lengths, stats_layers=stats_layers)
        return x, frame_lengths, torch.stack(stats, 1) if stats_layers else None  # ..., W, K, 2C

    def embed(self, mel: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The convolutions and positions: mel (W, M, Tm) -> the first layer's input (W, T, C), frame_lengths (W,)."""
        enc = self.encoder
        dtype = enc.conv1.weight.dtype
        mel = mel.to(dtype) * padding_mask(mel_lengths, mel.shape[-1])[:, None, :].to(dtype)
        x = nn.functional.gelu(enc.conv1(mel))  # W, M, Tm -> W, C, Tm
        # Zero conv1 outputs past each length so conv2 sees what it would see on the window alone.
        x = x * padding_mask(mel_lengths, x.shape[-1])[:, None, :].to(x.dtype)
        x = nn.functional.gelu(enc.conv2(x))  # W, C, Tm -> W, C, T
        x = x.permute(0, 2, 1)  # W, C, T -> W, T, C
        num_frames = x.shape[1]
        if num_frames > enc.embed_positions.num_embeddings:
            raise ValueError(f"window of {num_frames} frames exceeds Whisper's {enc.embed_positions.num_embeddings}")
        x = x + enc.embed_positions.weight[:num_frames].to(x.dtype)
        x = nn.functional.dropout(x, p=enc.dropout, training=self.training)
        return x, encoder_frames(mel_lengths)

    def run_layers(self, x: torch.Tensor, frame_lengths: torch.Tensor, start: int = 0, stop: int | None = None,
                   stats_layers: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Layers `start` to `stop` (default: the last, then the final layer norm) on x (W, T, C), padding masked out
        of attention. Also returns the `window_stats` (W, 2C each) of those among them that are the encoder's last
        `stats_layers` (the last one's after the layer norm)."""
        enc = self.encoder
        n = len(enc.layers)
        stop = n if stop is None else stop
        keep = padding_mask(frame_lengths, x.shape[1])  # W, T
        attn_mask = torch.zeros(keep.shape, dtype=x.dtype, device=x.device)
        attn_mask = attn_mask.masked_fill(~keep, torch.finfo(x.dtype).min)[:, None, None, :]  # W, 1, 1, T
        stats = []
        for i in range(start, stop):
            x = enc.layers[i](x, attn_mask)
            if n - stats_layers <= i < n - 1:
                stats.append(window_stats(x, frame_lengths))
        if stop == n:
            x = enc.layer_norm(x)
            if stats_layers:
                stats.append(window_stats(x, frame_lengths))
        return x, stats
