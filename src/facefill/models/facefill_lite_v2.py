"""facefill-lite v2: facefill-lite's residual U-Net with a Fourier (FFC, LaMa-style) bottleneck.

Why: v1 sees ~a quarter of a 256² face from any pixel, so an eye or mouth hole is filled from the
skin around it (a smooth smudge). A fast Fourier convolution mixes every position of its input
in one step (a 1×1 convolution over the real FFT), so each bottleneck block sees the whole face:
the other eye, the nose and the jaw line that say what belongs in the hole. The FFC blocks run at
1/8 resolution (32² for a 256² face), where the FFT is nearly free on a CPU.

Same contract as v1 (models/facefill_lite.py: the same ResidualUNet, another bottleneck): input the Telea-
filled image (N×3×H×W in [0,1]) and the mask (N×1×H×W, 1 = hole), H and W multiples of
2**len(widths[1:]); output Telea + residual inside the hole, clamped to [0,1]. The zero-initialised
head makes the untrained model equal to Telea.
"""

from __future__ import annotations

import torch
from torch import nn

from facefill.models.facefill_lite import ResidualUNet, _act
from facefill.models.registry import register


class SpectralTransform(nn.Module):
    """The global branch of an FFC: reduce (1×1), 1×1 conv on the real FFT, back, expand (1×1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = max(channels // 2, 1)
        self.reduce = nn.Sequential(nn.Conv2d(channels, half, 1), _act())
        self.fourier = nn.Sequential(nn.Conv2d(2 * half, 2 * half, 1), _act())
        self.expand = nn.Conv2d(half, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        h, w = x.shape[-2:]
        freq = torch.fft.rfft2(x.float(), norm="ortho")
        spec = self.fourier(torch.cat([freq.real, freq.imag], dim=1).to(x.dtype))
        real, imag = spec.float().chunk(2, dim=1)
        spatial = torch.fft.irfft2(torch.complex(real, imag), s=(h, w), norm="ortho").to(x.dtype)
        return self.expand(x + spatial)


class FourierUnitBlock(nn.Module):
    """One FFC layer: local (3×3) and global (spectral) halves exchanging information both ways."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.local_channels = channels // 2
        cl, cg = self.local_channels, channels - channels // 2
        self.local_to_local = nn.Conv2d(cl, cl, 3, padding=1)
        self.global_to_local = nn.Conv2d(cg, cl, 3, padding=1)
        self.local_to_global = nn.Conv2d(cl, cg, 3, padding=1)
        self.global_to_global = SpectralTransform(cg)
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xl, xg = x[:, : self.local_channels], x[:, self.local_channels :]
        yl = self.local_to_local(xl) + self.global_to_local(xg)
        yg = self.local_to_global(xl) + self.global_to_global(xg)
        return self.act(torch.cat([yl, yg], dim=1))


class FFCResBlock(nn.Module):
    """Two FFC layers, added back (LaMa's residual block, without batch norm: batch-1 friendly)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ffc1 = FourierUnitBlock(channels)
        self.ffc2 = FourierUnitBlock(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffc2(self.ffc1(x))


class FacefillLiteV2(ResidualUNet):
    """Residual U-Net over [Telea fill, mask] with `blocks` FFC residual blocks at the bottleneck."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), blocks: int = 6) -> None:
        super().__init__(widths, nn.Sequential(*(FFCResBlock(widths[-1]) for _ in range(int(blocks)))))
        self.blocks = int(blocks)


@register("facefill-lite-v2")
def build_facefill_lite_v2(widths: tuple[int, ...] = (16, 32, 64, 128), blocks: int = 6) -> FacefillLiteV2:
    return FacefillLiteV2(widths=tuple(widths), blocks=int(blocks))
