"""IR-SE ResNet (ArcFace) with TreB1eN / e4e `model_irse.Backbone` key names.

`model_ir_se50.pth` (the identity network of pSp/e4e losses) loads unchanged into
`Backbone(112, 50, "ir_se")`. The same bottleneck units form the body of the e4e encoder.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.registry import register

# Units per stage (channels 64, 128, 256, 512) for each supported depth.
_STAGE_UNITS = {50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}
_STAGE_DEPTHS = (64, 128, 256, 512)


class SEModule(nn.Module):
    """Squeeze-and-excitation gate: x * sigmoid(fc2(relu(fc1(avgpool(x)))))."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, padding=0, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, padding=0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = F.adaptive_avg_pool2d(x, 1)
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(gate))))
        return x * gate


class BottleneckIR(nn.Module):
    """IR(-SE) unit: BN -> conv3x3 -> PReLU -> conv3x3(stride) -> BN [-> SE], plus shortcut."""

    def __init__(self, in_channel: int, depth: int, stride: int, use_se: bool = True):
        super().__init__()
        if in_channel == depth:
            self.shortcut_layer: nn.Module = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channel, depth, (1, 1), stride, bias=False), nn.BatchNorm2d(depth)
            )
        layers: list[nn.Module] = [
            nn.BatchNorm2d(in_channel),
            nn.Conv2d(in_channel, depth, (3, 3), (1, 1), 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, (3, 3), stride, 1, bias=False),
            nn.BatchNorm2d(depth),
        ]
        if use_se:
            layers.append(SEModule(depth, 16))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


def make_input_layer() -> nn.Sequential:
    """Stem shared by the ArcFace backbone and e4e: conv3x3 3->64 (no bias), BN, PReLU."""
    return nn.Sequential(nn.Conv2d(3, 64, (3, 3), 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))


def make_body(num_layers: int = 50, mode: str = "ir_se") -> nn.Sequential:
    """The 4 stages of IR(-SE) units; the first unit of each stage has stride 2."""
    if num_layers not in _STAGE_UNITS:
        raise ValueError(f"num_layers must be one of {sorted(_STAGE_UNITS)}, not {num_layers}")
    if mode not in ("ir", "ir_se"):
        raise ValueError(f"mode must be 'ir' or 'ir_se', not {mode!r}")
    units: list[nn.Module] = []
    in_channel = 64
    for depth, count in zip(_STAGE_DEPTHS, _STAGE_UNITS[num_layers], strict=True):
        units.append(BottleneckIR(in_channel, depth, 2, use_se=mode == "ir_se"))
        units.extend(BottleneckIR(depth, depth, 1, use_se=mode == "ir_se") for _ in range(count - 1))
        in_channel = depth
    return nn.Sequential(*units)


def stage_end_indices(num_layers: int = 50) -> tuple[int, ...]:
    """Body index of the last unit of each stage (e.g. 2, 6, 20, 23 for depth 50)."""
    ends, total = [], 0
    for count in _STAGE_UNITS[num_layers]:
        total += count
        ends.append(total - 1)
    return tuple(ends)


class Backbone(nn.Module):
    """ArcFace IR-SE backbone for 112x112 faces in [-1, 1]; returns L2-normalised 512-d embeddings."""

    def __init__(
        self,
        input_size: int = 112,
        num_layers: int = 50,
        mode: str = "ir_se",
        drop_ratio: float = 0.6,
        affine: bool = True,
    ):
        super().__init__()
        if input_size not in (112, 224):
            raise ValueError(f"input_size must be 112 or 224, not {input_size}")
        self.input_layer = make_input_layer()
        spatial = 7 if input_size == 112 else 14
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(512),
            nn.Dropout(drop_ratio),
            nn.Flatten(),
            nn.Linear(512 * spatial * spatial, 512),
            nn.BatchNorm1d(512, affine=affine),
        )
        self.body = make_body(num_layers, mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.output_layer(self.body(self.input_layer(x)))
        return x / torch.norm(x, 2, 1, True)


@register("irse50", input_size=112, num_layers=50, mode="ir_se", drop_ratio=0.6)
def build_irse50(**config: Any) -> Backbone:
    """Registry builder for the ArcFace `Backbone` (model_ir_se50.pth layout)."""
    return Backbone(**config)
