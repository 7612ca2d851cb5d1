"""What a task's model is asked to do: one request value per call, N items at once.

The inpaint contract (every inpainter, classical or learned, see `pipelines.registry`):

    fill(request: InpaintRequest) -> Tensor N×3×H×W in [0,1]

`request.image` N×3×H×W float in [0,1]; `request.mask` N×1×H×W in {0,1}, 1 = hole. The pipeline
has already zeroed the hole pixels (no model ever sees what was under the hole), padded H and W to
the spec's `multiple_of` and, for a spec with `native_size`, cropped to native-size squares. Only
the hole pixels of the result are used (the pipeline composites). Optional per-item inputs:

* `exemplar` N×3×h×w [0,1]: a reference face per item (models with the "exemplar" capability);
* `attribute`: one class / attribute name (or None) per item ("attribute" capability);
* `generators`: one `torch.Generator` per item. A stochastic model draws item i's noise from
  `generators[i]` only (`request.randn`), so an item gives the same result alone or in any batch.

A model reads only the fields its capabilities name; the pipeline refuses a request with a field
the model cannot honour. Edit and discrete-synthesis requests will be their own small types here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch


@dataclass(frozen=True)
class InpaintRequest:
    """N images, their holes and optional per-item conditioning (see the module docstring)."""

    image: torch.Tensor
    mask: torch.Tensor
    exemplar: torch.Tensor | None = None
    attribute: tuple[str | None, ...] | None = None
    generators: tuple[torch.Generator, ...] | None = None

    def __post_init__(self) -> None:
        if self.image.ndim != 4 or self.image.shape[1] != 3:
            raise ValueError(f"expected an N×3×H×W image tensor, got shape {tuple(self.image.shape)}")
        n, size = self.image.shape[0], self.image.shape[-2:]
        if self.mask.ndim != 4 or self.mask.shape[:2] != (n, 1) or self.mask.shape[-2:] != size:
            raise ValueError(f"mask {tuple(self.mask.shape)} does not match image {tuple(self.image.shape)}")
        if self.exemplar is not None and (self.exemplar.ndim != 4 or self.exemplar.shape[:2] != (n, 3)):
            raise ValueError(f"exemplar {tuple(self.exemplar.shape)}: expected {n}×3×h×w")
        for field, values in (("attribute", self.attribute), ("generators", self.generators)):
            if values is not None and len(values) != n:
                raise ValueError(f"{field}: {len(values)} values for {n} images")

    def __len__(self) -> int:
        return int(self.image.shape[0])

    @property
    def conditioning(self) -> frozenset[str]:
        """The capabilities this request needs ("exemplar", "attribute")."""
        wanted = {"exemplar": self.exemplar is not None, "attribute": self.attribute is not None}
        return frozenset(name for name, given in wanted.items() if given)

    def select(self, indices: Sequence[int]) -> InpaintRequest:
        """The request for items `indices` only (every per-item field follows)."""
        index = torch.as_tensor(list(indices), dtype=torch.long)

        def pick(values: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
            return None if values is None else tuple(values[i] for i in indices)

        return InpaintRequest(
            image=self.image[index.to(self.image.device)],
            mask=self.mask[index.to(self.mask.device)],
            exemplar=None if self.exemplar is None else self.exemplar[index.to(self.exemplar.device)],
            attribute=pick(self.attribute),
            generators=pick(self.generators),
        )

    def with_pixels(self, image: torch.Tensor, mask: torch.Tensor) -> InpaintRequest:
        """The same items with other pixels (a crop, a resize, a pad): conditioning is kept."""
        return replace(self, image=image, mask=mask)

    def randn(self, *shape: int, device: Any = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """N×shape standard-normal noise, item i drawn from `generators[i]` (global RNG without them).

        Drawn on the generators' device (CPU) and then moved, so the noise does not depend on the
        device the model runs on (the diffusers habit).
        """
        if self.generators is None:
            return torch.randn(len(self), *shape, dtype=dtype).to(device)
        planes = [torch.randn(*shape, generator=g, dtype=dtype, device=g.device) for g in self.generators]
        return torch.stack(planes).to(device)
