"""SN-PatchGAN discriminator of DeepFillv2, checkpoint-compatible with nipponjo/deepfillv2-pytorch.

Six 5×5 stride-2 convs (4 -> 64 -> 128 -> 256 -> 256 -> 256 -> 256), LeakyReLU(0.2), flattened
output: one hinge-loss score per feature location. 18 state-dict entries
`conv{1..6}.conv_sn.{weight,bias,weight_u}` (specs/inpaint.md §6.4).

Spectral normalisation follows the reference exactly, which differs from torch's
`spectral_norm`: the stored `weight` itself is divided by its estimated largest singular value at
every forward (one power iteration on the persistent `weight_u` buffer, no gradient through σ),
so a saved discriminator already holds normalised weights and there is no `weight_orig`.
Flavour "pt" pads symmetrically by 2; "tf" uses TF "SAME" padding (1 before / 2 after on even sizes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.deepfillv2_blocks import tf_same_pad
from facefill.models.registry import register


class SpectralNormConv2d(nn.Conv2d):
    """Conv2d whose weight is renormalised in place (σ ≈ 1) before each call."""

    def __init__(self, in_channels: int, out_channels: int, ksize: int, stride: int, padding: int = 0,
                 eps: float = 1e-12) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, ksize, stride=stride, padding=padding)
        self.eps = eps
        self.register_buffer("weight_u", nn.init.trunc_normal_(torch.empty(out_channels, 1)))

    @torch.no_grad()
    def normalise_weight(self) -> torch.Tensor:
        """One power iteration; updates `weight_u`, divides the weight by σ and returns σ."""
        matrix = self.weight.detach().flatten(1)
        v = F.normalize(matrix.t() @ self.weight_u, dim=0, eps=self.eps)
        u = F.normalize(matrix @ v, dim=0, eps=self.eps)
        self.weight_u.copy_(u)
        sigma = (u.t() @ matrix @ v).squeeze()
        # .data: the division must not count as an autograd op on the parameter.
        self.weight.data.div_(sigma)
        return sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.normalise_weight()
        return super().forward(x)


class SNConvBlock(nn.Module):
    """Spectral-normalised 5×5 stride-2 conv + LeakyReLU(0.2) (keys `<name>.conv_sn.*`)."""

    def __init__(self, in_channels: int, out_channels: int, tf_same: bool = False) -> None:
        super().__init__()
        self.tf_same = tf_same
        self.conv_sn = SpectralNormConv2d(in_channels, out_channels, 5, 2, padding=0 if tf_same else 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_same:
            x = tf_same_pad(x, 5, 2)
        return F.leaky_relu(self.conv_sn(x), 0.2)


class SNPatchGAN(nn.Module):
    """Discriminator: N×cnum_in×H×W (image in [-1,1] + mask channel) -> N×(256·H/64·W/64) scores."""

    def __init__(self, cnum_in: int = 4, cnum: int = 64, flavour: str = "pt") -> None:
        super().__init__()
        if flavour not in ("pt", "tf"):
            raise ValueError(f"flavour must be 'pt' or 'tf', not {flavour!r}")
        tf_same = flavour == "tf"
        widths = [cnum_in, cnum, 2 * cnum, 4 * cnum, 4 * cnum, 4 * cnum, 4 * cnum]
        for index in range(6):
            self.add_module(f"conv{index + 1}", SNConvBlock(widths[index], widths[index + 1], tf_same))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.children():
            x = block(x)
        return x.flatten(1)


@register("sn-patchgan-pt", cnum_in=4, cnum=64)
def build_sn_patchgan_pt(cnum_in: int = 4, cnum: int = 64) -> SNPatchGAN:
    return SNPatchGAN(cnum_in, cnum, flavour="pt")


@register("sn-patchgan-tf", cnum_in=4, cnum=64)
def build_sn_patchgan_tf(cnum_in: int = 4, cnum: int = 64) -> SNPatchGAN:
    return SNPatchGAN(cnum_in, cnum, flavour="tf")
