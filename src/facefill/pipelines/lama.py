"""Inpainter `lama`: big-lama as the TorchScript file IOPaint loads (weights name `lama-big`).

Call contract of that file (IOPaint `LaMa.forward`): model(image, mask) with image N×3×H×W RGB
float in [0,1], mask N×1×H×W binary (mask > 0 -> 1), H and W multiples of 8; it returns
N×3×H×W RGB in [0,1] (IOPaint clips it). LaMa is a general-purpose model (Places2), not face-specific.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch

from facefill.errors import ModelError, WeightsError
from facefill.pipelines.published_weights import resolve_file
from facefill.pipelines.registry import InpainterSpec, LoadContext, register_inpainter
from facefill.pipelines.sizing import crop_to, pad_to_multiple

WEIGHTS_NAME = "lama-big"
MULTIPLE = 8


@dataclass
class LamaInpainter:
    """Callable fill(image, mask) around a TorchScript LaMa module."""

    module: Any  # torch.jit.ScriptModule
    device: torch.device

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x, size = pad_to_multiple(image.to(self.device, torch.float32), MULTIPLE)
        m, _ = pad_to_multiple((mask > 0).to(self.device, torch.float32), MULTIPLE)
        out = self.module(x.clamp(0.0, 1.0), m)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ModelError(
                f"LaMa module returned {got}, expected {tuple(x.shape)}; is `{WEIGHTS_NAME}` big-lama.pt?"
            )
        return crop_to(out.clamp(0.0, 1.0), size).to(image)


def load_lama(ctx: LoadContext) -> LamaInpainter:
    path = resolve_file(WEIGHTS_NAME, ctx)
    try:
        with warnings.catch_warnings():  # torch marks jit as deprecated; IOPaint's file is TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # not a TorchScript archive
        raise WeightsError(
            f"{path} is not a TorchScript LaMa model ({type(exc).__name__}); expected big-lama.pt"
        ) from exc
    device = torch.device(ctx.device)
    module = module.to(device).eval()
    return LamaInpainter(module, device)


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
