"""e4e `Encoder4Editing` (IR-SE50 body + FPN + per-style heads), key-compatible with e4e_ffhq_encode.pt.

Inverts an aligned face into StyleGAN2 W+. Loads the official checkpoint (`state_dict` with
`encoder.`/`decoder.` prefixes) and MaskFaceGAN's repackaging (`encoder_state_dict`) via
`split_e4e_checkpoint`. Forward = the reference's inference stage (all 18 deltas).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from facefill.errors import WeightsError
from facefill.models.irse50 import make_body, make_input_layer, stage_end_indices
from facefill.models.ops import EqualLinear
from facefill.models.registry import register

__all__ = ["Encoder4Editing", "GradualStyleBlock", "prepare_e4e_input", "split_e4e_checkpoint"]

E4E_INPUT_SIZE = 256


class GradualStyleBlock(nn.Module):
    """log2(spatial) stride-2 conv3x3 + LeakyReLU(0.01) down to 1x1, then EqualLinear -> one style."""

    def __init__(self, in_c: int, out_c: int, spatial: int):
        super().__init__()
        self.out_c = out_c
        num_pools = int(math.log2(spatial))
        layers: list[nn.Module] = [nn.Conv2d(in_c, out_c, kernel_size=3, stride=2, padding=1), nn.LeakyReLU()]
        for _ in range(num_pools - 1):
            layers += [nn.Conv2d(out_c, out_c, kernel_size=3, stride=2, padding=1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(out_c, out_c, lr_mul=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).reshape(-1, self.out_c))


def _upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """FPN merge: bilinear (align_corners=True) upsample x to y's size, then add."""
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y


class Encoder4Editing(nn.Module):
    """e4e encoder: image (N,3,256,256) in [-1,1] -> W+ offsets (N, n_styles, 512) before latent_avg."""

    coarse_ind = 3
    middle_ind = 7

    def __init__(self, num_layers: int = 50, mode: str = "ir_se", stylegan_size: int = 1024):
        super().__init__()
        self.input_layer = make_input_layer()
        self.body = make_body(num_layers, mode)
        self.style_count = 2 * int(math.log2(stylegan_size)) - 2
        self.styles = nn.ModuleList(
            GradualStyleBlock(512, 512, 16 if i < self.coarse_ind else 32 if i < self.middle_ind else 64)
            for i in range(self.style_count)
        )
        self.latlayer1 = nn.Conv2d(256, 512, kernel_size=1, stride=1, padding=0)
        self.latlayer2 = nn.Conv2d(128, 512, kernel_size=1, stride=1, padding=0)
        # Taps after the last unit of stages 2, 3 and 4 (body[6], body[20], body[23] for depth 50).
        self._taps = stage_end_indices(num_layers)[1:4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """W+ = w0 repeated + per-style deltas (the reference's ProgressiveStage.Inference)."""
        x = self.input_layer(x)
        c1 = c2 = c3 = x
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i == self._taps[0]:
                c1 = x
            elif i == self._taps[1]:
                c2 = x
            elif i == self._taps[2]:
                c3 = x
        w0 = self.styles[0](c3)
        w = w0.unsqueeze(1).repeat(1, self.style_count, 1)
        features = c3
        deltas = [torch.zeros_like(w0)]
        for i in range(1, self.style_count):
            if i == self.coarse_ind:
                p2 = _upsample_add(c3, self.latlayer1(c2))
                features = p2
            elif i == self.middle_ind:
                p1 = _upsample_add(p2, self.latlayer2(c1))
                features = p1
            deltas.append(self.styles[i](features))
        return w + torch.stack(deltas, dim=1)

    def encode(self, x: torch.Tensor, latent_avg: torch.Tensor | None) -> torch.Tensor:
        """pSp wrapper step: forward(x) + latent_avg ((512,), (n_styles,512) or (1,n_styles,512))."""
        codes = self.forward(x)
        if latent_avg is None:
            return codes
        latent_avg = latent_avg.to(codes)
        if latent_avg.ndim == 1:
            latent_avg = latent_avg.reshape(1, 1, -1)
        return codes + latent_avg.reshape(1, -1, codes.shape[-1]).expand_as(codes)


def prepare_e4e_input(images: torch.Tensor) -> torch.Tensor:
    """[0,1] N×3×H×W -> [-1,1] -> area resize to 256×256 (MaskFaceGAN's e4e preprocessing)."""
    x = (images - 0.5) / 0.5
    if x.shape[-2:] != (E4E_INPUT_SIZE, E4E_INPUT_SIZE):
        x = F.interpolate(x, size=(E4E_INPUT_SIZE, E4E_INPUT_SIZE), mode="area")
    return x


def split_e4e_checkpoint(
    checkpoint: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any] | None, torch.Tensor | None]:
    """(encoder_sd, decoder_sd or None, latent_avg or None) from any e4e checkpoint layout.

    Layouts: official `{'state_dict': {'encoder.*', 'decoder.*'}, 'latent_avg', 'opts'}`;
    MaskFaceGAN `{'encoder_state_dict', 'latent_avg', 'options'}`; or a bare encoder state dict.
    """
    latent_avg = checkpoint.get("latent_avg")
    if "state_dict" in checkpoint:
        full = checkpoint["state_dict"]
        encoder = {k[len("encoder.") :]: v for k, v in full.items() if k.startswith("encoder.")}
        decoder = {k[len("decoder.") :]: v for k, v in full.items() if k.startswith("decoder.")} or None
    elif "encoder_state_dict" in checkpoint:
        encoder, decoder = dict(checkpoint["encoder_state_dict"]), None
    elif "input_layer.0.weight" in checkpoint:
        encoder, decoder, latent_avg = dict(checkpoint), None, None
    else:
        found = ", ".join(sorted(str(k) for k in checkpoint)[:8])
        raise WeightsError(
            f"not an e4e checkpoint (found keys: {found}); expected 'state_dict' or 'encoder_state_dict'"
        )
    if not encoder:
        raise WeightsError("e4e checkpoint holds no 'encoder.*' weights; is it a pSp/e4e file?")
    if latent_avg is not None:
        latent_avg = torch.as_tensor(latent_avg, dtype=torch.float32)
    return encoder, decoder, latent_avg


@register("e4e-encoder", num_layers=50, mode="ir_se", stylegan_size=1024)
def build_e4e_encoder(**config: Any) -> Encoder4Editing:
    """Registry builder for `Encoder4Editing`."""
    return Encoder4Editing(**config)
