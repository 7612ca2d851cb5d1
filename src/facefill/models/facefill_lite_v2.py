"""facefill-lite v2: facefill-lite's network plus Fourier (FFC, LaMa-style) blocks at the bottleneck.

Why: v1 sees ~a quarter of a 256² face from any pixel, so an eye or mouth hole is filled from the
skin around it (a smooth smudge). A fast Fourier convolution mixes every position of its input
in one step (a 1×1 convolution over the real FFT), so each FFC block sees the whole face: the
other eye, the nose and the jaw line that say what belongs in the hole. The FFC blocks run after
v1's dilated blocks at 1/16 resolution (16² for a 256² face), where the FFT is nearly free on a CPU.

Why v1's layers stay (same names, same shapes): v2 starts from the shipped v1 weights. Each FFC
block's second layer starts at zero, so the blocks start as the identity and v2 at step 0 *is* v1:
training adds structure on top of v1's lead on the hole-ratio bins instead of re-learning it.

Same contract as v1 (models/facefill_lite.py: the same ResidualUNet, a longer bottleneck): input the
Telea-filled image (N×3×H×W in [0,1]) and the mask (N×1×H×W, 1 = hole), H and W multiples of
2**len(widths[1:]); output Telea + residual inside the hole, clamped to [0,1]. The zero-initialised
head makes a model trained from scratch equal to Telea at step 0.
"""

from __future__ import annotations

import torch
from torch import nn

from facefill.models.facefill_lite import DilatedResBlock, ResidualUNet, _act
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
    """Two FFC layers, added back (LaMa's residual block, without batch norm: batch-1 friendly).

    The second layer's output convolutions start at zero, so a new block is the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ffc1 = FourierUnitBlock(channels)
        self.ffc2 = FourierUnitBlock(channels)
        last = self.ffc2
        spectral = last.global_to_global
        for conv in (last.local_to_local, last.global_to_local, last.local_to_global, spectral.expand):
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffc2(self.ffc1(x))


V1_WIDTHS = (16, 32, 64, 128, 128)
V1_DILATIONS = (1, 2, 4, 1, 2, 4)


class FacefillLiteV2(ResidualUNet):
    """v1's residual U-Net whose bottleneck is v1's dilated blocks followed by `blocks` FFC blocks."""

    def __init__(
        self, widths: tuple[int, ...] = V1_WIDTHS, dilations: tuple[int, ...] = V1_DILATIONS, blocks: int = 2
    ) -> None:
        c = widths[-1]
        layers = [DilatedResBlock(c, d) for d in dilations] + [FFCResBlock(c) for _ in range(int(blocks))]
        super().__init__(widths, nn.Sequential(*layers))
        self.dilations, self.blocks = tuple(dilations), int(blocks)


@register("facefill-lite-v2")
def build_facefill_lite_v2(
    widths: tuple[int, ...] = V1_WIDTHS, dilations: tuple[int, ...] = V1_DILATIONS, blocks: int = 2
) -> FacefillLiteV2:
    return FacefillLiteV2(widths=tuple(widths), dilations=tuple(dilations), blocks=int(blocks))
