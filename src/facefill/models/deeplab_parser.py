"""MaskFaceGAN's 9-class face parser: torchvision DeepLabV3-ResNet50 under a `model.` prefix.

Why: MaskFaceGAN builds its region masks from this parser (spec edit.md §1.3, §1.5, §3.6). Layout
as torchvision `deeplabv3_resnet50(num_classes=9, aux_loss=None)`: a ResNet-50 backbone with
output stride 8 (strides of layer3/layer4 replaced by dilation 2/4), no avgpool/fc; the head
`classifier` = ASPP (1×1 branch, three 3×3 branches with dilation 12/24/36, an image-pooling branch
upsampled bilinearly, align_corners=False; concat -> 1×1 projection + BN + ReLU + Dropout(0.5)) ->
3×3 conv + BN + ReLU -> 1×1 conv to 9 classes; logits upsampled bilinearly (align_corners=False) to
the input size. No auxiliary head. The real `state.pt` also holds `loss.weight` (training class
weights), which `clean_checkpoint` drops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.registry import register
from facefill.models.resnet import resnet50

PARSER_CLASSES: tuple[str, ...] = (
    "background", "mouth", "eyebrows", "eyes", "hair", "nose", "skin", "ears", "belowface",
)
INPUT_SIZE = 512
ASPP_RATES = (12, 24, 36)
TRAINING_ONLY_KEYS = ("loss.weight",)


def _conv_bn_relu(cin: int, cout: int, kernel: int, dilation: int = 1) -> list[nn.Module]:
    pad = dilation if kernel == 3 else 0
    return [nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU()]


class ASPPPooling(nn.Sequential):
    """Global average -> 1×1 conv + BN + ReLU -> bilinear back to the feature size."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), *_conv_bn_relu(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        return F.interpolate(super().forward(x), size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (torchvision keys `convs.i`, `project`)."""

    def __init__(self, cin: int, rates: Sequence[int] = ASPP_RATES, cout: int = 256) -> None:
        super().__init__()
        branches: list[nn.Module] = [nn.Sequential(*_conv_bn_relu(cin, cout, 1))]
        branches += [nn.Sequential(*_conv_bn_relu(cin, cout, 3, rate)) for rate in rates]
        branches.append(ASPPPooling(cin, cout))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(*_conv_bn_relu(len(branches) * cout, cout, 1), nn.Dropout(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


class DeepLabV3(nn.Module):
    """torchvision DeepLabV3-ResNet50 without aux head; forward returns logits at input size."""

    def __init__(self, num_classes: int = len(PARSER_CLASSES)) -> None:
        super().__init__()
        self.backbone = resnet50(include_top=False, replace_stride_with_dilation=(False, True, True))
        self.classifier = nn.Sequential(
            ASPP(2048), nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
            nn.Conv2d(256, num_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        logits = self.classifier(self.backbone(x))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


class FaceParser(nn.Module):
    """MaskFaceGAN `FaceParser` weights holder (`model.` prefix, 362 keys)."""

    classes = PARSER_CLASSES

    def __init__(self, num_classes: int = len(PARSER_CLASSES), input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.model = DeepLabV3(num_classes)
        self.input_size = input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N,9,H,W) for an input already in the network's [-1,1] convention."""
        return self.model(x)

    def probabilities(self, images: torch.Tensor, output_size: int | None = None) -> torch.Tensor:
        """Softmax (N,9,S,S) for [0,1] images: area resize to 512 when needed, then 2x-1.

        S = 512, or `output_size` (bilinear, align_corners=False, as MaskFaceGAN upsamples its masks
        to 1024; bilinear resizing commutes with summing classes into a region mask).
        """
        if images.shape[-1] != self.input_size:
            images = F.interpolate(images, size=(self.input_size, self.input_size), mode="area")
        probs = torch.softmax(self(images * 2 - 1), dim=1)
        if output_size is not None and output_size != probs.shape[-1]:
            probs = F.interpolate(probs, size=(output_size, output_size), mode="bilinear",
                                  align_corners=False)
        return probs

    def region_mask(self, images: torch.Tensor, regions: Sequence[str],
                    output_size: int | None = None) -> torch.Tensor:
        """Soft mask (N,1,S,S): summed probabilities of the named classes (duplicates counted once)."""
        idx = sorted({PARSER_CLASSES.index(r) for r in regions})
        return self.probabilities(images, output_size)[:, idx].sum(dim=1, keepdim=True)


def clean_checkpoint(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Drop training-only entries (`loss.weight`) of MaskFaceGAN's `face_parser/state.pt`."""
    return {k: v for k, v in state_dict.items() if k not in TRAINING_ONLY_KEYS}


@register("maskfacegan-parser", num_classes=len(PARSER_CLASSES), input_size=INPUT_SIZE)
def maskfacegan_parser(num_classes: int = len(PARSER_CLASSES), input_size: int = INPUT_SIZE) -> FaceParser:
    """MaskFaceGAN 9-class DeepLabV3 face parser."""
    return FaceParser(num_classes=num_classes, input_size=input_size)
