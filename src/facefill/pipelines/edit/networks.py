"""The already-built networks an edit needs, and the cached, seeded mean latent.

Why callables for the parser and encoder: the loop only needs "image -> 9-class probabilities"
and "image -> W+"; the DeepLab parser, BiSeNet (§1.15) and test stand-ins all fit that shape.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch

from facefill.models.e4e import prepare_e4e_input
from facefill.pipelines.edit.masks import ParserFn

EncoderFn = Callable[[torch.Tensor], torch.Tensor]
MEAN_LATENT_SAMPLES = 50_000
MEAN_LATENT_SEED = 0
_MEAN_CACHE: weakref.WeakKeyDictionary[torch.nn.Module, dict[tuple[int, int], torch.Tensor]] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class EditNetworks:
    """generator: rosinality Generator; classifier: logits (N,40) from [0,1] images; parser:
    ParserFn; lpips: masked LPIPS module (global mode); encoder: EncoderFn or None (e4e init)."""

    generator: torch.nn.Module
    classifier: torch.nn.Module
    parser: ParserFn
    lpips: torch.nn.Module | None = None
    encoder: EncoderFn | None = None
    mean_latent: torch.Tensor | None = None  # (1, style_dim); computed from the generator if None

    def mean_w(self) -> torch.Tensor:
        if self.mean_latent is None:
            self.mean_latent = mean_latent(self.generator)
        return self.mean_latent


def e4e_encoder(encoder: torch.nn.Module, latent_avg: torch.Tensor | None) -> EncoderFn:
    """e4e as an EncoderFn: [0,1] -> [-1,1] -> area 256 -> codes + latent_avg."""
    return lambda images: encoder.encode(prepare_e4e_input(images), latent_avg)


@torch.no_grad()
def mean_latent(generator: torch.nn.Module, samples: int = MEAN_LATENT_SAMPLES,
                seed: int = MEAN_LATENT_SEED, chunk: int = 5000) -> torch.Tensor:
    """Mean mapping output over `samples` seeded z ~ N(0, I), (1, style_dim), on any device.

    MaskFaceGAN computes it once on CUDA with an unseeded draw (§1.6, quirk 2); here it is seeded
    and cached per generator module, so every image and batch starts from the same code.
    """
    cache = _MEAN_CACHE.setdefault(generator, {})
    key = (samples, seed)
    if key not in cache:
        rng = torch.Generator().manual_seed(seed)
        device = generator.input.input.device
        total = torch.zeros(generator.style_dim, dtype=torch.float64, device=device)
        done = 0
        while done < samples:
            n = min(chunk, samples - done)
            z = torch.randn(n, generator.style_dim, generator=rng).to(device)
            total += generator.style(z).double().sum(0)
            done += n
        cache[key] = (total / samples).float().unsqueeze(0)
    return cache[key]
