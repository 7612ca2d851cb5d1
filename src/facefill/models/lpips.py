"""LPIPS v0.1 with the VGG16 trunk, as the MaskFaceGAN `LPIPS()` module (optionally masked).

Why: MaskFaceGAN's global-mode reconstruction loss (spec edit.md §1.8, §3.7), and a perceptual
metric for evaluation. Forward pass (richzhang/PerceptualSimilarity v0.1): [0,1] inputs -> 2x-1 ->
scaling layer (x - shift)/scale -> VGG16 features at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 ->
each unit-normalised over channels x / (sqrt(Σx²) + 1e-10) -> squared difference -> (optional mask,
area-resized from the previous level as MaskFaceGAN does) -> 1×1 conv with the learned `lin`
weights (Dropout at index 0, inactive in eval) -> spatial mean -> sum over the five levels.

Weights: the 38-key module dict (manifest `maskfacegan_lpips_vgg_module`) loads directly; the
public parts — the 5-key `lpips/weights/v0.1/vgg.pth` and torchvision's VGG16 `features.N`
checkpoint — are combined by `assemble_state_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from facefill.errors import WeightsError
from facefill.models.registry import load_strict, register
from facefill.models.vgg import vgg16_feature_layers

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
CHANNELS = (64, 128, 256, 512, 512)
# torchvision vgg16().features index ranges of the five slices (end exclusive).
SLICE_BOUNDS = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))
EPS = 1e-10


class ScalingLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class VGG16Slices(nn.Module):
    """VGG16 trunk cut after relu1_2 … relu5_3; layer names keep torchvision's feature indices."""

    def __init__(self) -> None:
        super().__init__()
        layers = vgg16_feature_layers()
        for k, (start, end) in enumerate(SLICE_BOUNDS, start=1):
            part = nn.Sequential()
            for i in range(start, end):
                part.add_module(str(i), layers[i])
            setattr(self, f"slice{k}", part)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for k in range(1, len(SLICE_BOUNDS) + 1):
            x = getattr(self, f"slice{k}")(x)
            outs.append(x)
        return outs


class NetLinLayer(nn.Module):
    """Dropout + 1×1 conv to one channel without bias (`model.1.weight`)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def normalize_channels(feat: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Unit length over channels, with LPIPS's eps added to the norm (not inside the sqrt)."""
    return feat / (torch.sqrt(torch.sum(feat**2, dim=1, keepdim=True)) + eps)


class LPIPS(nn.Module):
    """LPIPS distance; `lin0..4` and `lins.0..4` are the same modules (as in the original)."""

    def __init__(self) -> None:
        super().__init__()
        self.scaling_layer = ScalingLayer()
        self.net = VGG16Slices()
        for k, ch in enumerate(CHANNELS):
            setattr(self, f"lin{k}", NetLinLayer(ch))
        self.lins = nn.ModuleList(getattr(self, f"lin{k}") for k in range(len(CHANNELS)))

    def forward(
        self, in0: torch.Tensor, in1: torch.Tensor, normalize: bool = True, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Distance per image, shape (N,). Inputs (N,3,H,W) in [0,1] (or [-1,1] with normalize=False).

        `mask` (N,1,H,W) weights the squared feature differences; it is area-resized to each
        level's size from the previous level's mask, and the spatial mean still runs over all pixels.
        """
        if normalize:
            in0, in1 = in0 * 2 - 1, in1 * 2 - 1
        feats0 = self.net(self.scaling_layer(in0))
        feats1 = self.net(self.scaling_layer(in1))
        total = in0.new_zeros(in0.shape[0])
        for k, (f0, f1) in enumerate(zip(feats0, feats1, strict=True)):
            diff = (normalize_channels(f0) - normalize_channels(f1)) ** 2
            if mask is not None:
                mask = F.interpolate(mask, size=diff.shape[-2:], mode="area")
                diff = diff * mask
            total = total + self.lins[k](diff).mean(dim=(1, 2, 3))
        return total


def assemble_state_dict(
    lin_weights: Mapping[str, torch.Tensor], vgg_weights: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The 38-key LPIPS module dict from the 5-key lin file and a torchvision VGG16 checkpoint.

    `vgg_weights` may be a full `vgg16` state_dict (classifier keys are ignored) or only `features.*`.
    """
    out: dict[str, torch.Tensor] = {
        "scaling_layer.shift": torch.tensor(SHIFT).view(1, 3, 1, 1),
        "scaling_layer.scale": torch.tensor(SCALE).view(1, 3, 1, 1),
    }
    for k, (start, end) in enumerate(SLICE_BOUNDS, start=1):
        for i in range(start, end):
            for leaf in ("weight", "bias"):
                key = f"features.{i}.{leaf}"
                if key in vgg_weights:
                    out[f"net.slice{k}.{i}.{leaf}"] = vgg_weights[key]
    missing = [f"lin{k}.model.1.weight" for k in range(len(CHANNELS))
               if f"lin{k}.model.1.weight" not in lin_weights]
    if missing:
        raise WeightsError(f"LPIPS lin weights lack {', '.join(missing)} — is it lpips v0.1 vgg.pth?")
    for k in range(len(CHANNELS)):
        weight = lin_weights[f"lin{k}.model.1.weight"]
        out[f"lin{k}.model.1.weight"] = weight
        out[f"lins.{k}.model.1.weight"] = weight
    return out


def lpips_from_parts(
    lin_weights: Mapping[str, torch.Tensor], vgg_weights: Mapping[str, torch.Tensor]
) -> LPIPS:
    """An eval-mode LPIPS loaded strictly from the lin file and the torchvision VGG16 weights."""
    model = LPIPS()
    load_strict(model, assemble_state_dict(lin_weights, vgg_weights), "LPIPS lin + VGG16 weights")
    return model.eval()


@register("lpips-vgg")
def lpips_vgg() -> LPIPS:
    """LPIPS v0.1 (VGG16), MaskFaceGAN module layout."""
    return LPIPS()
