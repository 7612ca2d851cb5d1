"""SPL generator: semantic prior learner + context-aware image generator (specs/inpaint.md §3.2).

Inputs: image N×3×256×256 in [0,1] and mask N×1×256×256, 1 = hole (SPL's own polarity, as facefill).
The image branch sees x·(1−m) + m (holes painted white) and is region-normalised by the mask (RN-B);
the prior learner sees the masked image and the mask at 512² (nearest ×2 unless given) and predicts
a 256×64×64 layout P, which modulates the 8 middle blocks through SPADE, and, through a 1×1 conv,
the 152-channel features of the frozen TResNet-L teacher it is distilled from (training only).
Output: ((tanh + 1) / 2 ∈ [0,1], predicted teacher features). Compositing is the caller's job.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.registry import register
from facefill.models.spl_blocks import (
    RegionNormB,
    RegionNormL,
    ResidualDenseBlock,
    ResnetBlock,
    SpadeResnetBlock,
)


class SPLGenerator(nn.Module):
    def __init__(
        self,
        residual_blocks: int = 8,
        threshold: float = 0.8,
        prior_channels: int = 256,
        teacher_channels: int = 152,
        dense_blocks: int = 16,
        dense_growth: int = 32,
        dense_layers: int = 6,
        width: int = 64,
    ) -> None:
        """Defaults are SPL's; `width` (64) scales the image branch and the prior learner's stem
        (smaller only for tests and experiments: the checkpoint layout needs 64)."""
        super().__init__()
        p, w = prior_channels, width
        # image branch encoder (registration order = checkpoint key order)
        self.encoder_conv1 = nn.Conv2d(3, w, 7)
        self.encoder_in1 = RegionNormB(w)
        self.encoder_conv2 = nn.Conv2d(w, 2 * w, 4, stride=2, padding=1)
        self.encoder_in2 = RegionNormB(2 * w)
        self.encoder_conv3 = nn.Conv2d(2 * w, 4 * w, 4, stride=2, padding=1)
        self.encoder_in3 = RegionNormB(4 * w)
        self.middle = nn.Sequential(
            *(SpadeResnetBlock(4 * w, p, dilation=2, hidden=2 * w) for _ in range(residual_blocks))
        )
        # semantic prior learner
        self.encoder_conv1_sm = nn.Conv2d(4, w, 7)
        self.encoder_conv2_sm = nn.Conv2d(w, 2 * w, 4, stride=2, padding=1)
        self.encoder_conv3_sm = nn.Conv2d(2 * w, p, 4, stride=2, padding=1)
        self.encoder_conv4_sm = nn.Conv2d(p, p, 4, stride=2, padding=1)
        self.encoder_sm_out = nn.Conv2d(p, p, 3, padding=1)
        self.rdbs = nn.ModuleList(
            ResidualDenseBlock(p, dense_growth, dense_layers) for _ in range(dense_blocks)
        )
        self.gff = nn.Sequential(nn.Conv2d(p * dense_blocks, p, 1), nn.Conv2d(p, p, 3, padding=1))
        self.feature_recon = nn.Sequential(*(ResnetBlock(p) for _ in range(4)))
        self.feature_mapping = nn.Conv2d(p, teacher_channels, 1)
        # image branch decoder
        self.decoder = nn.Sequential(
            nn.Conv2d(4 * w, 2 * w * 4, 3, padding=1),
            nn.PixelShuffle(2),
            RegionNormL(2 * w, threshold),
            nn.ReLU(True),
            nn.Conv2d(2 * w, w * 4, 3, padding=1),
            nn.PixelShuffle(2),
            RegionNormL(w, threshold),
            nn.ReLU(True),
            nn.ReflectionPad2d(3),
            nn.Conv2d(w, 3, 7),
        )

    def encode_image(self, painted: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.encoder_in1(self.encoder_conv1(F.pad(painted, (3, 3, 3, 3), mode="reflect")), mask))
        x = F.relu(self.encoder_in2(self.encoder_conv2(x), mask))
        return F.relu(self.encoder_in3(self.encoder_conv3(x), mask))

    def prior(self, masked_512: torch.Tensor, mask_512: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(layout P, predicted teacher features) from the 512² masked image and mask."""
        x = F.pad(torch.cat([masked_512, mask_512], dim=1), (3, 3, 3, 3), mode="reflect")
        for conv in (
            self.encoder_conv1_sm,
            self.encoder_conv2_sm,
            self.encoder_conv3_sm,
            self.encoder_conv4_sm,
        ):
            x = F.leaky_relu(conv(x), 0.1)
        local = self.encoder_sm_out(x)
        features = []
        for block in self.rdbs:
            local = block(local)
            features.append(local)
        layout = self.feature_recon(self.gff(torch.cat(features, dim=1)) + x)
        return layout, self.feature_mapping(layout)

    def forward(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        masked_512: torch.Tensor | None = None,
        mask_512: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        painted = image * (1 - mask) + mask
        if masked_512 is None:
            masked_512 = F.interpolate(painted, scale_factor=2, mode="nearest")
        if mask_512 is None:
            mask_512 = F.interpolate(mask, scale_factor=2, mode="nearest")
        x = self.encode_image(painted, mask)
        layout, teacher_guess = self.prior(masked_512, mask_512)
        for block in self.middle:
            x = block(x, layout)
        return (torch.tanh(self.decoder(x)) + 1) / 2, teacher_guess


@register("spl-generator", residual_blocks=8, threshold=0.8)
def build_spl_generator(**config: Any) -> SPLGenerator:
    """SPL generator (checkpoint keys `generator.module.*` with the prefix stripped)."""
    return SPLGenerator(**config)
