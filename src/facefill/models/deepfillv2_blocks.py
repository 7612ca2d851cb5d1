"""Building blocks of the DeepFillv2 generator (gated convolutions) in both published flavours.

nipponjo/deepfillv2-pytorch ships two definitions whose weights are not interchangeable in
practice: `networks.py` ("pt": PyTorch-style symmetric zero padding) and `networks_tf.py` ("tf":
TensorFlow "SAME" padding computed per call, asymmetric for stride-2 layers on even sizes). The
converted TF weights only reproduce the official outputs with the TF padding, so every block takes
a `tf_same` switch instead of there being two near-identical block sets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def tf_same_pad(x: torch.Tensor, ksize: int, stride: int = 1, dilation: int = 1) -> torch.Tensor:
    """Zero-pad `x` (N×C×H×W) the way TensorFlow's "SAME" convolution does.

    Output size is ceil(in / stride); the total padding is split with the smaller half on the
    top/left, which makes stride-2 layers pad 0 before and 1 after on even sizes.
    """
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad wants (left, right, top, bottom)
        out = -(size // -stride)
        span = (ksize - 1) * dilation + 1
        total = max((out - 1) * stride + span - size, 0)
        pads += [total // 2, total - total // 2]
    if not any(pads):
        return x
    return F.pad(x, pads)


def tf_nearest_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest downsampling by an integer factor as TF's resize(align_corners=True) picks pixels.

    Row index i of the output reads input row floor(i·(H−1)/(H/n − 1) + 0.5); indices are computed
    in float32 like the reference, so they do not depend on the working dtype.
    """
    height, width = x.shape[-2:]

    def indices(size: int) -> torch.Tensor:
        steps = size // factor
        grid = torch.linspace(0, size - 1, steps=steps, dtype=torch.float32, device=x.device)
        return grid.add(0.5).floor().long()

    return x[..., indices(height), :][..., indices(width)]


def pt_nearest_downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest downsampling as F.interpolate(scale_factor=1/n, mode="nearest") does: every n-th pixel.

    Spelled out as slicing because it is exact and cheaper; sizes follow floor(H/n).
    """
    height, width = x.shape[-2:]
    return x[..., : (height // factor) * factor : factor, : (width // factor) * factor : factor]


class GatedConv2d(nn.Module):
    """Gated convolution (Yu et al. 2019): one conv with 2·C outputs, ELU(features) × sigmoid(gate).

    With `activation=None` or 3 output channels (the to-RGB layers) the conv is plain and ungated,
    as in the reference. The conv lives in `.conv` so checkpoint keys read `<name>.conv.weight`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ksize: int,
        stride: int = 1,
        dilation: int = 1,
        activation: str | None = "elu",
        tf_same: bool = False,
    ) -> None:
        super().__init__()
        self.gated = activation is not None and out_channels != 3
        self.out_channels = out_channels
        self.ksize, self.stride, self.dilation = ksize, stride, dilation
        self.tf_same = tf_same
        self.activation = activation
        padding = 0 if tf_same else dilation * (ksize - 1) // 2
        self.conv = nn.Conv2d(
            in_channels,
            2 * out_channels if self.gated else out_channels,
            kernel_size=ksize,
            stride=stride,
            padding=padding,
            dilation=dilation,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_same:
            x = tf_same_pad(x, self.ksize, self.stride, self.dilation)
        x = self.conv(x)
        if not self.gated:
            return x
        features, gate = torch.split(x, self.out_channels, dim=1)
        features = F.relu(features) if self.activation == "relu" else F.elu(features)
        return features * torch.sigmoid(gate)


class GatedUpConv2d(nn.Module):
    """Nearest ×2 upsampling followed by a gated 3×3 conv (keys `<name>.conv.conv.weight`)."""

    def __init__(self, in_channels: int, out_channels: int, tf_same: bool = False) -> None:
        super().__init__()
        self.conv = GatedConv2d(in_channels, out_channels, 3, tf_same=tf_same)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class GatedDownBlock(nn.Module):
    """Stride-2 gated conv then a gated conv (the `networks.py` down block)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = out_channels if hidden is None else hidden
        self.conv1_downsample = GatedConv2d(in_channels, hidden, 3, stride=2)
        self.conv2 = GatedConv2d(hidden, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1_downsample(x))


class GatedUpBlock(nn.Module):
    """Upsample-conv then a gated conv (the `networks.py` up block)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = out_channels if hidden is None else hidden
        self.conv1_upsample = GatedUpConv2d(in_channels, hidden)
        self.conv2 = GatedConv2d(hidden, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1_upsample(x))
