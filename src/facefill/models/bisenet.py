"""BiSeNet 19-class face parser (zllrunning/face-parsing.PyTorch, checkpoint `79999_iter.pth`).

Why: the public alternative to MaskFaceGAN's private DeepLab parser (spec edit.md §1.15, §3.3),
used for face-region masks. Architecture as in the original: a ResNet-18 context path (`cp.*`)
with attention refinement modules on the 1/16 and 1/32 features plus a global-average context;
the spatial path is omitted and the ResNet 1/8 feature stands in for it; a feature fusion module;
three heads (`conv_out` on the fused 1/8 features, `conv_out16`, `conv_out32` auxiliaries) each
bilinearly upsampled to the input size with align_corners=True. Inference uses `conv_out` only.

`BiSeNet.forward` takes an ImageNet-normalised tensor (the network's own convention);
`BiSeNet.parse` takes facefill's [0,1] images of any size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.registry import register
from facefill.models.resnet import BasicBlock, ResNet

BISENET_CLASSES: tuple[str, ...] = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear",
    "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)

# facefill region name -> BiSeNet class indices. A partition: every class is in exactly one group.
BISENET_REGION_GROUPS: dict[str, tuple[int, ...]] = {
    "background": (0,),
    "skin": (1,),
    "brows": (2, 3),
    "eyes": (4, 5),
    "glasses": (6,),
    "ears": (7, 8),
    "earrings": (9,),
    "nose": (10,),
    "inner_mouth": (11,),
    "lips": (12, 13),
    "neck": (14,),
    "necklace": (15,),
    "cloth": (16,),
    "hair": (17,),
    "hat": (18,),
}

# facefill's region names (faces/regions.py) from BiSeNet classes: "mouth" is the whole lip area,
# as the landmark provider and MaskFaceGAN draw it, so the two providers are interchangeable.
BISENET_FACEFILL_REGIONS: dict[str, tuple[int, ...]] = {
    **{name: idx for name, idx in BISENET_REGION_GROUPS.items() if name != "inner_mouth"},
    "mouth": (11, 12, 13),
}

# MaskFaceGAN's 9 parser classes from BiSeNet classes (spec §1.15; our choice, not the paper's).
BISENET_TO_MASKFACEGAN: dict[str, tuple[int, ...]] = {
    "background": (0, 16, 18),
    "mouth": (11, 12, 13),
    "eyebrows": (2, 3),
    "eyes": (4, 5, 6),
    "hair": (17,),
    "nose": (10,),
    "skin": (1,),
    "ears": (7, 8, 9),
    "belowface": (14, 15),
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_SIZE = 512


class ConvBNReLU(nn.Module):
    """Conv (no bias) -> BN -> ReLU; keys `conv.weight`, `bn.*`."""

    def __init__(self, cin: int, cout: int, ks: int = 3, stride: int = 1, padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, ks, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class BiSeNetOutput(nn.Module):
    """3×3 ConvBNReLU then a 1×1 classifier conv without bias."""

    def __init__(self, cin: int, mid: int, n_classes: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, mid)
        self.conv_out = nn.Conv2d(mid, n_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.conv(x))


class AttentionRefinementModule(nn.Module):
    """3×3 ConvBNReLU, then channel attention sigmoid(BN(1×1 conv(global mean))) multiplied in."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(cin, cout)
        self.conv_atten = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv(x)
        atten = torch.sigmoid(self.bn_atten(self.conv_atten(F.adaptive_avg_pool2d(feat, 1))))
        return feat * atten


class ContextPath(nn.Module):
    """ResNet-18 + ARMs; returns (feat8, head16 at 1/8, head32 at 1/16)."""

    def __init__(self) -> None:
        super().__init__()
        self.resnet = ResNet(BasicBlock, (2, 2, 2, 2), include_top=False)
        self.arm16 = AttentionRefinementModule(256, 128)
        self.arm32 = AttentionRefinementModule(512, 128)
        self.conv_head32 = ConvBNReLU(128, 128)
        self.conv_head16 = ConvBNReLU(128, 128)
        self.conv_avg = ConvBNReLU(512, 128, ks=1, padding=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feats = self.resnet.stages(x)
        feat8, feat16, feat32 = feats["layer2"], feats["layer3"], feats["layer4"]
        context = self.conv_avg(F.adaptive_avg_pool2d(feat32, 1))
        context = F.interpolate(context, size=feat32.shape[-2:], mode="nearest")
        head32 = self.arm32(feat32) + context
        head32 = self.conv_head32(F.interpolate(head32, size=feat16.shape[-2:], mode="nearest"))
        head16 = self.arm16(feat16) + head32
        head16 = self.conv_head16(F.interpolate(head16, size=feat8.shape[-2:], mode="nearest"))
        return feat8, head16, head32


class FeatureFusionModule(nn.Module):
    """Concat -> 1×1 ConvBNReLU -> squeeze-excite attention; out = feat + feat·att."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.convblk = ConvBNReLU(cin, cout, ks=1, padding=0)
        self.conv1 = nn.Conv2d(cout, cout // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(cout // 4, cout, 1, bias=False)

    def forward(self, fsp: torch.Tensor, fcp: torch.Tensor) -> torch.Tensor:
        feat = self.convblk(torch.cat([fsp, fcp], dim=1))
        atten = torch.sigmoid(self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(feat, 1)))))
        return feat + feat * atten


class BiSeNet(nn.Module):
    """zllrunning BiSeNet; 191 state_dict keys for 19 classes (no prefix in `79999_iter.pth`)."""

    classes = BISENET_CLASSES

    def __init__(self, n_classes: int = 19) -> None:
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusionModule(256, 256)
        self.conv_out = BiSeNetOutput(256, 256, n_classes)
        self.conv_out16 = BiSeNetOutput(128, 64, n_classes)
        self.conv_out32 = BiSeNetOutput(128, 64, n_classes)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(
        self, x: torch.Tensor, return_aux: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (N,19,H,W) at the input size for an ImageNet-normalised input (N,3,H,W)."""
        size = x.shape[-2:]
        feat8, head16, head32 = self.cp(x)
        fused = self.ffm(feat8, head16)

        def head(module: nn.Module, feat: torch.Tensor) -> torch.Tensor:
            return F.interpolate(module(feat), size=size, mode="bilinear", align_corners=True)

        out = head(self.conv_out, fused)
        if not return_aux:
            return out
        return out, head(self.conv_out16, head16), head(self.conv_out32, head32)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """[0,1] RGB -> ImageNet mean/std normalisation (torchvision Normalize)."""
        return (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)

    def parse(self, images: torch.Tensor, input_size: int = INPUT_SIZE) -> torch.Tensor:
        """Class probabilities (N,19,H,W) at the image size for [0,1] images (N,3,H,W).

        The network sees a `input_size`² resize (the original feeds a PIL bilinear resize to 512;
        antialiased bilinear interpolation is its torch counterpart); the logits are resized back
        to the image size (bilinear, align_corners=True, like the network's own heads) before the
        softmax.
        """
        size = images.shape[-2:]
        x = images
        if tuple(size) != (input_size, input_size):
            x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False,
                              antialias=True)
        logits = self(self.normalize(x))
        if tuple(size) != (input_size, input_size):
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=True)
        return torch.softmax(logits, dim=1)


def group_probabilities(
    probs: torch.Tensor, groups: dict[str, tuple[int, ...]] = BISENET_REGION_GROUPS
) -> dict[str, torch.Tensor]:
    """Sum class probabilities (N,C,H,W) into named soft region masks (N,1,H,W)."""
    return {name: probs[:, list(idx)].sum(dim=1, keepdim=True) for name, idx in groups.items()}


@register("bisenet", n_classes=19)
def bisenet(n_classes: int = 19) -> BiSeNet:
    """BiSeNet face parser (zllrunning layout)."""
    return BiSeNet(n_classes=n_classes)
