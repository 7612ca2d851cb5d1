"""SAC-GAN's modulation mapper: (encoder features F, target label) -> a 5-level pyramid of style maps.

There is no latent z and no separate style encoder (specs/inpaint.md §2.2): the label becomes a
spatial code (one-hot → fc → fc → style_dim×g×g, second-moment normalised per pixel), is fused with F
by four 3×3 convs, attends to F (cross attention, γ starts at 0) and is turned into maps at g, g, 2g,
4g, 8g (g = img_size / 8) by four more convs with nearest ×2 in between. The decoder never reads
map 3 (the original's index quirk); the last ×2 is computed there and discarded, so it is skipped here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x², dim) + eps) — StyleGAN's pixel norm, across channels."""
    return x * (x.pow(2).mean(dim=dim, keepdim=True) + eps).rsqrt()


class CrossAttention(nn.Module):
    """Queries from the encoder features F, keys and values from the style tensor S; out = γ·att + S."""

    def __init__(self, style_dim: int, feature_dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.f_conv_1 = nn.Conv2d(feature_dim, feature_dim // 2, 3, 1, 1)
        self.f_conv_2 = nn.Conv2d(feature_dim // 2, style_dim, 3, 1, 1)
        self.s_conv_att = nn.Conv2d(style_dim, style_dim // 8, 1, 1, 0)
        self.f_conv_att = nn.Conv2d(style_dim, style_dim // 8, 1, 1, 0)
        self.s_conv_val = nn.Conv2d(style_dim, style_dim, 1, 1, 0)

    def forward(self, style: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        n, c, h, w = style.shape
        query = self.f_conv_att(self.f_conv_2(self.f_conv_1(features))).reshape(n, -1, h * w).transpose(1, 2)
        key = self.s_conv_att(style).reshape(n, -1, h * w)
        attention = torch.softmax(torch.bmm(query, key), dim=-1)  # N × positions(F) × positions(S)
        value = self.s_conv_val(style).reshape(n, c, h * w)
        attended = torch.bmm(value, attention.transpose(1, 2)).reshape(n, c, h, w)
        return self.gamma * attended + style


class ModMapper(nn.Module):
    """(F: N×feature_dim×g×g, label) -> [S₀ … S₄], style maps at g, g, 2g, 4g, 8g.

    `label` is an int64 class index per item, or an N×num_domains float vector (a one-hot, or a
    mix of two for interpolating between classes).
    """

    def __init__(
        self,
        num_domains: int = 2,
        style_dim: int = 128,
        feature_dim: int = 512,
        grid: int = 16,
        cross_attention: bool = True,
    ) -> None:
        super().__init__()
        self.num_domains = num_domains
        self.style_dim = style_dim
        self.grid = grid
        self.fc1 = nn.Linear(num_domains, style_dim)
        self.fc2 = nn.Linear(style_dim, style_dim * grid * grid)
        layers: list[nn.Module] = [nn.Conv2d(style_dim + feature_dim, style_dim, 3, 1, 1), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Conv2d(style_dim, style_dim, 3, 1, 1), nn.ReLU()]
        self.spatial_mapper = nn.Sequential(*layers)
        self.resize_convs = nn.ModuleList(nn.Conv2d(style_dim, style_dim, 3, 1, 1) for _ in range(4))
        if cross_attention:
            self.CrossAtt = CrossAttention(style_dim, feature_dim)  # noqa: N815 - checkpoint key name

    def label_code(self, label: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """The one-hot (or given soft) label vector, N×num_domains, in `like`'s dtype."""
        if label.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
            return F.one_hot(label.long(), num_classes=self.num_domains).to(like.dtype)
        return label.to(like.dtype)

    def forward(self, features: torch.Tensor, label: torch.Tensor) -> list[torch.Tensor]:
        code = self.fc2(self.fc1(self.label_code(label, features)))
        code = normalize_2nd_moment(code.reshape(features.shape[0], self.style_dim, self.grid, self.grid))
        style = self.spatial_mapper(torch.cat([code, features], dim=1))
        if hasattr(self, "CrossAtt"):
            style = self.CrossAtt(style, features)
        maps = [style]
        for index, conv in enumerate(self.resize_convs):
            style = conv(style)
            maps.append(style)
            if index < len(self.resize_convs) - 1:
                style = F.interpolate(style, scale_factor=2, mode="nearest")
        return maps
