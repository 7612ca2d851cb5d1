"""Registers `spl`: SPL (IJCAI 2021), inpainting guided by a learned semantic prior (specs/inpaint.md §3).

Tensors in, tensors out (`spl_fill`): image N×3×256×256 in [0,1], mask N×1×256×256 with 1 = hole
(the interface's polarity and SPL's: only binarised). SPL paints the hole white itself and makes
its 512² prior-learner inputs by nearest ×2 (§3.8); its output is already in [0,1]. The composite
is out·m + image·(1−m). Weights: `spl` in weights.toml (trained by `facefill train --recipe spl`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from facefill.pipelines.registry import InpainterSpec, register_inpainter
from facefill.pipelines.requests import InpaintRequest
from facefill.runtime.context import RunContext

MODEL_NAME = "spl"
NATIVE_SIZE = 256


def spl_fill(generator: torch.nn.Module, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Composite N×3×H×W in [0,1] (H, W multiples of 4)."""
    hole = (mask > 0.5).to(image.dtype)
    out, _ = generator(image * (1 - hole), hole)
    return out * hole + image * (1 - hole)


@dataclass
class SPLInpainter:
    generator: torch.nn.Module

    @torch.inference_mode()
    def __call__(self, request: InpaintRequest) -> torch.Tensor:
        return spl_fill(self.generator, request.image, request.mask)


def _load(context: RunContext) -> SPLInpainter:
    from facefill.pipelines.pretrained import load_pretrained

    return SPLInpainter(load_pretrained(MODEL_NAME, context))


register_inpainter(
    InpainterSpec(
        name=MODEL_NAME,
        description="SPL (IJCAI 2021): semantic-prior-guided inpainting, 256² faces",
        load=_load,
        native_size=NATIVE_SIZE,
        multiple_of=4,
        weights=(MODEL_NAME,),
        batchable=True,
        licence_note="architecture after WendongZh/SPL; weights trained on LFW",
    )
)
