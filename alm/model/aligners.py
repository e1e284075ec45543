"""Aligners: Whisper frames -> soft prompts in the LLM's embedding space.

All aligners take frames (W, T, C) with frame_lengths (W,) and return tokens (W, N, D) with
token_lengths (W,), where token_lengths[w] == aligner_tokens(frame_lengths[w]) from
`alm.model.audio_tokens` (the one definition of the count). Frames past a window's length are
ignored, so a window's tokens do not depend on the rest of the batch.
"""

from __future__ import annotations

import torch
from torch import nn

from alm.model.audio_encoder import padding_mask


def _ceil_div(a: torch.Tensor, b: int) -> torch.Tensor:
    return (a + b - 1) // b


def _group_frames(frames: torch.Tensor, frame_lengths: torch.Tensor, group: int) -> torch.Tensor:
    """Zero padded frames, pad T to a multiple of `group`: (W, T, C) -> (W, T/g, g, C)."""
    w, t, c = frames.shape
    frames = frames * padding_mask(frame_lengths, t)[:, :, None].to(frames.dtype)
    pad = (-t) % group
    frames = nn.functional.pad(frames, (0, 0, 0, pad))  # W, T, C -> W, T+pad, C
    return frames.view(w, (t + pad) // group, group, c)


class MlpAligner(nn.Module):
    """Stack `aligner_stack` neighbouring frames, then LayerNorm -> Linear -> GELU -> Linear (Ultravox, LLaVA)."""

    def __init__(self, config):
        super().__init__()
        self.stack = config.aligner_stack
        width = config.frame_width * self.stack
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, config.aligner_hidden)
        self.fc2 = nn.Linear(config.aligner_hidden, config.text_config.hidden_size)

    def forward(self, frames, frame_lengths, instruction=None):
        grouped = _group_frames(frames, frame_lengths, self.stack)  # W, T, C -> W, T/S, S, C
        x = grouped.flatten(2)  # W, T/S, S, C -> W, T/S, S*C
        x = self.fc2(nn.functional.gelu(self.fc1(self.norm(x))))  # W, N, S*C -> W, N, D
        return x, _ceil_div(frame_lengths, self.stack)


class PoolAligner(nn.Module):
    """Average `pool_stride` frames, then LayerNorm + Linear (LTU's projector)."""

    def __init__(self, config):
        super().__init__()
        self.stride = config.pool_stride
        self.norm = nn.LayerNorm(config.frame_width)
        self.proj = nn.Linear(config.frame_width, config.text_config.hidden_size)

    def forward(self, frames, frame_lengths, instruction=None):
        grouped = _group_frames(frames, frame_lengths, self.stride)  # W, T, C -> W, N, P, C
        counts = padding_mask(frame_lengths, grouped.shape[1] * self.stride)
        counts = counts.view(grouped.shape[0], grouped.shape[1], self.stride).sum(-1).clamp(min=1)  # W, N
        x = grouped.sum(2) / counts[:, :, None].to(grouped.dtype)  # W, N, P, C -> W, N, C (mean of real frames)
        return self.proj(self.norm(x)), _ceil_div(frame_lengths, self.stride)  # W, N, C -> W, N, D


class QFormerAligner(nn.Module):
    """`qformer_queries` learnable queries cross-attend to the frames (SALMONN / GAMA style).

    With `instruction_aware`, the question's token embeddings join the queries in self-attention,
    so what the queries extract depends on what is asked (APT / InstructBLIP); only the query
    positions are output.
    """

    def __init__(self, config):
        super().__init__()
        width = config.frame_width
        self.num_queries = config.qformer_queries
        self.queries = nn.Parameter(torch.randn(self.num_queries, width) * 0.02)
        layer = nn.TransformerDecoderLayer(
            d_model=width, nhead=config.qformer_heads, dim_feedforward=4 * width,
            dropout=0.0, batch_first=True, norm_first=True, activation="gelu",
        )
        self.layers = nn.TransformerDecoder(layer, num_layers=config.qformer_layers)
        self.instruction_proj = (
            nn.Linear(config.text_config.hidden_size, width) if config.instruction_aware else None
        )
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, config.text_config.hidden_size)

    def forward(self, frames, frame_lengths, instruction=None):
        """instruction: optional (embeds (W, L, D), mask (W, L) bool) for each window's question."""
        w = frames.shape[0]
        queries = self.queries[None].expand(w, -1, -1).to(frames.dtype)  # Q, C -> W, Q, C
        query_pad = torch.zeros(w, self.num_queries, dtype=torch.bool, device=frames.device)
        if self.instruction_proj is not None:
            if instruction is None:
                raise ValueError("this aligner is instruction-aware: pass the question's embeddings")
            embeds, mask = instruction
            queries = torch.cat([queries, self.instruction_proj(embeds.to(frames.dtype))], dim=1)  # W, Q+L, C
            query_pad = torch.cat([query_pad, ~mask], dim=1)
        memory_pad = ~padding_mask(frame_lengths, frames.shape[1])
        x = self.layers(queries, frames, tgt_key_padding_mask=query_pad, memory_key_padding_mask=memory_pad)
        x = x[:, : self.num_queries]  # W, Q+L, C -> W, Q, C
        lengths = torch.full_like(frame_lengths, self.num_queries)
        return self.proj(self.norm(x)), lengths  # W, Q, C -> W, Q, D


class NoAligner(nn.Module):
    """No soft prompts (`aligner: none`): a clip reaches the LLM only as its notes (transcript, sound tags), the
    cascade that issue 11 measures against soft prompts. No parameters; (W, T, C) -> (W, 0, D)."""

    def __init__(self, config):
        super().__init__()
        self.width = config.text_config.hidden_size

    def forward(self, frames, frame_lengths, instruction=None):
        return frames.new_zeros(frames.shape[0], 0, self.width), torch.zeros_like(frame_lengths)


ALIGNER_CLASSES = {"mlp": MlpAligner, "pool": PoolAligner, "qformer": QFormerAligner, "none": NoAligner}


def build_aligner(config) -> nn.Module:
    return ALIGNER_CLASSES[config.aligner](config)
