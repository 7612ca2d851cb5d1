"""Registers `facefill-lite`: facefill's own compact face inpainter (Telea fill + learned residual).

The weights ship inside the package (`facefill/assets/facefill_lite.safetensors`, trained by
`facefill train` on LFW faces, see the model card in the README), so this model works offline and needs
no download. `LoadContext.weights_overrides["facefill-lite"]` may point at another export
(e.g. `RUN_DIR/ema_generator.safetensors`).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from facefill.errors import WeightsError
from facefill.pipelines.registry import InpainterSpec, LoadContext, register_inpainter

MODEL_NAME = "facefill-lite"
ASSET = "facefill_lite.safetensors"


def shipped_weights_path() -> Path:
    """Path of the weights bundled with the package."""
    return Path(str(resources.files("facefill") / "assets" / ASSET))


def load_lite_generator(path: str | Path | None = None, device: Any = "cpu"):
    """Build FacefillLite with the architecture recorded in the file's metadata and load it strictly."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from facefill.models.facefill_lite import FacefillLite
    from facefill.models.registry import load_strict

    path = Path(path) if path is not None else shipped_weights_path()
    if not path.is_file():
        raise WeightsError(
            f"facefill-lite weights not found at {path}; reinstall facefill or pass a valid file"
        )
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise WeightsError(
            f"cannot read facefill-lite weights {path}: {exc}; re-export or reinstall"
        ) from exc
    config = {k: tuple(json.loads(meta[k])) for k in ("widths", "dilations") if k in meta}
    model = FacefillLite(**config)
    load_strict(model, state, str(path))
    return model.eval().to(device)


def telea_batch(image, mask):
    """Telea-fill (radius 3) each image of an N×3×H×W [0,1] batch on its rounded uint8 version."""
    import numpy as np
    import torch

    from facefill.pipelines.classical import telea_fill

    imgs = (image.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
    holes = mask.detach()[:, 0].cpu().numpy() > 0.5
    filled = np.stack([telea_fill(i, m) for i, m in zip(imgs, holes, strict=True)])
    return torch.from_numpy(filled).permute(0, 3, 1, 2).to(image.device, image.dtype) / 255.0


class LiteInpainter:
    """The `fill(image, mask) -> image` callable of the inpainter registry contract."""

    def __init__(self, model) -> None:
        import torch

        # channels_last roughly halves CPU latency (oneDNN convolutions); harmless on CUDA
        self.model = model.to(memory_format=torch.channels_last)

    def __call__(self, image, mask):
        import torch

        with torch.inference_mode():
            mask = (mask > 0.5).to(image.dtype)
            filled = telea_batch(image, mask).contiguous(memory_format=torch.channels_last)
            out = self.model(filled, mask.contiguous(memory_format=torch.channels_last))
            return out.contiguous()


def _load(ctx: LoadContext) -> LiteInpainter:
    override = ctx.weights_overrides.get(MODEL_NAME)
    return LiteInpainter(load_lite_generator(override, device=ctx.device))


register_inpainter(
    InpainterSpec(
        name=MODEL_NAME,
        description="facefill's own 2.8 M-parameter face inpainter: Telea fill + residual U-Net (CPU-fast)",
        load=_load,
        native_size=256,
        multiple_of=16,
        assets=(ASSET,),
        batchable=True,
        licence_note="weights trained on LFW (research use); see README model card",
    )
)
