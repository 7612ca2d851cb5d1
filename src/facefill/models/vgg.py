"""VGG16 with torchvision's state_dict names (`features.N`, `classifier.N`), in plain torch.

Why here: LPIPS runs on VGG16's convolutional trunk and its weights come from torchvision's
ImageNet checkpoint; the indices N must match torchvision's `vgg16().features` exactly:
convs at 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28 (each followed by ReLU), max-pools
(2×2, stride 2) at 4, 9, 16, 23, 30.
"""

from __future__ import annotations

import torch
from torch import nn

from facefill.models.registry import register

# torchvision's configuration "D": channel counts, "M" = max-pool.
VGG16_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)


def vgg16_feature_layers() -> list[nn.Module]:
    """The 31 layers of torchvision's `vgg16().features`, in order (index = state_dict index)."""
    layers: list[nn.Module] = []
    cin = 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(cin, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            cin = int(item)
    return layers


class VGG16(nn.Module):
    """VGG16 (no batch norm). `include_classifier=False` keeps only `features` (trunk use)."""

    def __init__(self, num_classes: int = 1000, include_classifier: bool = True) -> None:
        super().__init__()
        self.features = nn.Sequential(*vgg16_feature_layers())
        self.include_classifier = include_classifier
        if include_classifier:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(0.5),
                nn.Linear(4096, num_classes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits with the classifier, else the last feature map (after pool5)."""
        x = self.features(x)
        if not self.include_classifier:
            return x
        return self.classifier(torch.flatten(self.avgpool(x), 1))


@register("vgg16", num_classes=1000, include_classifier=True)
def vgg16(num_classes: int = 1000, include_classifier: bool = True) -> VGG16:
    """VGG16 with torchvision keys."""
    return VGG16(num_classes=num_classes, include_classifier=include_classifier)
