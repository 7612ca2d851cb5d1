"""Registers `facefill-lite`: facefill's own compact face inpainter (Telea fill + learned residual).

The weights ship inside the package (`facefill/assets/facefill_lite.safetensors`, trained by
`facefill train` on LFW faces, see the model card in the README), so this model works offline and needs
no download. `--weights facefill-lite=PATH` (the run context) may point at another export
(e.g. `RUN_DIR/ema_generator.safetensors`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from facefill.pipelines.registry import InpainterSpec, register_inpainter
from facefill.pipelines.requests import InpaintRequest
from facefill.runtime.context import RunContext

MODEL_NAME = "facefill-lite"
ASSET = "facefill_lite.safetensors"


def shipped_weights_path() -> Path:
    """Path of the weights bundled with the package (weights.toml entry `facefill-lite`, an asset)."""
    return Path(str(resources.files("facefill") / "assets" / ASSET))


def load_lite_generator(path: str | Path | None = None, device: Any = "cpu"):
    """FacefillLite from the shipped weights or the export at `path` (`load_pretrained` with an override)."""
    from facefill.pipelines.pretrained import load_pretrained

    weights = {MODEL_NAME: str(Path(path).expanduser().resolve())} if path is not None else {}
    return load_pretrained(MODEL_NAME, RunContext(device=str(device), weights=weights), device=device)


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
    """The `fill(request) -> image` callable of the inpainter registry contract.

    The Telea prior is computed from the request's pixels, whose hole the pipeline has zeroed: with
    a full mask Telea has no border to fill from and leaves zeros, never the original pixels.
    """

    def __init__(self, model) -> None:
        import torch

        # channels_last roughly halves CPU latency (oneDNN convolutions); harmless on CUDA
        self.model = model.to(memory_format=torch.channels_last)

    def __call__(self, request: InpaintRequest):
        return self.fill_tensors(request.image, request.mask)

    def fill_tensors(self, image, mask):
        """Telea prior + residual on N×3×H×W [0,1] and its N×1×H×W hole (hole pixels ignored)."""
        import torch

        with torch.inference_mode():
            mask = (mask > 0.5).to(image.dtype)
            filled = telea_batch(image * (1 - mask), mask).contiguous(memory_format=torch.channels_last)
            out = self.model(filled, mask.contiguous(memory_format=torch.channels_last))
            return out.contiguous()


def _load(context: RunContext) -> LiteInpainter:
    from facefill.pipelines.pretrained import load_pretrained

    return LiteInpainter(load_pretrained(MODEL_NAME, context))  # honours --weights facefill-lite=PATH


register_inpainter(
    InpainterSpec(
        name=MODEL_NAME,
        description="facefill's own 2.8 M-parameter face inpainter: Telea fill + residual U-Net (CPU-fast)",
        load=_load,
        native_size=256,
        multiple_of=16,
        weights=(MODEL_NAME,),  # its sha256 (shipped file or --weights override) goes into sidecars
        batchable=True,
        licence_note="weights trained on LFW (research use); see README model card",
    )
)
