"""Inpainter `lama`: big-lama as the TorchScript file IOPaint loads (weights name `lama-big`).

Call contract of that file (IOPaint `LaMa.forward`): model(image, mask) with image N×3×H×W RGB
float in [0,1], mask N×1×H×W binary (mask > 0 -> 1), H and W multiples of 8; it returns
N×3×H×W RGB in [0,1] (IOPaint clips it). LaMa is a general-purpose model (Places2), not face-specific.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from facefill.errors import ModelError
from facefill.pipelines.pretrained import load_pretrained
from facefill.pipelines.registry import InpainterSpec, register_inpainter
from facefill.pipelines.requests import InpaintRequest
from facefill.pipelines.sizing import crop_to, pad_to_multiple
from facefill.runtime.context import RunContext

WEIGHTS_NAME = "lama-big"
MULTIPLE = 8


@dataclass
class LamaInpainter:
    """Callable fill(request) around a TorchScript LaMa module (`run` for plain tensors)."""

    module: Any  # torch.jit.ScriptModule
    device: torch.device

    def __call__(self, request: InpaintRequest) -> torch.Tensor:
        return self.run(request.image, request.mask)

    @torch.no_grad()
    def run(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x, size = pad_to_multiple(image.to(self.device, torch.float32), MULTIPLE)
        m, _ = pad_to_multiple((mask > 0).to(self.device, torch.float32), MULTIPLE)
        out = self.module(x.clamp(0.0, 1.0), m)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ModelError(
                f"LaMa module returned {got}, expected {tuple(x.shape)}; is `{WEIGHTS_NAME}` big-lama.pt?"
            )
        return crop_to(out.clamp(0.0, 1.0), size).to(image)


def load_lama(ctx: RunContext) -> LamaInpainter:
    """The TorchScript module through the safe loader (`kind = "torchscript"` in weights.toml)."""
    device = ctx.torch_device()
    return LamaInpainter(load_pretrained(WEIGHTS_NAME, ctx, device=device), device)


LAMA_SPEC = register_inpainter(
    InpainterSpec(
        name="lama",
        description="LaMa (big-lama, Fourier convolutions), general-purpose; any size (×8), large holes",
        load=load_lama,
        multiple_of=MULTIPLE,
        weights=(WEIGHTS_NAME,),
        batchable=True,
        licence_note="big-lama: Apache-2.0",
    )
)
