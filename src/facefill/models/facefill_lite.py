"""facefill-lite: a compact residual U-Net that refines a classical Telea fill of a face hole.

Why a residual over Telea: a classical fill is already close to the target for small holes
(~36 dB on 1-10 % holes), which a briefly trained network cannot beat from scratch. The network
therefore sees the Telea-filled image plus the mask and predicts a correction, and its last layer
starts at zero, so the untrained model *is* Telea and every bit of training is a gain on top.

Input of `forward`: the Telea-filled image (N×3×H×W in [0,1]) and the mask (N×1×H×W, 1 = hole);
H and W must be multiples of 2**len(widths[1:]) (16 by default). Output: N×3×H×W in [0,1]
(Telea + residual inside the hole, clamped). Compositing is the caller's job.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from facefill.models.registry import register


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class DilatedResBlock(nn.Module):
    """conv(dilated) -> act -> conv, added back: enlarges the receptive field cheaply at low resolution."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class Down(nn.Module):
    """Stride-2 conv followed by a plain conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv2(self.act(self.conv1(x))))


class Up(nn.Module):
    """Conv at low resolution, nearest ×2, add the encoder skip, conv.

    Convolving before upsampling and adding (not concatenating) the skip keep the decoder cheap on a CPU.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.act = _act()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(self.act(self.conv1(x)), scale_factor=2.0, mode="nearest") + skip
        return self.act(self.conv2(x))


class ResidualUNet(nn.Module):
    """U-Net over [Telea fill, mask] whose zero-initialised head adds a residual inside the hole only,
    so that the untrained model equals Telea. Subclasses choose the bottleneck (`middle`)."""

    def __init__(self, widths: tuple[int, ...], middle: nn.Module) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.stem = nn.Sequential(nn.Conv2d(4, widths[0], 3, padding=1), _act())
        self.downs = nn.ModuleList(Down(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.middle = middle
        rev = widths[::-1]
        self.ups = nn.ModuleList(Up(a, b) for a, b in zip(rev[:-1], rev[1:], strict=True))
        self.head = nn.Conv2d(widths[0], 3, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @property
    def multiple_of(self) -> int:
        return 2 ** (len(self.widths) - 1)

    def forward(self, filled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([filled * 2.0 - 1.0, mask], dim=1)
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = self.middle(skips.pop())
        for up in self.ups:
            h = up(h, skips.pop())
        return (filled + self.head(h) * mask).clamp(0.0, 1.0)


class FacefillLite(ResidualUNet):
    """facefill-lite v1: dilated residual blocks at the bottleneck."""

    def __init__(
        self,
        widths: tuple[int, ...] = (16, 32, 64, 128, 128),
        dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4),
    ) -> None:
        super().__init__(widths, nn.Sequential(*(DilatedResBlock(widths[-1], d) for d in dilations)))
        self.dilations = tuple(dilations)


@register("facefill-lite")
def build_facefill_lite(
    widths: tuple[int, ...] = (16, 32, 64, 128, 128), dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4)
) -> FacefillLite:
    return FacefillLite(widths=tuple(widths), dilations=tuple(dilations))
