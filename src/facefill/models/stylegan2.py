"""StyleGAN2 generator and discriminator, checkpoint-compatible with rosinality/stylegan2-pytorch.

`stylegan2-ffhq-config-f.pt` (converted with rosinality's convert_weight.py) loads unchanged:
`load_stylegan2_checkpoint(torch_loaded_dict)` -> (Generator, latent_avg). The forward pass follows
the reference (bef283a1) call for call: W/W+ handling, truncation, style mixing, noise buffers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from facefill.errors import WeightsError
from facefill.models.ops import EqualLinear, PixelNorm
from facefill.models.registry import load_strict, register
from facefill.models.stylegan2_blocks import (
    DEFAULT_BLUR,
    ConstantInput,
    ConvLayer,
    ResBlock,
    StyledConv,
    ToRGB,
)

__all__ = [
    "Discriminator",
    "Generator",
    "channels_for",
    "load_stylegan2_checkpoint",
    "maskfacegan_noise_keys_to_rosinality",
]


def channels_for(channel_multiplier: int) -> dict[int, int]:
    """Feature channels per resolution (shared by generator and discriminator)."""
    cm = channel_multiplier
    return {
        4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm,
        1024: 16 * cm,
    }


def _log2_size(size: int) -> int:
    log_size = int(math.log2(size))
    if 2**log_size != size or size < 8:
        raise ValueError(f"StyleGAN2 size must be a power of two >= 8, not {size}")
    return log_size


class Generator(nn.Module):
    """rosinality `Generator(size, style_dim, n_mlp, channel_multiplier, blur_kernel, lr_mlp)`."""

    def __init__(
        self,
        size: int = 1024,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_multiplier: int = 2,
        blur_kernel: Sequence[int] = DEFAULT_BLUR,
        lr_mlp: float = 0.01,
    ):
        super().__init__()
        self.size = size
        self.style_dim = style_dim
        self.style = nn.Sequential(
            PixelNorm(),
            *[
                EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu")
                for _ in range(n_mlp)
            ],
        )
        self.channels = channels_for(channel_multiplier)
        self.input = ConstantInput(self.channels[4])
        self.conv1 = StyledConv(self.channels[4], self.channels[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(self.channels[4], style_dim, upsample=False)

        self.log_size = _log2_size(size)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        self.convs = nn.ModuleList()
        self.upsamples = nn.ModuleList()  # empty in the reference too; kept for attribute parity
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 5) // 2
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(1, 1, 2**res, 2**res))
        in_channel = self.channels[4]
        for i in range(3, self.log_size + 1):
            out_channel = self.channels[2**i]
            self.convs.append(
                StyledConv(in_channel, out_channel, 3, style_dim, upsample=True, blur_kernel=blur_kernel)
            )
            self.convs.append(StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_channel, style_dim))
            in_channel = out_channel

    def noise_buffers(self) -> list[torch.Tensor]:
        """The stored noise maps `noises.noise_i` (what `randomize_noise=False` uses)."""
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

    def make_noise(self, batch: int = 1, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Fresh N(0,1) noise maps (batch, 1, r, r) for every layer, reproducible via `generator`."""
        device = self.input.input.device
        return [
            torch.randn(batch, 1, n.shape[-2], n.shape[-1], generator=generator, device="cpu").to(device)
            for n in self.noise_buffers()
        ]

    def get_latent(self, z: torch.Tensor) -> torch.Tensor:
        """Mapping network z -> w."""
        return self.style(z)

    @torch.no_grad()
    def mean_latent(self, n_latent: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean of the mapping output over `n_latent` z ~ N(0, I): the truncation centre, (1, style_dim)."""
        device = self.input.input.device
        z = torch.randn(n_latent, self.style_dim, generator=generator, device="cpu").to(device)
        return self.style(z).mean(0, keepdim=True)

    def forward(
        self,
        styles: Sequence[torch.Tensor] | torch.Tensor,
        return_latents: bool = False,
        inject_index: int | None = None,
        truncation: float = 1.0,
        truncation_latent: torch.Tensor | None = None,
        input_is_latent: bool = False,
        noise: Sequence[torch.Tensor | None] | None = None,
        randomize_noise: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Render images in about [-1, 1]; returns (image, W+ latent if return_latents else None).

        `styles`: list of one z/w (N, style_dim) or W+ (N, n_latent, style_dim), or two for mixing
        (rows < inject_index from the first). Truncation is applied only when truncation < 1, as in
        the reference. noise=None with randomize_noise=False uses the stored buffers.
        """
        if isinstance(styles, torch.Tensor):
            styles = [styles]
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        if noise is None:
            noise = [None] * self.num_layers if randomize_noise else self.noise_buffers()
        if truncation < 1:
            if truncation_latent is None:
                raise ValueError("truncation < 1 needs truncation_latent (e.g. generator.mean_latent(4096))")
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]

        if len(styles) < 2:
            latent = styles[0]
            if latent.ndim < 3:
                latent = latent.unsqueeze(1).repeat(1, self.n_latent, 1)
        else:
            if inject_index is None:
                inject_index = int(torch.randint(1, self.n_latent, ()).item())
            latent = styles[0].unsqueeze(1).repeat(1, inject_index, 1)
            latent2 = styles[1].unsqueeze(1).repeat(1, self.n_latent - inject_index, 1)
            latent = torch.cat([latent, latent2], 1)

        out = self.input(latent)
        out = self.conv1(out, latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(
            self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2], self.to_rgbs, strict=True
        ):
            out = conv1(out, latent[:, i], noise=noise1)
            out = conv2(out, latent[:, i + 1], noise=noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, (latent if return_latents else None)


class Discriminator(nn.Module):
    """rosinality `Discriminator(size, channel_multiplier, blur_kernel)`: one logit per image."""

    def __init__(
        self, size: int = 1024, channel_multiplier: int = 2, blur_kernel: Sequence[int] = DEFAULT_BLUR
    ):
        super().__init__()
        channels = channels_for(channel_multiplier)
        log_size = _log2_size(size)
        convs: list[nn.Module] = [ConvLayer(3, channels[size], 1)]
        in_channel = channels[size]
        for i in range(log_size, 2, -1):
            out_channel = channels[2 ** (i - 1)]
            convs.append(ResBlock(in_channel, out_channel, blur_kernel))
            in_channel = out_channel
        self.convs = nn.Sequential(*convs)
        self.stddev_group = 4
        self.stddev_feat = 1
        self.final_conv = ConvLayer(in_channel + 1, channels[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(channels[4] * 4 * 4, channels[4], activation="fused_lrelu"),
            EqualLinear(channels[4], 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.convs(x)
        batch, channel, height, width = out.shape
        group = min(batch, self.stddev_group)
        if batch % group:
            raise ValueError(f"discriminator batch {batch} must be divisible by {group} (minibatch stddev)")
        stddev = out.view(group, -1, self.stddev_feat, channel // self.stddev_feat, height, width)
        stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8)
        stddev = stddev.mean([2, 3, 4], keepdim=True).squeeze(2)
        stddev = stddev.repeat(group, 1, height, width)
        out = self.final_conv(torch.cat([out, stddev], 1))
        return self.final_linear(out.view(batch, -1))


@register("stylegan2-generator", size=1024, style_dim=512, n_mlp=8, channel_multiplier=2)
def build_generator(**config: Any) -> Generator:
    """Registry builder for `Generator`."""
    return Generator(**config)


@register("stylegan2-discriminator", size=1024, channel_multiplier=2)
def build_discriminator(**config: Any) -> Discriminator:
    """Registry builder for `Discriminator`."""
    return Discriminator(**config)


_NOISE_INDEX = re.compile(r"^noises\.(\d+)$")


def maskfacegan_noise_keys_to_rosinality(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """MaskFaceGAN's runtime generator names noise maps `noises.N`; rosinality uses `noises.noise_N`."""
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        match = _NOISE_INDEX.match(key)
        out[f"noises.noise_{match.group(1)}" if match else key] = value
    return out


def generator_config_from_state_dict(state_dict: Mapping[str, Any]) -> dict[str, int]:
    """Infer size, style_dim, n_mlp and channel_multiplier of a rosinality generator from its keys."""
    try:
        n_mlp = sum(1 for k in state_dict if re.fullmatch(r"style\.\d+\.weight", k))
        style_dim = int(state_dict["style.1.weight"].shape[1])
        num_rgbs = sum(1 for k in state_dict if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k))
    except KeyError as exc:
        raise WeightsError(f"not a rosinality StyleGAN2 generator state dict (no key {exc})") from None
    size = 2 ** (num_rgbs + 2)
    channel_multiplier = 2
    if num_rgbs >= 4:  # to_rgbs.3 works at 64x64, where channels = 256 * channel_multiplier
        channel_multiplier = int(state_dict["to_rgbs.3.conv.weight"].shape[2]) // 256
    return {"size": size, "style_dim": style_dim, "n_mlp": n_mlp, "channel_multiplier": channel_multiplier}


def load_stylegan2_checkpoint(
    checkpoint: Mapping[str, Any], key: str = "g_ema"
) -> tuple[Generator, torch.Tensor | None]:
    """Build a Generator from a rosinality checkpoint dict (g / d / g_ema / latent_avg / args).

    Returns (generator in eval mode, latent_avg or None). A bare generator state dict is accepted
    too, as is MaskFaceGAN's `noises.N` naming. Shapes decide size and channel multiplier.
    """
    if key in checkpoint and isinstance(checkpoint[key], Mapping):
        state_dict = checkpoint[key]
    elif "style.1.weight" in checkpoint:
        state_dict = checkpoint
    else:
        found = ", ".join(sorted(str(k) for k in checkpoint)[:8])
        raise WeightsError(f"StyleGAN2 checkpoint has no {key!r} entry (found: {found}); pass key=...")
    state_dict = maskfacegan_noise_keys_to_rosinality(state_dict)
    generator = Generator(**generator_config_from_state_dict(state_dict))
    load_strict(generator, state_dict, f"StyleGAN2 {key!r} state dict")
    latent_avg = checkpoint.get("latent_avg") if key in checkpoint else None
    if latent_avg is not None:
        latent_avg = torch.as_tensor(latent_avg, dtype=torch.float32)
    return generator.eval(), latent_avg
