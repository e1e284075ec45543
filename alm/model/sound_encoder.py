"""A general-sound encoder beside Whisper, as SALMONN pairs Whisper with BEATs.

Whisper was trained to transcribe; its frames say less about dogs, doors and rain than about words.
A second, frozen encoder trained on sound events runs on the same Whisper windows; its frames are
stretched in time onto Whisper's frame grid (both cover the same window) and concatenated with
Whisper's frames channel-wise, so every aligner takes them unchanged:

    whisper frames (W, T, C)  +  sound frames (W, S', E) -> stretched (W, T, E)  ->  (W, T, C + E)

Encoders (`AlmConfig.sound_encoder`):
- `builtin:yamnet`: Google's YAMNet (3.7M parameters, trained on AudioSet's 521 sound classes; Apache-2.0;
  64-band log-mel at 16 kHz in, 1,024-d frames every 0.32 s out; `alm.model.yamnet`);
- `builtin:aisfx`: the 6.2M-parameter CNN of `aisfx` (CC BY 4.0; a DCASE-baseline CNN trained on
  sound-effect libraries; 96-band log-mel at 44.1 kHz in, 512-d frames at ~5.4 per second out);
- a Hugging Face id or folder of a transformers audio model, with its own feature extractor: one on raw
  16 kHz waveforms (wav2vec2, HuBERT, WavLM, data2vec-audio), an Audio Spectrogram Transformer (AST,
  trained on AudioSet's sound classes) or CLAP's audio tower; see `alm.model.hub_sound_encoders`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from alm.audio.sound_features import CNN_MARKER, marker_kind
from alm.model.audio_encoder import padding_mask
from alm.model.yamnet import Yamnet


class _ConvBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and ReLU, then max pooling."""

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.bn2 = nn.BatchNorm2d(channels_out)

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.max_pool2d(x, pool) if pool != (1, 1) else x


class SoundCnn(nn.Module):
    """aisfx's embedding network (the DCASE cross-task baseline CNN, 9 layers), kept frame by frame: the
    package max-pools its frames over ~2.3 s blocks into one embedding; alm keeps the frames."""

    TIME_STRIDE = 8  # three 2x2 poolings

    def __init__(self, width: int = 64):
        super().__init__()
        self.conv_block1 = _ConvBlock(1, width)
        self.conv_block2 = _ConvBlock(width, 2 * width)
        self.conv_block3 = _ConvBlock(2 * width, 4 * width)
        self.conv_block4 = _ConvBlock(4 * width, 8 * width)
        self.width = 8 * width

    def forward(self, spec: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """spec (W, 96, S) log-mel, zero past `lengths` -> frames (W, S/8, 512), frame lengths (W,). Windows shorter
        than one output frame (S < 8: the last few milliseconds of a clip cut into windows) are zero-padded to it."""
        if spec.shape[2] < self.TIME_STRIDE:
            spec = F.pad(spec, (0, self.TIME_STRIDE - spec.shape[2]))  # W, 96, S -> W, 96, 8
        x = spec.transpose(1, 2) * padding_mask(lengths, spec.shape[2])[:, :, None].to(spec.dtype)  # W, S, 96
        x = x[:, None]  # W, S, 96 -> W, 1, S, 96
        x = self.conv_block1(x, (2, 2))
        x = self.conv_block2(x, (2, 2))
        x = self.conv_block3(x, (2, 2))
        x = self.conv_block4(x, (1, 1))  # W, 512, S/8, 12
        frames = x.mean(dim=3).transpose(1, 2)  # W, 512, S/8 -> W, S/8, 512
        return frames, (lengths // self.TIME_STRIDE).clamp(min=1)

    @classmethod
    def from_folder(cls, folder: Path) -> "SoundCnn":
        from safetensors.torch import load_file

        spec = json.loads((folder / CNN_MARKER).read_text())
        model = cls(spec["width"])
        model.load_state_dict(load_file(folder / "model.safetensors"))
        return model.eval()


def save_cnn(state: dict, folder: Path) -> None:
    """A `SoundCnn` state dict into `folder` as `SoundCnn.from_folder` reads it: model.safetensors and the marker
    naming its width (the converter of aisfx's checkpoint and `alm export` both write it so)."""
    from safetensors.torch import save_file

    save_file(state, folder / "model.safetensors")
    width = int(state["conv_block1.conv1.weight"].shape[0])
    (folder / CNN_MARKER).write_text(json.dumps({"kind": "aisfx-cnn", "width": width, "mel_bins": 96,
                                                 "sample_rate": 44100}, indent=2) + "\n")


def sound_encoder_for_config(name: str) -> nn.Module:
    """An untrained encoder of the kind `name` names, to receive its weights after: YAMNet for `builtin:yamnet` or a
    local folder alm converted it into, else aisfx's CNN (only these two build from a config)."""
    return Yamnet() if name == "builtin:yamnet" or marker_kind(Path(name)) == "yamnet" else SoundCnn()


def load_sound_encoder(name: str, dtype: torch.dtype = torch.float32, hub: dict | None = None) -> nn.Module:
    """`builtin:aisfx`, `builtin:yamnet`, or a Hugging Face id / folder of an audio model (`hub`: access arguments
    for its `from_pretrained`, as the bases get them); frozen, in eval mode."""
    from alm.weights import resolve_base

    path = Path(resolve_base(name))
    kind = marker_kind(path)
    if kind is not None:
        encoder = Yamnet.from_folder(path) if kind == "yamnet" else SoundCnn.from_folder(path)
    else:
        from alm.model.hub_sound_encoders import load_hub_sound_encoder

        encoder = load_hub_sound_encoder(str(path), hub)
    encoder.requires_grad_(False)
    return encoder.to(dtype).eval()


def stretch_frames(frames: torch.Tensor, lengths: torch.Tensor, target_lengths: torch.Tensor,
                   target_size: int) -> torch.Tensor:
    """Each window's first `lengths[w]` frames (W, S, E), linearly stretched onto `target_lengths[w]` frames of a
    (W, target_size, E) grid, zero after: both sequences cover the same stretch of audio."""
    out = frames.new_zeros(frames.shape[0], target_size, frames.shape[2])
    for w in range(frames.shape[0]):
        n, m = int(lengths[w]), int(target_lengths[w])
        piece = frames[w, :n].T[None]  # 1, E, n
        out[w, :m] = F.interpolate(piece, size=m, mode="linear", align_corners=False)[0].T  # m, E
    return out


@torch.no_grad()
def sound_frames_on_grid(encoder: nn.Module, features: torch.Tensor, lengths: torch.Tensor,
                         frame_lengths: torch.Tensor, size: int) -> torch.Tensor:
    """The frozen sound encoder's frames of each window (features (W, F, S), lengths (W,)), stretched onto Whisper's
    frame grid: (W, size, E), the first `frame_lengths[w]` frames of each window real (`stretch_frames`)."""
    dtype = next(encoder.parameters()).dtype
    frames, counts = encoder(features.to(dtype), lengths)  # W, S', E
    return stretch_frames(frames, counts, frame_lengths, size)


def save_sound_encoder(encoder: nn.Module, features, folder: Path) -> None:
    """`encoder` (frozen, as loaded) and what makes its input features (`alm.audio.sound_features.SoundFeatures`)
    written to `folder`, which then loads as `sound_encoder: FOLDER`: the CNN as alm converts it, a Hub model by
    `save_pretrained` (CLAP's audio tower alone) with its feature extractor."""
    if isinstance(encoder, Yamnet):
        from alm.model.yamnet import save_yamnet

        folder.mkdir(parents=True)
        save_yamnet({k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}, encoder.class_names,
                    folder)
    elif isinstance(encoder, SoundCnn):
        folder.mkdir(parents=True)
        save_cnn({k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}, folder)
    else:
        encoder.model.save_pretrained(folder)
        features.extractor.save_pretrained(folder)
