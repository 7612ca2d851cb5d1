"""The small patch critic facefill-lite is trained against (training only; no published weights).

Why not DeepFillv2's SN-PatchGAN (sn_patchgan.py): facefill-lite's adversarial term is deliberately
weak, so a 0.67 M-parameter critic suffices, and torch's own spectral norm (`weight_orig` +
power-iteration buffers) is fine because no public checkpoint has to load into it.
Input: image (N×3×H×W in [0,1]) and mask (N×1×H×W, 1 = hole), and for a class-conditional critic
(`classes` > 0, SAC-GAN's local critic) an N×classes label code broadcast to planes; output:
N×1×H/16×W/16 patch logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from facefill.models.registry import register


@register("facefill-lite-discriminator")
class LitePatchDiscriminator(nn.Module):
    """Four stride-2 5×5 spectral-norm convs with LeakyReLU(0.2), then a 3×3 conv to one logit a patch."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 128), classes: int = 0) -> None:
        super().__init__()
        self.classes = classes  # label planes after the image and mask (0: not class-conditional)
        layers: list[nn.Module] = []
        cin = 4 + classes
        for w in widths:
            layers += [
                spectral_norm(nn.Conv2d(cin, w, 5, stride=2, padding=2)),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            cin = w
        layers.append(spectral_norm(nn.Conv2d(cin, 1, 3, padding=1)))
        self.net = nn.Sequential(*layers)

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, label: torch.Tensor | None = None
    ) -> torch.Tensor:
        planes = [image * 2.0 - 1.0, mask]
        if label is not None:  # N×classes codes -> constant planes
            planes.append(label[:, :, None, None].to(image.dtype).expand(-1, -1, *image.shape[-2:]))
        return self.net(torch.cat(planes, dim=1))
