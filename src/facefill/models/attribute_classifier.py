"""MaskFaceGAN's `BranchedTiny` multi-task attribute classifier (40 CelebA attributes).

Why: MaskFaceGAN steers the latent with this classifier (spec edit.md §1.3, §1.4, §3.5); the
checkpoint `models/attribute_classifier/state.pt` is a plain state_dict of 642 keys.

Structure: a tree of branches. Convolution units are Conv3×3(pad 1, bias) -> ReLU -> BatchNorm
(ReLU *before* BN), max-pools are 2×2/2; hidden FC units are Linear -> ReLU -> BatchNorm1d, output
units a bare Linear(128, 1). Each tree level is a ModuleList of Sequential branches; the tables
below say which branch of the previous level feeds each branch. The 40 output logits, concatenated
in branch order, follow `ATTRIBUTES` (NOT the CelebA column order).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facefill.errors import ModelError
from facefill.models.registry import register

ATTRIBUTES: tuple[str, ...] = (
    "blurry", "sideburns", "wearing_earrings", "bald", "goatee", "mustache", "5_o_clock_shadow",
    "arched_eyebrows", "no_beard", "heavy_makeup", "male", "wearing_lipstick", "black_hair",
    "high_cheekbones", "smiling", "mouth_slightly_open", "oval_face", "bushy_eyebrows",
    "attractive", "young", "gray_hair", "brown_hair", "blond_hair", "pale_skin", "chubby",
    "double_chin", "big_nose", "bags_under_eyes", "wearing_necklace", "wearing_necktie",
    "rosy_cheeks", "bangs", "wavy_hair", "straight_hair", "wearing_hat", "big_lips",
    "narrow_eyes", "pointy_nose", "receding_hairline", "eyeglasses",
)

CELEBA_MEAN = (0.5061, 0.4254, 0.3828)
CELEBA_STD = (0.2661, 0.2453, 0.2413)
INPUT_SIZE = 224

# Conv levels: name, layout ("C" = conv unit, "M" = max-pool), parent branch of each branch.
CONV_LEVELS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("01-06", "CCMCCMCC", (0,)),
    ("06-11", "CMCCCMC", (0, 0)),
    ("11-12", "C", (0, 0, 1)),
    ("12-13", "CM", (0, 0, 0, 0, 1, 1, 1, 1, 1, 2)),
)
# FC levels: name, hidden (Linear+ReLU+BN1d) or output (Linear), parent branch of each branch.
FC_LEVELS: tuple[tuple[str, bool, tuple[int, ...]], ...] = (
    ("13-14", True, (0, 1, 1, 1, 2, 2, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 8, 9)),
    ("14-15", True, (0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 5, 6, 7, 7, 7, 8, 8, 9, 9, 9, 10, 10, 11, 11, 11,
                     12, 13, 13, 14, 15, 16, 16, 17)),
    ("15-16", False, (0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 7, 7, 8, 8, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                      18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 29, 30, 31, 32)),
)


def _conv_branch(layout: str, cin: int, width: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for item in layout:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(width)]
            cin = width
    return nn.Sequential(*layers)


def _fc_branch(cin: int, cout: int, hidden: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(cin, cout)]
    if hidden:
        layers += [nn.ReLU(inplace=True), nn.BatchNorm1d(cout)]
    return nn.Sequential(*layers)


def attribute_index(name: str) -> int:
    """Index of attribute `name` in the classifier output (ModelError with the known names)."""
    key = name.lower().replace("-", "_")
    if key not in ATTRIBUTES:
        raise ModelError(f"unknown attribute {name!r}; known: {', '.join(ATTRIBUTES)}")
    return ATTRIBUTES.index(key)


class BranchedTiny(nn.Module):
    """40-logit attribute classifier; forward takes [0,1] RGB of any size."""

    attributes = ATTRIBUTES

    def __init__(self, width: int = 64, img_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.img_size = img_size
        self.register_buffer("celeba_mean", torch.tensor(CELEBA_MEAN).view(1, 3, 1, 1))
        self.register_buffer("celeba_std", torch.tensor(CELEBA_STD).view(1, 3, 1, 1))
        conv = {}
        cin = 3
        for name, layout, parents in CONV_LEVELS:
            conv[name] = nn.ModuleList(_conv_branch(layout, cin, width) for _ in parents)
            cin = width
        self.conv_layers = nn.ModuleDict(conv)
        spatial = img_size // 2 ** sum(layout.count("M") for _, layout, _ in CONV_LEVELS)
        fc = {}
        cin = width * spatial * spatial
        for name, hidden, parents in FC_LEVELS:
            cout = 2 * width if hidden else 1
            fc[name] = nn.ModuleList(_fc_branch(cin, cout, hidden) for _ in parents)
            cin = cout
        self.fc_layers = nn.ModuleDict(fc)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Area-resize to the training size, then CelebA mean/std normalisation."""
        if tuple(images.shape[-2:]) != (self.img_size, self.img_size):
            images = F.interpolate(images, size=(self.img_size, self.img_size), mode="area")
        return (images - self.celeba_mean) / self.celeba_std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (N,40) in `ATTRIBUTES` order for [0,1] RGB images (N,3,H,W)."""
        outs = [self.normalize(images)]
        for name, _, parents in CONV_LEVELS:
            outs = [branch(outs[p]) for branch, p in zip(self.conv_layers[name], parents, strict=True)]
        outs = [o.flatten(1) for o in outs]
        for name, _, parents in FC_LEVELS:
            outs = [branch(outs[p]) for branch, p in zip(self.fc_layers[name], parents, strict=True)]
        return torch.cat(outs, dim=1)

    def logits_for(self, images: torch.Tensor, names: list[str] | tuple[str, ...]) -> torch.Tensor:
        """Logits (N,len(names)) of the named attributes, in the given order."""
        return self(images)[:, [attribute_index(n) for n in names]]


@register("maskfacegan-classifier", width=64, img_size=INPUT_SIZE)
def maskfacegan_classifier(width: int = 64, img_size: int = INPUT_SIZE) -> BranchedTiny:
    """MaskFaceGAN BranchedTiny attribute classifier."""
    return BranchedTiny(width=width, img_size=img_size)
