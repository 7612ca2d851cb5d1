"""ResNet-18/50 backbones with torchvision's state_dict names, written in plain torch.

Why here: BiSeNet's context path (`cp.resnet.*`) and MaskFaceGAN's DeepLabV3 parser
(`model.backbone.*`) both embed a torchvision-style ResNet; torchvision itself is not a runtime
dependency. Layout (ResNet v1.5): 7×7/2 stem conv + BN + ReLU, 3×3/2 max-pool, four stages; the
stride of a stage sits in its first block's 3×3 conv; the shortcut is a 1×1 conv + BN whenever the
stride or width changes. `replace_stride_with_dilation` turns a stage's stride into dilation as
torchvision does (DeepLabV3 uses [False, True, True] for output stride 8): the first block of a
dilated stage keeps the previous dilation, the later blocks use the new one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from facefill.models.registry import register

STAGE_NAMES = ("layer1", "layer2", "layer3", "layer4")


def _conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)


class BasicBlock(nn.Module):
    """Two 3×3 convs (ResNet-18/34). Keys: conv1, bn1, conv2, bn2, downsample.{0,1}."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        if dilation != 1:
            raise ValueError("BasicBlock does not support dilation (torchvision neither)")
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (stride, dilation), 1×1 expand ×4 (ResNet-50). Keys conv1..3, bn1..3."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision-compatible ResNet; `include_top=False` drops avgpool/fc (backbone use)."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        num_classes: int = 1000,
        replace_stride_with_dilation: Sequence[bool] = (False, False, False),
        include_top: bool = True,
    ) -> None:
        super().__init__()
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation needs 3 booleans (layer2, layer3, layer4)")
        self._inplanes = 64
        self._dilation = 1
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_stage(block, 64, layers[0])
        self.layer2 = self._make_stage(block, 128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_stage(block, 256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_stage(block, 512, layers[3], 2, replace_stride_with_dilation[2])
        self.include_top = include_top
        if include_top:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, num_classes)
        self.out_channels = 512 * block.expansion

    def _make_stage(
        self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int, stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        previous_dilation = self._dilation
        if dilate:
            self._dilation *= stride
            stride = 1
        width = planes * block.expansion
        downsample = None
        if stride != 1 or self._inplanes != width:
            downsample = nn.Sequential(
                nn.Conv2d(self._inplanes, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width)
            )
        units = [block(self._inplanes, planes, stride, downsample, previous_dilation)]
        self._inplanes = width
        units += [block(width, planes, dilation=self._dilation) for _ in range(1, blocks)]
        return nn.Sequential(*units)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs of layer1..layer4 (strides 4, 8, 16, 32 without dilation)."""
        feats: dict[str, torch.Tensor] = {}
        x = self.stem(x)
        for name in STAGE_NAMES:
            x = getattr(self, name)(x)
            feats[name] = x
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits with the top, else the layer4 feature map."""
        x = self.stages(x)["layer4"]
        if not self.include_top:
            return x
        return self.fc(torch.flatten(self.avgpool(x), 1))


@register("resnet18", num_classes=1000, include_top=True)
def resnet18(num_classes: int = 1000, include_top: bool = True) -> ResNet:
    """ResNet-18 (torchvision `resnet18` keys)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes=num_classes, include_top=include_top)


@register("resnet50", num_classes=1000, include_top=True, replace_stride_with_dilation=(False, False, False))
def resnet50(
    num_classes: int = 1000,
    include_top: bool = True,
    replace_stride_with_dilation: Sequence[bool] = (False, False, False),
) -> ResNet:
    """ResNet-50 v1.5 (torchvision `resnet50` keys); dilation for segmentation backbones."""
    return ResNet(
        Bottleneck, (3, 4, 6, 3), num_classes=num_classes, include_top=include_top,
        replace_stride_with_dilation=replace_stride_with_dilation,
    )
