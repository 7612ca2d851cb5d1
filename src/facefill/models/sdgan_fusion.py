"""SD-GAN `Semantic_Fusion_Network`: face + accessory template + 3D canonical maps -> W+ offset n_o.

Checkpoint-compatible with SD-GAN's `checkpoint_latest.pt` (`ckpt['model']` without the
DataParallel `module.` prefix; manifest `sdgan_semantic_fusion_network.json`). Forward pass as in
SD-GAN's `model.py`; the per-sample Python loops of the reference (region pooling in `Zencoder`,
scattering in `ACE`) are written as masked tensor ops with the same result, so a batch runs as one
tensor. Inputs are all in [-1, 1]: face (N,3,256,256), template (N,3,256,256), canonical maps
(N,9,H,W). Output (N, n_latent, 512), each row with zero mean and a learned scale (`regre.in3`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.registry import register
from facefill.models.sdgan_backbones import ResNetFace18, TemplateResNet18

STYLE_LENGTH = 512
N_STYLE_FCS = 19  # fc_mu0..18 exist in the checkpoint; only as many as there are style codes are used


class Zencoder(nn.Module):
    """Canonical maps -> a 512-d code map at half resolution, pooled over the regions of `segmap`.

    Layout (indices = checkpoint keys `model.N`): pad, conv 9->32, IN, lrelu, conv/2 32->64, IN,
    lrelu, conv/2 64->128, IN, lrelu, convT x2 128->256, IN, lrelu, pad, conv 256->512, tanh.
    """

    def __init__(self, input_nc: int = 9, output_nc: int = STYLE_LENGTH, ngf: int = 32):
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(input_nc, ngf, 3), nn.InstanceNorm2d(ngf), nn.LeakyReLU(0.2),
            nn.Conv2d(ngf, ngf * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(ngf * 2), nn.LeakyReLU(0.2),
            nn.Conv2d(ngf * 2, ngf * 4, 3, stride=2, padding=1), nn.InstanceNorm2d(ngf * 4),
            nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(ngf * 4, ngf * 8, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(ngf * 8), nn.LeakyReLU(0.2),
            nn.ReflectionPad2d(1), nn.Conv2d(ngf * 8, output_nc, 3), nn.Tanh(),
        )  # fmt: skip

    def forward(self, maps: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
        """(N, S, output_nc): mean code over the pixels where segmap channel s is non-zero (0 if none)."""
        codes = self.model(maps)
        regions = (F.interpolate(segmap, size=codes.shape[2:], mode="nearest") != 0).to(codes.dtype)
        sums = torch.einsum("nfhw,nshw->nsf", codes, regions)
        area = regions.sum(dim=(2, 3))[..., None]
        return torch.where(area > 0, sums / area.clamp(min=1), torch.zeros_like(sums))


class SpadeBranch(nn.Module):
    """SPADE modulation from a label map: conv5 + ReLU -> (conv5 gamma, conv5 beta)."""

    def __init__(self, norm_nc: int, label_nc: int, hidden: int = 512):
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, hidden, 5, padding=2), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, norm_nc, 5, padding=2)
        self.mlp_beta = nn.Conv2d(hidden, norm_nc, 5, padding=2)

    def forward(self, segmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.mlp_shared(segmap)
        return self.mlp_gamma(hidden), self.mlp_beta(hidden)


class ACE(nn.Module):
    """SEAN-style ACE normalisation of `x` (template feature) by `segmap` (face feature) and style codes.

    Style code j, through relu(fc_mu{j}), is written at the positions where segmap channel j is
    non-zero (later codes overwrite earlier ones); conv5 of that map gives (gamma, beta), blended with
    SPADE's (gamma, beta) by sigmoid(blending_*). `noise_var` and unused fc_mu{j} are checkpoint-only.
    """

    def __init__(self, norm_nc: int = STYLE_LENGTH, label_nc: int = STYLE_LENGTH):
        super().__init__()
        self.blending_gamma = nn.Parameter(torch.zeros(1))
        self.blending_beta = nn.Parameter(torch.zeros(1))
        self.noise_var = nn.Parameter(torch.zeros(norm_nc))
        self.Spade = SpadeBranch(norm_nc, label_nc)
        self.param_free_norm = nn.InstanceNorm2d(norm_nc, affine=False)
        for j in range(N_STYLE_FCS):
            setattr(self, f"fc_mu{j}", nn.Linear(STYLE_LENGTH, STYLE_LENGTH))
        self.conv_gamma = nn.Conv2d(STYLE_LENGTH, norm_nc, 5, padding=2)
        self.conv_beta = nn.Conv2d(STYLE_LENGTH, norm_nc, 5, padding=2)

    def forward(self, x: torch.Tensor, segmap: torch.Tensor, style_codes: torch.Tensor) -> torch.Tensor:
        normalized = self.param_free_norm(x)
        segmap = F.interpolate(segmap, size=x.shape[2:], mode="nearest")
        n, _, h, w = normalized.shape
        middle = normalized.new_zeros(n, STYLE_LENGTH, h, w)
        for j in range(style_codes.shape[1]):
            mu = F.relu(getattr(self, f"fc_mu{j}")(style_codes[:, j]))
            middle = torch.where((segmap[:, j] != 0)[:, None], mu[:, :, None, None], middle)
        gamma_spade, beta_spade = self.Spade(segmap)
        gamma_alpha = torch.sigmoid(self.blending_gamma)
        beta_alpha = torch.sigmoid(self.blending_beta)
        gamma = gamma_alpha * self.conv_gamma(middle) + (1 - gamma_alpha) * gamma_spade
        beta = beta_alpha * self.conv_beta(middle) + (1 - beta_alpha) * beta_spade
        return normalized * (1 + gamma) + beta


class LocallyConnected1d(nn.Module):
    """An unshared linear map per output position; weight (1, out, in, length, kernel), no bias."""

    def __init__(
        self, in_channels: int, out_channels: int, length: int, kernel_size: int = 1, stride: int = 1
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, length, kernel_size))
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        windows = x.unfold(2, self.kernel_size, self.stride)  # (N, in, length, kernel)
        return torch.einsum("nilk,oilk->nol", windows, self.weight[0])


class Regressor(nn.Module):
    """512xL feature -> per-position 512x512 map + ReLU -> per-dimension Lx(n_latent) mix + ReLU -> IN1d."""

    def __init__(self, positions: int = 256, n_latent: int = 14, channels: int = STYLE_LENGTH):
        super().__init__()
        self.tree_connect_1 = nn.Sequential(LocallyConnected1d(channels, channels, positions), nn.ReLU())
        self.tree_connect_2 = nn.Sequential(LocallyConnected1d(positions, n_latent, channels), nn.ReLU())
        self.in3 = nn.InstanceNorm1d(n_latent, affine=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out = self.tree_connect_1(features.flatten(2))
        out = self.tree_connect_2(out.permute(0, 2, 1))
        return self.in3(out)


class SemanticFusionNetwork(nn.Module):
    """n_o = regre(ACE(template_feature, face_feature, Zencoder(canonical, face))).

    `image_size` (256 in SD-GAN) fixes the 16x16 fusion map the regressor was trained on; smaller
    sizes (multiples of 16) exist for tests only.
    """

    def __init__(self, n_latent: int = 14, image_size: int = 256, canonical_channels: int = 9):
        super().__init__()
        if image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16, not {image_size}")
        self.image_size = image_size
        self.n_latent = n_latent
        self.arcfacenet = ResNetFace18()
        self.masknet = TemplateResNet18()
        self.fusion = ACE()
        self.regre = Regressor((image_size // 16) ** 2, n_latent)
        self.encoder = Zencoder(canonical_channels)

    def forward(self, face: torch.Tensor, template: torch.Tensor, canonical: torch.Tensor) -> torch.Tensor:
        face_feature = self.arcfacenet(face)
        template_feature = self.masknet(template)
        style_codes = self.encoder(canonical, face)
        return self.regre(self.fusion(template_feature, face_feature, style_codes))


@register("sdgan-fusion", n_latent=14, image_size=256, canonical_channels=9)
def build_sdgan_fusion(
    n_latent: int = 14, image_size: int = 256, canonical_channels: int = 9
) -> SemanticFusionNetwork:
    """SD-GAN's offset network (load `ckpt['model']` with the `module.` prefix stripped)."""
    return SemanticFusionNetwork(n_latent, image_size, canonical_channels)
