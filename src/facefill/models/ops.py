"""Pure-torch versions of the StyleGAN2 custom ops (rosinality `op/`): upfirdn2d and fused leaky ReLU.

The reference compiles CUDA extensions for these; facefill needs them on CPU, CUDA and MPS with the
same numbers, so they are written with pad / conv2d only. Semantics follow the reference's native
fallback exactly, including the kernel flip (upfirdn2d is a true convolution, not a correlation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    a, b = value
    return int(a), int(b)


def upfirdn2d(
    x: torch.Tensor,
    kernel: torch.Tensor,
    up: int | Sequence[int] = 1,
    down: int | Sequence[int] = 1,
    pad: Sequence[int] = (0, 0),
) -> torch.Tensor:
    """Upsample (zero insertion), pad, convolve with a 2-D FIR kernel, downsample (striding).

    x: (N, C, H, W); kernel: (kh, kw), applied to every channel. `up`/`down` are an int or (x, y);
    `pad` is (pad0, pad1) for both axes or (x0, x1, y0, y1) like the reference. Negative pads crop.
    Output height: (H*up_y + pad_y0 + pad_y1 - kh + down_y) // down_y.
    """
    up_x, up_y = _pair(up)
    down_x, down_y = _pair(down)
    if len(pad) == 2:
        pad_x0, pad_x1 = pad
        pad_y0, pad_y1 = pad
    else:
        pad_x0, pad_x1, pad_y0, pad_y1 = pad
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    out = x.reshape(n * c, 1, h, w)
    if up_x > 1 or up_y > 1:  # zero insertion: each sample followed by up-1 zeros (portable to MPS)
        stuffed = out.new_zeros(n * c, 1, h * up_y, w * up_x)
        stuffed[:, :, ::up_y, ::up_x] = out
        out = stuffed
    out = F.pad(out, [max(pad_x0, 0), max(pad_x1, 0), max(pad_y0, 0), max(pad_y1, 0)])
    out = out[
        :,
        :,
        max(-pad_y0, 0) : out.shape[2] - max(-pad_y1, 0),
        max(-pad_x0, 0) : out.shape[3] - max(-pad_x1, 0),
    ]
    weight = torch.flip(kernel, [0, 1]).reshape(1, 1, kh, kw).to(dtype=out.dtype, device=out.device)
    out = F.conv2d(out, weight)
    out = out[:, :, ::down_y, ::down_x]
    return out.reshape(n, c, out.shape[2], out.shape[3])


def make_kernel(taps: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """A 1-D tap list becomes its outer product; the 2-D kernel is normalised to sum 1."""
    k = torch.as_tensor(taps, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def fused_leaky_relu(
    x: torch.Tensor, bias: torch.Tensor | None, negative_slope: float = 0.2, scale: float = SQRT2
) -> torch.Tensor:
    """leaky_relu(x + bias) * scale, bias broadcast over channel dim 1 (the reference's fused op)."""
    if bias is not None:
        x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2))).to(x.dtype)
    return F.leaky_relu(x, negative_slope) * scale


class FusedLeakyReLU(nn.Module):
    """Per-channel bias followed by scaled leaky ReLU; state_dict key `bias`."""

    def __init__(self, channels: int, bias: bool = True, negative_slope: float = 0.2, scale: float = SQRT2):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


class Blur(nn.Module):
    """FIR low-pass (upfirdn2d with pad only); buffer `kernel` is scaled by factor² after upsampling."""

    def __init__(self, taps: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        kernel = make_kernel(taps)
        if upsample_factor > 1:
            kernel = kernel * (upsample_factor**2)
        self.register_buffer("kernel", kernel)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x FIR upsampling (ToRGB skip path); buffer `kernel` = normalised kernel × factor²."""

    def __init__(self, taps: Sequence[float], factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(taps) * (factor**2))
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: weight stored as randn/lr_mul, scaled at run time."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: str | None = None,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias=bias)


class EqualConv2d(nn.Module):
    """Conv2d with equalised learning rate (weight × 1/sqrt(in·k²) at run time)."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = True
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_ch * kernel_size**2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)


class PixelNorm(nn.Module):
    """x / sqrt(mean(x², dim=1) + 1e-8): normalises z before the mapping network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)
