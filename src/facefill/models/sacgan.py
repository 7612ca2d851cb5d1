"""SAC-GAN generator: inpaint encoder, modulation mapper, AdaIN2D decoder (specs/inpaint.md §2.2).

Images are in [-1, 1]; the mask is N×1×H×W with 1 = hole (SAC-GAN's own polarity, the same as
facefill's interface). The encoder sees `cat[x·(1−m), ones, m]`; the decoder output is unbounded (no
tanh) and is read as [-1, 1]. Released configuration: 128², style_dim 128, 2 domains, cross attention.

Two ways to get the style pyramid (§2.7):
- attribute: S = mapper(F(x·(1−m), m), target label)             — `forward(x, mask, label)`
- exemplar:  S = mapper(F(exemplar, zero mask), exemplar's label) — `fill_from_exemplar(...)`
and in both the decoder decodes the *masked source's* F and skips with S.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from facefill.models.registry import register
from facefill.models.sacgan_blocks import AdainResBlk, ResBlk
from facefill.models.sacgan_mapper import ModMapper

PARTS = ("inpaint_encoder", "inpaint_decoder", "spatial_mapper")


def _widths(img_size: int, max_conv_dim: int, base_dim: int | None) -> list[int]:
    """[base, e0, e1, e2]: from_rgb width and the three down-block widths (128, 256, 512, 512 at 128²)."""
    widths = [base_dim or 2**14 // img_size]
    for _ in range(3):
        widths.append(min(widths[-1] * 2, max_conv_dim))
    return widths


class InpaintEncoder(nn.Module):
    """from_rgb (5 → base) → 3 down ResBlks (the skips) → 2 bottleneck ResBlks (F)."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.from_rgb = nn.Conv2d(5, widths[0], 3, 1, 1)
        self.encode = nn.ModuleList(
            ResBlk(a, b, normalize=True, downsample=True)
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.bottleneck = nn.ModuleList(ResBlk(widths[-1], widths[-1], normalize=True) for _ in range(2))

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """masked: x·(1−m) (the caller masks); returns F and the skips [e0@H/2, e1@H/4, e2@H/8]."""
        ones = torch.ones_like(mask)
        x = self.from_rgb(torch.cat([masked, ones, mask], dim=1))
        skips = []
        for block in self.encode:
            x = block(x)
            skips.append(x)
        for block in self.bottleneck:
            x = block(x)
        return x, skips


class InpaintDecoder(nn.Module):
    """2 AdainResBlks at H/8, 3 up-blocks that first concatenate a skip, a last AdainResBlk, to_rgb.

    Style maps used: #0, #0, #0, #1, #2, then #4 for `last_layer`; #3 is never read (as released).
    `attmaps` are built (checkpoint keys) but, as in the original, their result is never applied.
    """

    STYLE_INDEX = (0, 0, 0, 1, 2)

    def __init__(self, widths: list[int], style_dim: int) -> None:
        super().__init__()
        base, e0, e1, e2 = widths
        self.decode = nn.ModuleList(
            [
                AdainResBlk(e2, e2, style_dim),
                AdainResBlk(e2, e2, style_dim),
                AdainResBlk(2 * e2, e1, style_dim, upsample=True),
                AdainResBlk(2 * e1, e0, style_dim, upsample=True),
                AdainResBlk(2 * e0, base, style_dim, upsample=True),
            ]
        )
        self.attmaps = nn.ModuleList(nn.Conv2d(c, 1, 3, 1, 1) for c in (e2, e2, e2, e1, e0))
        self.to_rgb = nn.Sequential(
            nn.InstanceNorm2d(base, affine=True), nn.LeakyReLU(0.2), nn.Conv2d(base, 3, 1)
        )
        self.last_layer = AdainResBlk(base, base, style_dim)

    def forward(
        self, features: torch.Tensor, styles: list[torch.Tensor], skips: list[torch.Tensor]
    ) -> torch.Tensor:
        x = features
        for index, block in enumerate(self.decode):
            if index >= 2:
                x = torch.cat([x, skips[4 - index]], dim=1)  # skips e2, e1, e0
            x = block(x, styles[self.STYLE_INDEX[index]])
        return self.to_rgb(self.last_layer(x, styles[-1]))


class SACGANGenerator(nn.Module):
    """Encoder + decoder + mapper, trained jointly; one module so one state dict holds all three."""

    def __init__(
        self,
        img_size: int = 128,
        style_dim: int = 128,
        num_domains: int = 2,
        max_conv_dim: int = 512,
        cross_attention: bool = True,
        base_dim: int | None = None,
        domains: tuple[str, ...] | list[str] | None = None,
    ) -> None:
        super().__init__()
        if domains is not None:
            num_domains = len(domains)
        # the class names a checkpoint was trained on (fc1's input order); the original kept them
        # only as folder names, facefill exports them with the weights
        self.domains = tuple(domains) if domains is not None else tuple(str(i) for i in range(num_domains))
        if img_size % 8:
            raise ValueError(f"img_size must be a multiple of 8, got {img_size}")
        self.img_size = img_size
        self.num_domains = num_domains
        widths = _widths(img_size, max_conv_dim, base_dim)
        self.inpaint_encoder = InpaintEncoder(widths)
        self.inpaint_decoder = InpaintDecoder(widths, style_dim)
        self.spatial_mapper = ModMapper(num_domains, style_dim, widths[-1], img_size // 8, cross_attention)

    def encode(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """F and skips of `image` with its hole zeroed (x·(1−m)); pass a zero mask for a whole face."""
        return self.inpaint_encoder(image * (1 - mask), mask)

    def styles(self, image: torch.Tensor, mask: torch.Tensor, label: torch.Tensor) -> list[torch.Tensor]:
        """The style pyramid of (image, mask) for `label` (used by the style-consistency loss too)."""
        features, _ = self.encode(image, mask)
        return self.spatial_mapper(features, label)

    def decode(
        self, features: torch.Tensor, skips: list[torch.Tensor], styles: list[torch.Tensor]
    ) -> torch.Tensor:
        return self.inpaint_decoder(features, styles, skips)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Raw output (not composited) for target `label`: the attribute path."""
        features, skips = self.encode(image, mask)
        return self.decode(features, skips, self.spatial_mapper(features, label))

    def fill_from_exemplar(
        self, image: torch.Tensor, mask: torch.Tensor, exemplar: torch.Tensor, exemplar_label: torch.Tensor
    ) -> torch.Tensor:
        """Raw output whose style comes from the whole exemplar face (encoded with an all-zero mask)."""
        no_hole = exemplar.new_zeros(exemplar.shape[0], 1, *exemplar.shape[-2:])
        ref_features, _ = self.encode(exemplar, no_hole)
        features, skips = self.encode(image, mask)
        return self.decode(features, skips, self.spatial_mapper(ref_features, exemplar_label))


def flatten_sacgan_checkpoint(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """{'inpaint_encoder': {'module.…'}, …} (`*_nets_ema.ckpt`) -> one state dict for SACGANGenerator.

    The DataParallel `module.` prefix is dropped; `resnet18`, `recognizer` and `discriminator` (loss
    helpers, not part of the generator) are left out.
    """
    return {
        f"{part}.{key.removeprefix('module.')}": value
        for part in PARTS
        for key, value in checkpoint[part].items()
    }


@register(
    "sacgan-generator", img_size=128, style_dim=128, num_domains=2, max_conv_dim=512, cross_attention=True
)
def build_sacgan_generator(**config: Any) -> SACGANGenerator:
    """SAC-GAN generator (load `flatten_sacgan_checkpoint(nets_ema)` into it)."""
    return SACGANGenerator(**config)
