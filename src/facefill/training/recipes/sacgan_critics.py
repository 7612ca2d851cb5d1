"""SAC-GAN's critics in training: the original's initialisation, and the optional local critic.

`SACGANCritics` pairs the original multi-task critic (`main`, checkpoint layout unchanged) with a
class-conditional patch critic that sees the mask (`--option w_local / w_fm` of the sacgan recipe);
`judge` calls whichever the run has, always through the (possibly DDP-wrapped) module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facefill.training.recipe import unwrap


def he_init(module: nn.Module) -> nn.Module:
    """The original's initialisation (§2.4): kaiming-normal (fan-in) conv/linear weights, zero biases.

    PyTorch's default init leaves this unnormalised ResBlk critic at logits ≈ 0 with tiny gradients."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


class SACGANCritics(nn.Module):
    """The original's multi-task critic (`main`) plus the local class-conditional patch critic."""

    def __init__(self, main: nn.Module, local: nn.Module) -> None:
        super().__init__()
        self.main, self.local = main, local

    def forward(
        self, image: torch.Tensor, label: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(main's logit for `label`, local patch logits, or None without a mask); `image` in [-1, 1]."""
        if mask is None:
            return self.main(image, label), None
        code = F.one_hot(label.long(), self.local.classes).to(image.dtype)
        return self.main(image, label), self.local((image + 1) / 2, mask, code)


def judge(
    critic: nn.Module, image: torch.Tensor, label: torch.Tensor, mask: torch.Tensor, local: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(main logit, local patch logits or None): one call whatever critics this run has."""
    if isinstance(unwrap(critic), SACGANCritics):  # called through the wrapper: DDP sees every use
        return critic(image, label, mask if local else None)
    return critic(image, label), None
