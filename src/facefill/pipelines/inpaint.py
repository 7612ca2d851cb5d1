"""The inpainting pipeline: any registered inpainter, an `InpaintRequest` in, a filled image out.

It binarises the mask, refuses conditioning the model cannot honour, zeroes the hole pixels (no
model ever sees what was under the hole: with a full mask the output cannot be a copy of the
original), pads to the model's `multiple_of` (reflect) and crops back, or, for models with a
`native_size`, runs a crop strategy; then it composites so only hole pixels change. Files,
formats and batches of files are the jobs layer's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from facefill.pipelines.compose import composite
from facefill.pipelines.crops import CropStrategy, MaskBoxCrop
from facefill.pipelines.registry import INPAINT, ModelSpec, get_model, require_capabilities
from facefill.pipelines.requests import InpaintRequest
from facefill.pipelines.sizing import crop_to, pad_to_multiple
from facefill.runtime.context import DEFAULT_CONTEXT, RunContext
from facefill.runtime.seed import item_generator


class InpaintPipeline:
    """`pipeline.run(request)` fills the holes of a batch with the named model.

    `pipeline(image, mask, **conditioning)` is the same for one H×W×3 float array in [0,1] (returns
    an array) or for N×3×H×W tensors (returns a tensor). The model loads on first use, so building a
    pipeline is cheap. Without `generators`, item i of a call draws from seed
    `item_seed(context.seed, str(i))`; the jobs layer passes one generator per item name instead.
    """

    def __init__(
        self,
        model_name: str,
        context: RunContext = DEFAULT_CONTEXT,
        *,
        crop_strategy: CropStrategy | None = None,
        feather: int = 0,
    ) -> None:
        self.spec: ModelSpec = get_model(INPAINT, model_name)
        self.context = context
        self.requested_device = context.torch_device()
        self.dtype = context.torch_dtype()
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

    def __call__(self, image: Any, mask: Any, **conditioning: Any) -> Any:
        if isinstance(image, torch.Tensor):
            mask = torch.as_tensor(mask)
            return self.run(InpaintRequest(image, mask[:, None] if mask.ndim == 3 else mask, **conditioning))
        array = np.asarray(image, dtype=np.float32)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"expected an H×W×3 image, got shape {array.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
        mask_t = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
        if conditioning.get("exemplar") is not None:
            exemplar = np.asarray(conditioning["exemplar"], dtype=np.float32).transpose(2, 0, 1)
            conditioning["exemplar"] = torch.from_numpy(np.ascontiguousarray(exemplar))[None]
        out = self.run(InpaintRequest(tensor, mask_t, **conditioning))
        return out[0].permute(1, 2, 0).numpy()

    def run(self, request: InpaintRequest) -> torch.Tensor:
        """N×3×H×W in [0,1] -> N×3×H×W, only hole pixels changed."""
        require_capabilities(self.spec, INPAINT, {c: c for c in request.conditioning})
        image, source_dtype, source_device = request.image, request.image.dtype, request.image.device
        image = image.to(torch.float32)
        mask = (request.mask > 0.5).to(torch.float32).to(image.device)
        if not bool(mask.any()):
            warnings.warn("the mask has no hole pixels: the output equals the input", stacklevel=2)
            return request.image.clone()
        generators = request.generators
        if generators is None:
            generators = tuple(item_generator(self.context.seed, str(i)) for i in range(len(request)))
        hidden = InpaintRequest(
            image * (1 - mask), mask, request.exemplar, request.attribute, tuple(generators)
        )
        filled = self._predict(hidden)
        out = composite(image, filled.to(image.device), mask, self.feather)
        return out.to(device=source_device, dtype=source_dtype)

    @torch.inference_mode()
    def _predict(self, request: InpaintRequest) -> torch.Tensor:
        if self.spec.native_size:
            return self.crop_strategy(request, self._fill, self.spec.native_size)
        return self._fill(request)

    def _fill(self, request: InpaintRequest) -> torch.Tensor:
        """Run the model at this size: pad to its multiple, hide the hole, call it, crop back (float32)."""
        if len(request) > 1 and not self.spec.batchable:
            return torch.cat([self._fill(request.select([n])) for n in range(len(request))])
        device, multiple = self.device, self.spec.multiple_of
        padded, size = pad_to_multiple(request.image.to(device=device, dtype=self.dtype), multiple)
        padded_mask, _ = pad_to_multiple(request.mask.to(device=device, dtype=self.dtype), multiple)
        padded_mask = (padded_mask > 0.5).to(self.dtype)
        # Again at model size: resizing and padding can spread the hole; the model never sees its pixels.
        padded = padded * (1 - padded_mask)
        exemplar = request.exemplar
        if exemplar is not None:
            exemplar = exemplar.to(device=device, dtype=self.dtype)
        model_request = InpaintRequest(padded, padded_mask, exemplar, request.attribute, request.generators)
        out = self.model(model_request)
        return crop_to(out, size).to(device=request.image.device, dtype=torch.float32)
