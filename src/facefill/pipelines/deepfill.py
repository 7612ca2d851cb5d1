"""Inpainters `deepfillv2-celebahq` and `deepfillv2-places2`: nipponjo's DeepFillv2 weights.

Contract (specs/inpaint.md §6.5): image [0,1] -> [-1,1]; mask binarised, 1 = hole; generator input
concat(x·(1−m), ones, ones·m); output composite x·(1−m) + stage2·m, back to [0,1]. H and W must be
multiples of 8: the inpaint pipeline pads (reflect) and crops back; this adapter also pads by
itself when called directly, so it never crops like the upstream code does.

Each inpainter accepts either flavour of the file (auto-detected from the keys): the fine-tuned
`states_pt_*.pth` (preferred) or the converted `states_tf_*.pth`. The files have no download
source with a licence to re-host, so the user imports them once by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from facefill.errors import WeightsError
from facefill.pipelines.pretrained import first_loadable
from facefill.pipelines.registry import InpainterSpec, register_inpainter
from facefill.pipelines.requests import InpaintRequest
from facefill.pipelines.sizing import crop_to, pad_to_multiple
from facefill.runtime.context import RunContext

# weights-registry name -> (nipponjo file name, Google Drive file id from the upstream README)
NIPPONJO_FILES: dict[str, tuple[str, str]] = {
    "deepfillv2-celebahq": ("states_pt_celebahq.pth", "17oJ1dJ9O3hkl2pnl8l2PtNVf2WhSDtB7"),
    "deepfillv2-celebahq-tf": ("states_tf_celebahq.pth", "1fTQVSKWwWcKYnmeemxKWImhVtFQpESmm"),
    "deepfillv2-places2": ("states_pt_places2.pth", "1L63oBNVgz7xSb_3hGbUdkYW1IuRgMkCa"),
    "deepfillv2-places2-tf": ("states_tf_places2.pth", "1tvdQRmkphJK7FYveNAKSMWC6K09hJoyt"),
}
MULTIPLE = 8


def import_hint(names: tuple[str, ...]) -> str:
    """One line telling the user where the file comes from and how to hand it to facefill."""
    name = names[0]
    filename, drive_id = NIPPONJO_FILES[name]
    return (
        f"download {filename} from https://github.com/nipponjo/deepfillv2-pytorch (README, Google Drive "
        f"https://drive.google.com/file/d/{drive_id}; CC BY-NC 4.0), then run "
        f"`facefill weights import {name} PATH` or pass --weights {name}=PATH"
    )


@dataclass
class DeepFillInpainter:
    """Callable fill(request) around a loaded DeepFillv2 generator (either flavour)."""

    generator: torch.nn.Module
    weights_name: str = ""

    @property
    def flavour(self) -> str:
        return getattr(self.generator, "flavour", "?")

    @torch.no_grad()
    def run(self, image: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """All outputs in [0,1] at the input size: 'inpainted' (composite), 'stage1', 'stage2'."""
        param = next(self.generator.parameters())
        x, size = pad_to_multiple(image.to(param), MULTIPLE)
        m, _ = pad_to_multiple((mask > 0.5).to(param), MULTIPLE)
        x = x * 2.0 - 1.0
        x_masked = x * (1.0 - m)
        ones = torch.ones_like(m)
        stage1, stage2 = self.generator(torch.cat([x_masked, ones, ones * m], dim=1), m)

        def to_unit(t: torch.Tensor) -> torch.Tensor:
            return crop_to(((t + 1.0) / 2.0).clamp(0.0, 1.0), size).to(image)

        # §6.5 composite x·(1−m) + stage2·m, done in [0,1] so known pixels come back bit-exact.
        hole = crop_to(m, size).to(image)
        filled = to_unit(stage2)
        inpainted = image * (1.0 - hole) + filled * hole
        return {"inpainted": inpainted, "stage1": to_unit(stage1), "stage2": filled}

    def __call__(self, request: InpaintRequest) -> torch.Tensor:
        return self.run(request.image, request.mask)["inpainted"]


def load_deepfill(weight_names: tuple[str, ...], ctx: RunContext) -> DeepFillInpainter:
    """Load the first available of `weight_names`, detect its flavour, move it to ctx.device/dtype."""
    from facefill.models.deepfillv2 import load_generator

    name, checkpoint = first_loadable(weight_names, ctx, import_hint(weight_names))
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"weights {name!r}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    generator = load_generator(checkpoint, what=f"weights {name!r}")
    generator = generator.to(device=ctx.torch_device(), dtype=ctx.torch_dtype())
    return DeepFillInpainter(generator, weights_name=name)


def _spec(name: str, dataset: str, description: str) -> InpainterSpec:
    names = (f"deepfillv2-{dataset}", f"deepfillv2-{dataset}-tf")  # fine-tuned "pt" file preferred

    def load(ctx: RunContext) -> Any:
        return load_deepfill(names, ctx)

    return InpainterSpec(
        name=name,
        description=description,
        load=load,
        multiple_of=MULTIPLE,
        weights=names,
        batchable=True,
        licence_note="DeepFillv2 weights: CC BY-NC 4.0 (non-commercial); nipponjo port has no licence file",
    )


CELEBAHQ_SPEC = register_inpainter(
    _spec(
        "deepfillv2-celebahq",
        "celebahq",
        "DeepFillv2 (gated conv + contextual attention), CelebA-HQ weights; "
        "aligned faces, holes up to ~128² at 256²",
    )
)
PLACES2_SPEC = register_inpainter(
    _spec(
        "deepfillv2-places2",
        "places2",
        "DeepFillv2 (gated conv + contextual attention), Places2 weights; general scenes, any size (×8)",
    )
)
