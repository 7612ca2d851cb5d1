"""SPL's discriminator: the EdgeConnect 70×70-style PatchGAN (specs/inpaint.md §3.2).

Five conv4×4 (3→64 s2 →128 s2 →256 s2 →512 s1 →1 s1, padding 1), spectral norm on all of them
(torch's `spectral_norm` parametrisation: `weight_orig`, `weight_u`, `weight_v`; no bias),
LeakyReLU(0.2) between, sigmoid at the end: a 30×30 map of real-probabilities for a 256² image.
`conv1` and `features` are the same module (the original aliases them, so both names are in
checkpoints). It judges the raw prediction, not the composite.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from facefill.models.registry import register


def _sn_conv(cin: int, cout: int, stride: int) -> nn.Conv2d:
    return nn.utils.spectral_norm(nn.Conv2d(cin, cout, 4, stride=stride, padding=1, bias=False))


class SPLDiscriminator(nn.Module):
    def __init__(self, in_channels: int = 3, use_sigmoid: bool = True) -> None:
        super().__init__()
        self.use_sigmoid = use_sigmoid
        self.conv1 = self.features = nn.Sequential(_sn_conv(in_channels, 64, 2), nn.LeakyReLU(0.2))
        self.conv2 = nn.Sequential(_sn_conv(64, 128, 2), nn.LeakyReLU(0.2))
        self.conv3 = nn.Sequential(_sn_conv(128, 256, 2), nn.LeakyReLU(0.2))
        self.conv4 = nn.Sequential(_sn_conv(256, 512, 1), nn.LeakyReLU(0.2))
        self.conv5 = nn.Sequential(_sn_conv(512, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """N×1×h×w patch scores (probabilities with use_sigmoid, else logits) for images in [0,1]."""
        x = image
        for block in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            x = block(x)
        return torch.sigmoid(x) if self.use_sigmoid else x


@register("spl-discriminator", in_channels=3, use_sigmoid=True)
def build_spl_discriminator(**config: Any) -> SPLDiscriminator:
    return SPLDiscriminator(**config)
