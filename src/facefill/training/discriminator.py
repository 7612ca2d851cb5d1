"""A small SN-PatchGAN discriminator for training facefill-lite.

Private to training: the DeepFillv2 discriminator (models/sn_patchgan.py) did not exist when this was
written, and facefill-lite's adversarial term is deliberately weak, so a 0.67 M-parameter critic suffices.
Input: image (N×3×H×W in [0,1]) and mask (N×1×H×W); output: N×1×H/16×W/16 patch logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 4
        for w in widths:
            layers += [
                spectral_norm(nn.Conv2d(cin, w, 5, stride=2, padding=2)),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            cin = w
        layers.append(spectral_norm(nn.Conv2d(cin, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image * 2.0 - 1.0, mask], dim=1))
