"""unsup3d (Wu et al. 2020) networks and the canonical-map decomposition SD-GAN feeds its fusion net.

Checkpoint `checkpoint030.pth` = {'netD', 'netA', 'netL', 'netV'} state dicts (manifests
unsup3d_net{D,A,L,V}.json); `Unsup3d` holds the four under those attribute names, so the flattened
checkpoint ('netD.network.0.weight', ...) loads strictly (`flatten_unsup3d_checkpoint`).

The canonical maps (depth, normals, diffuse shading, albedo, shaded canonical image) need no
renderer: they are per-pixel maths on the network outputs, done here in plain torch exactly as
SD-GAN's `unsup3d_main.Demo.run`. The neural renderer of unsup3d is only needed to re-pose the face
(view animations), which SD-GAN's inference does not use; it is not implemented.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.registry import register

EPS = 1e-7
NET_NAMES = ("netD", "netA", "netL", "netV")


class Encoder(nn.Module):
    """64x64 image -> vector: four stride-2 4x4 convs + ReLU, a 4x4 valid conv, a 1x1 conv, tanh."""

    def __init__(self, cin: int, cout: int, nf: int = 64):
        super().__init__()
        chans = (cin, nf, nf * 2, nf * 4, nf * 8)
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(a, b, 4, stride=2, padding=1, bias=False), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(nf * 8, nf * 8, 4, bias=False), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(nf * 8, cout, 1, bias=False), nn.Tanh()]
        self.network = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).reshape(x.shape[0], -1)


def _gn(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(channels // 4, channels)  # 16 groups per 64 channels, as the reference


class EDDeconv(nn.Module):
    """64x64 image -> 64x64 map: conv encoder to a zdim bottleneck, deconv decoder (GroupNorm)."""

    def __init__(self, cin: int, cout: int, zdim: int = 128, nf: int = 64, tanh: bool = True):
        super().__init__()
        down = [
            nn.Conv2d(cin, nf, 4, 2, 1, bias=False),
            _gn(nf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False),
            _gn(nf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False),
            _gn(nf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(nf * 8, zdim, 4, 1, 0, bias=False),
            nn.ReLU(inplace=True),
        ]
        up: list[nn.Module] = [
            nn.ConvTranspose2d(zdim, nf * 8, 4, 1, 0, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(nf * 8, nf * 8, 3, 1, 1, bias=False),
            nn.ReLU(inplace=True),
        ]
        for a, b in ((nf * 8, nf * 4), (nf * 4, nf * 2), (nf * 2, nf)):
            up += [
                nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False),
                _gn(b),
                nn.ReLU(inplace=True),
                nn.Conv2d(b, b, 3, 1, 1, bias=False),
                _gn(b),
                nn.ReLU(inplace=True),
            ]
        up += [
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(nf, nf, 3, 1, 1, bias=False), _gn(nf), nn.ReLU(inplace=True),
            nn.Conv2d(nf, nf, 5, 1, 2, bias=False), _gn(nf), nn.ReLU(inplace=True),
            nn.Conv2d(nf, cout, 5, 1, 2, bias=False),
        ]  # fmt: skip
        if tanh:
            up.append(nn.Tanh())
        self.network = nn.Sequential(*down, *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class Unsup3d(nn.Module):
    """The four unsup3d networks plus the canonical-map maths of SD-GAN's demo (CelebA config).

    Input: faces (N,3,64,64) in [-1,1]. `forward` returns maps at `output_size`, each (N,3,S,S) in
    [0,1] like the demo's saved images: depth (min..max depth -> 0..1, repeated), normal (/2+0.5),
    diffuse shading (repeated), albedo (/2+0.5), canonical image (clamped, /2+0.5).
    """

    def __init__(
        self,
        image_size: int = 64,
        output_size: int = 128,
        min_depth: float = 0.9,
        max_depth: float = 1.1,
        border_depth: float = 1.05,
        fov: float = 10.0,
    ):
        super().__init__()
        self.netD = EDDeconv(3, 1, zdim=256, nf=64, tanh=False)
        self.netA = EDDeconv(3, 3, zdim=256, nf=64)
        self.netL = Encoder(3, 4, nf=32)
        self.netV = Encoder(3, 6, nf=32)
        self.image_size, self.output_size = image_size, output_size
        self.min_depth, self.max_depth, self.border_depth = min_depth, max_depth, border_depth
        focal = (image_size - 1) / 2 / math.tan(fov / 2 * math.pi / 180)
        centre = (image_size - 1) / 2
        intrinsics = torch.tensor(
            [[focal, 0.0, centre], [0.0, focal, centre], [0.0, 0.0, 1.0]], dtype=torch.float64
        )
        self.register_buffer("inv_K", torch.linalg.inv(intrinsics).float(), persistent=False)

    def canonical_depth(self, faces: torch.Tensor) -> torch.Tensor:
        raw = self.netD(faces).squeeze(1)
        depth = (raw - raw.flatten(1).mean(1)[:, None, None]).tanh()
        depth = (1 + depth) / 2 * self.max_depth + (1 - depth) / 2 * self.min_depth
        border = torch.zeros_like(depth)  # the reference fixes the 2 leftmost/rightmost columns only
        border[:, :, :2] = 1
        border[:, :, -2:] = 1
        return depth * (1 - border) + border * self.border_depth

    def normals(self, depth: torch.Tensor) -> torch.Tensor:
        """Normals (N,H,W,3) from the cross product of central differences of the back-projected grid."""
        n, h, w = depth.shape
        ys, xs = torch.meshgrid(
            torch.arange(h, dtype=depth.dtype), torch.arange(w, dtype=depth.dtype), indexing="ij"
        )
        grid = torch.stack([xs, ys, torch.ones_like(xs)], -1).to(depth.device)  # pixel (x, y, 1)
        points = grid[None].matmul(self.inv_K.to(depth).transpose(0, 1)) * depth[..., None]
        tu = points[:, 1:-1, 2:] - points[:, 1:-1, :-2]
        tv = points[:, 2:, 1:-1] - points[:, :-2, 1:-1]
        inner = torch.linalg.cross(tu, tv, dim=3)
        normal = F.pad(inner.permute(0, 3, 1, 2), (1, 1, 1, 1)).permute(0, 2, 3, 1).clone()
        z = torch.zeros(h, w, dtype=torch.bool, device=depth.device)
        z[0, :], z[-1, :], z[:, 0], z[:, -1] = True, True, True, True
        normal[:, z] = normal.new_tensor([0.0, 0.0, 1.0])
        return normal / ((normal**2).sum(3, keepdim=True) ** 0.5 + EPS)

    def forward(self, faces: torch.Tensor) -> dict[str, torch.Tensor]:
        depth = self.canonical_depth(faces)
        albedo = self.netA(faces)
        light = self.netL(faces)
        ambient, diffuse = light[:, :1] / 2 + 0.5, light[:, 1:2] / 2 + 0.5
        direction = torch.cat([light[:, 2:], torch.ones_like(light[:, :1])], 1)
        direction = direction / (direction**2).sum(1, keepdim=True) ** 0.5
        normal = self.normals(depth)
        shading = (normal * direction[:, None, None, :]).sum(3).clamp(min=0).unsqueeze(1)
        image = (albedo / 2 + 0.5) * (ambient[..., None, None] + diffuse[..., None, None] * shading) * 2 - 1
        size = (self.output_size, self.output_size)

        def resize(x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, size, mode="bilinear", align_corners=False)

        normal_out = resize(normal.permute(0, 3, 1, 2))
        normal_out = normal_out / (normal_out**2).sum(1, keepdim=True) ** 0.5
        depth_out = (resize(depth[:, None]) - self.min_depth) / (self.max_depth - self.min_depth)
        return {
            "depth": depth_out.expand(-1, 3, -1, -1),
            "normal": normal_out / 2 + 0.5,
            "shading": resize(shading).expand(-1, 3, -1, -1),
            "albedo": resize(albedo) / 2 + 0.5,
            "image": resize(image).clamp(-1, 1) / 2 + 0.5,
        }


def flatten_unsup3d_checkpoint(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """{'netD': sd, 'netA': sd, ...} (checkpoint030.pth) -> one state dict for `Unsup3d`."""
    return {f"{net}.{key}": value for net in NET_NAMES for key, value in checkpoint[net].items()}


@register("unsup3d", image_size=64, output_size=128)
def build_unsup3d(image_size: int = 64, output_size: int = 128) -> Unsup3d:
    """unsup3d CelebA decomposition (load `flatten_unsup3d_checkpoint(torch.load(checkpoint030.pth))`)."""
    return Unsup3d(image_size=image_size, output_size=output_size)
