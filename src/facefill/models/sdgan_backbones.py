"""The two image branches of SD-GAN's fusion network, with SD-GAN's `model.py` key names.

Why separate from models/resnet.py and models/irse50.py: SD-GAN's face branch is the
ronghuaiyang/arcface-pytorch `resnet_face18` (IRBlock with a PReLU shared inside the block and an SE
gate made of Linear layers: `se.fc.{0,1,2}`), which differs in layout and key names from the
TreB1eN IR-SE units; its template branch is a ResNet-18 without max-pool whose four stages all
stride 2. The template branch reuses `resnet.BasicBlock` (same keys as torchvision).
Both map a 256x256 input to a 512x16x16 feature map.
"""

from __future__ import annotations

import torch
from torch import nn

from facefill.models.resnet import BasicBlock


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _shortcut(cin: int, cout: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and cin == cout:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class LinearSEGate(nn.Module):
    """x * sigmoid(Linear(PReLU(Linear(avgpool(x))))); keys `fc.0`, `fc.1` (PReLU), `fc.2`."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction),
            nn.PReLU(),
            nn.Linear(channels // reduction, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc(x.mean(dim=(2, 3)))
        return x * gate[:, :, None, None]


class FaceIRBlock(nn.Module):
    """BN -> conv3x3 (in->in) -> BN -> PReLU -> conv3x3 (in->out, stride) -> BN -> SE, + shortcut -> PReLU.

    The same PReLU module (one slope) is applied twice, as in the reference.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(inplanes)
        self.conv1 = _conv3x3(inplanes, inplanes)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.prelu = nn.PReLU()
        self.conv2 = _conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _shortcut(inplanes, planes, stride)
        self.se = LinearSEGate(planes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.prelu(self.bn1(self.conv1(self.bn0(x))))
        out = self.se(self.bn2(self.conv2(out)))
        residual = x if self.downsample is None else self.downsample(x)
        return self.prelu(out + residual)


class ResNetFace18(nn.Module):
    """`resnet_face18(use_se=True)` without its (commented-out) head: 3x256² -> 512x16².

    conv3x3 3->64 -> BN -> PReLU -> maxpool 2 -> four stages of two IR blocks (64/128/256/512,
    strides 1/2/2/2).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv3x3(3, 64)
        self.bn1 = nn.BatchNorm2d(64)
        self.prelu = nn.PReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        widths, strides, cin = (64, 128, 256, 512), (1, 2, 2, 2), 64
        for index, (width, stride) in enumerate(zip(widths, strides, strict=True), start=1):
            setattr(
                self,
                f"layer{index}",
                nn.Sequential(FaceIRBlock(cin, width, stride), FaceIRBlock(width, width)),
            )
            cin = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.prelu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class TemplateResNet18(nn.Module):
    """SD-GAN's `resnet18`: conv3x3 3->64 + BN + ReLU, no max-pool, four stride-2 stages of two
    BasicBlocks (every first block has a 1x1 downsample): 3x256² -> 512x16²."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv3x3(3, 64)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        cin = 64
        for index, width in enumerate((64, 128, 256, 512), start=1):
            stage = nn.Sequential(
                BasicBlock(cin, width, 2, _shortcut(cin, width, 2)), BasicBlock(width, width)
            )
            setattr(self, f"layer{index}", stage)
            cin = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))
