"""Tiny stand-ins of the edit networks (same interfaces, random weights) for the edit tests."""

from __future__ import annotations

from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

import facefill.models.stylegan2 as stylegan2
from facefill.models.attribute_classifier import BranchedTiny
from facefill.models.deeplab_parser import PARSER_CLASSES
from facefill.models.lpips import LPIPS
from facefill.pipelines.edit import EditNetworks

SIZE = 32
STYLE = 32


def tiny_generator(size: int = SIZE, seed: int = 0) -> stylegan2.Generator:
    """rosinality layout, 16 channels at every resolution (the real widths cost seconds per step)."""
    torch.manual_seed(seed)
    with mock.patch.object(stylegan2, "channels_for", lambda _m: {2**k: 16 for k in range(2, 11)}):
        return stylegan2.Generator(size=size, style_dim=STYLE, n_mlp=2).eval()


class TinyParser(nn.Module):
    """9-class probabilities at 512² from a 1×1 conv of the image (a ParserFn)."""

    def __init__(self, seed: int = 1) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, len(PARSER_CLASSES), 3, padding=1)
        self.conv.weight.data *= 4

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = F.interpolate(self.conv(images * 2 - 1), size=(512, 512), mode="bilinear",
                               align_corners=False)
        return torch.softmax(logits, dim=1)


class TinyEncoder(nn.Module):
    """Image -> W+ (an EncoderFn): mean latent plus a linear map of a 4×4 pooled image."""

    def __init__(self, n_latent: int, mean: torch.Tensor, seed: int = 2) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.lin = nn.Linear(48, n_latent * STYLE)
        self.n_latent = n_latent
        self.register_buffer("mean", mean.reshape(1, 1, STYLE))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = F.adaptive_avg_pool2d(images, 4).flatten(1)
        return self.mean + 0.1 * self.lin(feats).view(-1, self.n_latent, STYLE)


@torch.no_grad()
def calibrate_batchnorm(module: nn.Module, images: torch.Tensor) -> nn.Module:
    """Set BatchNorm running statistics from `images` (train-mode pass, cumulative average): with
    default init and identity statistics a deep random net's output is nearly constant."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    module.train()(images)
    return module.eval()


def tiny_networks(with_lpips: bool = True) -> EditNetworks:
    g = tiny_generator()
    torch.manual_seed(3)
    classifier = calibrate_batchnorm(BranchedTiny(width=4, img_size=32), torch.rand(64, 3, 32, 32))
    mean = g.mean_latent(256, generator=torch.Generator().manual_seed(4))
    lpips = None
    if with_lpips:
        torch.manual_seed(5)
        lpips = LPIPS().eval()
        for k in range(5):
            lpips.lins[k].model[1].weight.data.abs_()
    return EditNetworks(generator=g, classifier=classifier, parser=TinyParser().eval(), lpips=lpips,
                        encoder=TinyEncoder(g.n_latent, mean).eval(), mean_latent=mean)


def faces(n: int, seed: int = 7) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def rngs(n: int, base: int = 10) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(base + i) for i in range(n)]
