"""Sound tags as text: a small tagging head over the encoders' frames whose top labels the LLM reads.

A speech transcript tells the LLM what is said; tags tell it what is heard, in words it already knows
("dog", "rain"), the way a Whisper-then-LLM cascade hears: the POPE-style study in the anchors found
such cascades far less prone to answering "yes" to sounds that are not there. The head is a linear
layer over each clip's frames pooled over time (mean and max), trained on the corpus labels
(`training.tagger`), of one of two kinds:

- `softmax` (the default): one class per clip among the most specific labels ("dog", never "animal":
  the LLM knows a dog is an animal), so the first tag is the best guess at the clip's class;
- `sigmoid`: one independent probability per label, parents included (the first taggers: their first
  tags were mostly parents, "music" or "animal", which name no class).

The LLM reads, after the clip's audio tokens, ` (sound tags: dog 0.62, cat 0.11)`.

The head reads each clip's frames pooled per encoder layer: `layers: 1` the final frames the aligner reads (what
the feature cache holds), more the outputs of the encoder's last `layers` layers, as Whisper-AT reads every
layer: on recordings of sources never trained on the last layer is the limit (a linear probe on Whisper-base's
last-layer means named 12% of corpus v2's held-out-source clips, on all six layers' means side by side 23%; in
domain 67% and 70%; 20 clips per class, 183 classes). One LayerNorm, shared, normalises each layer's pooled
vector (the head's per-layer weights absorb any per-layer scale), so a one-layer tagger is the first taggers'
layout and their files load unchanged.

Shapes (A clips, W windows, T frames, C frame width, K layers read, L labels):
    frames of each layer (W, T, C), lengths (W,) -> window stats (W, K, 2C) (mean and max over real frames)
    -> per clip (A, K, 2C) (`pool_clips`, windows per clip (A,)) -> logits (A, L)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, get_args

import torch
from torch import nn


TAGGER_WEIGHTS = "tagger.safetensors"
TAGGER_FILE = "tagger.json"
TaggerKind = Literal["softmax", "sigmoid"]  # see the module docstring
KINDS = get_args(TaggerKind)


@dataclass
class TaggerSettings:
    labels: list[str]  # softmax: the most specific labels; sigmoid: the corpus taxonomy, parents included
    width: int  # frame width the head reads (AlmConfig.frame_width)
    top_k: int = 3  # at most this many tags per clip
    threshold: float = 0.3  # only tags at least this likely
    kind: TaggerKind = "sigmoid"  # files written without a kind are sigmoid taggers
    layers: int = 1  # 1: the final frames (a sound encoder's too); more: the last Whisper layers (files without: 1)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"tagger kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if self.layers < 1:
            raise ValueError(f"tagger layers {self.layers}: expected at least 1")


def pool_clips(stats: torch.Tensor, lengths: torch.Tensor, windows_per_clip: list[int]) -> torch.Tensor:
    """Window stats (W, K, 2C) -> (A, K, 2C): per clip, the mean over all its real frames (its windows' means
    weighted by their frame counts `lengths` (W,)) and the max over them."""
    C = stats.shape[-1] // 2
    weights = lengths.to(stats.dtype)[:, None, None]  # W, 1, 1
    out = []
    for block, w in zip(stats.split(windows_per_clip), weights.split(windows_per_clip)):
        mean = (block[..., :C] * w).sum(0) / w.sum(0)  # K, C
        out.append(torch.cat([mean, block[..., C:].max(0).values], -1))  # K, 2C
    return torch.stack(out)  # A, K, 2C


class SoundTagger(nn.Module):
    def __init__(self, settings: TaggerSettings):
        super().__init__()
        self.settings = settings
        self.norm = nn.LayerNorm(2 * settings.width)  # each layer's pooled vector alone
        self.head = nn.Linear(settings.layers * 2 * settings.width, len(settings.labels))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """(A, K, 2C) pooled frames of the K layers read -> (A, L) logits."""
        return self.head(self.norm(pooled).flatten(1))  # A, K, 2C -> A, K*2C -> A, L

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """(A, L) logits -> (A, L) probabilities: a distribution over the labels (softmax) or one per label."""
        return torch.softmax(logits, -1) if self.settings.kind == "softmax" else torch.sigmoid(logits)

    @torch.no_grad()
    def tags(self, pooled: torch.Tensor) -> list[list[tuple[str, float]]]:
        """The top labels of each clip (pooled (A, K, 2C)) with their probabilities, most likely first."""
        probs = self.probabilities(self(pooled.to(self.head.weight.dtype)).float())  # A, L
        out = []
        for row in probs:
            top = torch.topk(row, min(self.settings.top_k, row.numel()))
            out.append([(self.settings.labels[i], round(float(p), 2)) for p, i in zip(top.values, top.indices)
                        if p >= self.settings.threshold])
        return out

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, folder / TAGGER_WEIGHTS)
        (folder / TAGGER_FILE).write_text(json.dumps(asdict(self.settings), indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> "SoundTagger":
        from safetensors.torch import load_file

        tagger = cls(TaggerSettings(**json.loads((folder / TAGGER_FILE).read_text())))
        tagger.load_state_dict(load_file(folder / TAGGER_WEIGHTS))
        return tagger.eval()


def tags_text(tags: list[tuple[str, float]]) -> str:
    """What follows a clip's audio tokens (after its transcript, if any) when the model reads tags."""
    listed = ", ".join(f"{label} {p:.2f}" for label, p in tags) or "none"
    return f" (sound tags: {listed})"
