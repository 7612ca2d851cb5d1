"""The inpainting pipeline: any registered inpainter, tensors (or arrays) in and out.

It binarises the mask, pads to the model's `multiple_of` (reflect) and crops back, or, for models
with a `native_size`, runs a crop strategy; then it composites so only hole pixels change, and
returns the result at the input's size. Files, formats and batches of files are the jobs layer's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from facefill.pipelines.compose import composite
from facefill.pipelines.crops import CropStrategy, MaskBoxCrop
from facefill.pipelines.registry import InpainterSpec, LoadContext, get_inpainter
from facefill.pipelines.sizing import crop_to, pad_to_multiple


class InpaintPipeline:
    """`pipeline(image, mask)` fills the hole of `image` with the named model.

    image: H×W×3 float array in [0,1] (returns the same), or N×3×H×W tensor (returns a tensor).
    mask: H×W (or N×1×H×W) with 1 = hole; values > 0.5 count as hole.
    The model is loaded on first use, so building a pipeline is cheap.
    """

    def __init__(
        self,
        model_name: str,
        *,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        weights_overrides: dict[str, str] | None = None,
        offline: bool = False,
        seed: int = 0,
        crop_strategy: CropStrategy | None = None,
        feather: int = 0,
    ) -> None:
        self.spec: InpainterSpec = get_inpainter(model_name)
        if isinstance(device, str):
            from facefill.runtime.device import resolve_device

            device = resolve_device(device)
        self.requested_device = device
        self.dtype = dtype
        overrides = dict(weights_overrides or {})
        self.context = LoadContext(
            device=device, dtype=dtype, weights_overrides=overrides, offline=offline, seed=seed
        )
        self.crop_strategy = crop_strategy or MaskBoxCrop()
        self.feather = int(feather)
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self.spec.load(self.context)
        return self._model

    @property
    def device(self) -> torch.device:
        """Where the model actually runs (classical models run on CPU whatever was asked)."""
        return torch.device(getattr(self.model, "device", self.requested_device))

    def __call__(self, image: Any, mask: Any, *, seed: int | None = None) -> Any:
        if isinstance(image, torch.Tensor):
            return self.run(image, torch.as_tensor(mask), seed=seed)
        array = np.asarray(image, dtype=np.float32)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"expected an H×W×3 image, got shape {array.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
        mask_t = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
        return self.run(tensor, mask_t, seed=seed)[0].permute(1, 2, 0).numpy()

    def run(self, image: torch.Tensor, mask: torch.Tensor, *, seed: int | None = None) -> torch.Tensor:
        """N×3×H×W in [0,1] + N×1×H×W mask -> N×3×H×W, only hole pixels changed."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected an N×3×H×W image tensor, got shape {tuple(image.shape)}")
        if mask.ndim == 3:
            mask = mask[:, None]
        if mask.shape[0] != image.shape[0] or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(f"mask {tuple(mask.shape)} does not match image {tuple(image.shape)}")
        source_dtype, source_device = image.dtype, image.device
        image = image.to(torch.float32)
        mask = (mask > 0.5).to(torch.float32)
        has_hole = mask.flatten(1).amax(dim=1) > 0
        if not bool(has_hole.any()):
            warnings.warn("the mask has no hole pixels: the output equals the input", stacklevel=2)
            return image.to(source_dtype).clone()
        if seed is not None:
            torch.manual_seed(seed)
        filled = self._predict(image, mask)
        out = composite(image, filled.to(image.device), mask, self.feather)
        return out.to(device=source_device, dtype=source_dtype)

    @torch.inference_mode()
    def _predict(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.spec.native_size:
            return self.crop_strategy(image, mask, self._fill, self.spec.native_size)
        return self._fill(image, mask)

    def _fill(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Run the model at this size: pad to its multiple, call it, crop back (float32 out)."""
        device = self.device
        padded, size = pad_to_multiple(image.to(device=device, dtype=self.dtype), self.spec.multiple_of)
        padded_mask, _ = pad_to_multiple(mask.to(device=device, dtype=self.dtype), self.spec.multiple_of)
        padded_mask = (padded_mask > 0.5).to(self.dtype)
        out = self.model(padded, padded_mask)
        return crop_to(out, size).to(device=image.device, dtype=torch.float32)
