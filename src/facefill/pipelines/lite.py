"""Registers facefill's own compact face inpainters (Telea fill + learned residual).

- `facefill-lite-v2` (the default): v1 plus Fourier blocks that see the whole face, trained with a
  critic and face-region holes so that eye, mouth and chin holes get eyes, mouths and chins.
- `facefill-lite` (v1): kept unchanged for reproducibility and comparison.

Both weights ship inside the package (`facefill/assets/`, trained by `facefill train` on LFW faces;
model card: facefill/assets/README.md), so they work offline with no download.
`--weights NAME=PATH` (the run context) may point at another export (`RUN_DIR/ema_generator.safetensors`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from facefill.pipelines.registry import InpainterSpec, register_inpainter
from facefill.pipelines.requests import InpaintRequest
from facefill.runtime.context import RunContext

MODEL_NAME = "facefill-lite"
V2_NAME = "facefill-lite-v2"
ASSETS = {MODEL_NAME: "facefill_lite.safetensors", V2_NAME: "facefill_lite_v2.safetensors"}


def shipped_weights_path(name: str = MODEL_NAME) -> Path:
    """Path of the weights of `name` bundled with the package (its weights.toml entry is an asset)."""
    return Path(str(resources.files("facefill") / "assets" / ASSETS[name]))


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


def _loader(name: str):
    def load(context: RunContext) -> LiteInpainter:
        from facefill.pipelines.pretrained import load_pretrained

        return LiteInpainter(load_pretrained(name, context))  # honours --weights NAME=PATH

    return load


def _register(name: str, description: str) -> None:
    register_inpainter(
        InpainterSpec(
            name=name,
            description=description,
            load=_loader(name),
            native_size=256,
            multiple_of=16,
            weights=(name,),  # its sha256 (shipped file or --weights override) goes into sidecars
            batchable=True,
            licence_note="weights trained on LFW (research use); see the model card in facefill/assets",
        )
    )


_register(MODEL_NAME, "facefill's first face inpainter (v1): Telea fill + 2.8 M-parameter residual U-Net")
_register(
    V2_NAME,
    "facefill's default face inpainter: v1 + Fourier blocks over the whole face, trained to draw "
    "eyes and mouths (3.3 M parameters, CPU-fast)",
)
