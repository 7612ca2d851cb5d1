"""The `facefill inpaint` processor: read image + mask, run `InpaintPipeline`, write the result.

Outside the hole the output is the input's own integer pixels (copied, not recomputed), so a PNG
output equals its input bit for bit there; 16-bit sources are filled in float and written back in
16 bits (when the output format holds 16 bits). Alpha, EXIF and ICC follow via `write_image(like=)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facefill.jobs.plan import WorkItem
from facefill.runtime.seed import item_seed

INVERTED_HOLE_RATIO = 0.9
MASK_CACHE_SIZE = 4


@dataclass
class InpaintSettings:
    model: str
    device: str = "auto"
    seed: int = 0
    feather: int = 0
    quality: int = 95
    max_pixels: int | None = None
    mask_options: Any = None  # facefill.io.masks.MaskOptions
    align_faces: bool = True  # native-size models run on the FFHQ-aligned face (pipelines.face_crop)


@dataclass
class _Loaded:
    image: Any  # facefill.io.images.LoadedImage
    mask: np.ndarray  # float32 H×W {0,1}
    hole_ratio: float
    warnings: list[str]


def _weights_sha256(names: tuple[str, ...], assets: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of each checkpoint the model uses (honours --weights overrides), by registry name or,
    for weights shipped in the package, by asset file name; unknown ones omitted."""
    from importlib import resources

    from facefill.io.files import sha256_file

    hashes: dict[str, str | None] = {}
    if names:
        from facefill.weights import sha256_of

        hashes = {name: sha256_of(name) for name in names}
    for asset in assets:
        path = resources.files("facefill") / "assets" / asset
        hashes[asset] = sha256_file(str(path)) if path.is_file() else None
    return {name: sha for name, sha in hashes.items() if sha}


def to_source_dtype(result: np.ndarray, original: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Float [0,1] result -> the source's integer dtype; pixels with weight 0 copied from `original`."""
    top = 65535 if original.dtype == np.uint16 else 255
    # float32 is exact enough: 65535 * 2**-24 << 0.5, so rounding lands on the right integer.
    values = np.clip(np.rint(result.astype(np.float32, copy=False) * np.float32(top)), 0, top).astype(
        original.dtype
    )
    return np.where((weights > 0)[..., None], values, original)


def _face_crop() -> Any:
    from facefill.pipelines.face_crop import AlignedFaceCrop

    return AlignedFaceCrop()


class InpaintProcessor:
    """Processor (see jobs.processor) for `facefill inpaint`."""

    description = "inpaint"

    def __init__(self, settings: InpaintSettings, warn: Callable[[str], None] = lambda message: None) -> None:
        from facefill.pipelines.inpaint import InpaintPipeline

        self.settings = settings
        self.warn = warn
        self._mask_cache: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        self._mask_lock = threading.Lock()
        self.pipeline = InpaintPipeline(
            settings.model,
            device=settings.device,
            seed=settings.seed,
            feather=settings.feather,
            crop_strategy=_face_crop() if settings.align_faces else None,
        )

    def run_info(self) -> dict[str, Any]:
        spec = self.pipeline.spec
        info: dict[str, Any] = {"model": spec.name}
        shas = _weights_sha256(spec.weights, spec.assets)
        if shas:
            info["weights_sha256"] = shas
        info["device"] = str(self.pipeline.device)
        info["dtype"] = str(self.pipeline.dtype).replace("torch.", "")
        info["run_seed"] = self.settings.seed
        return info

    def auto_batch_size(self) -> int:
        """1 on CPU (and for classical models), more on GPUs for batchable learned models."""
        from facefill.runtime.batching import auto_batch_size

        spec = self.pipeline.spec
        return auto_batch_size(self.pipeline.device, batchable=spec.batchable, side=spec.native_size)

    def load(self, item: WorkItem) -> _Loaded:
        from facefill.io.images import read_image
        from facefill.masks.ops import hole_ratio

        image = read_image(item.source, max_pixels=self.settings.max_pixels)
        assert item.mask is not None, "planned items always carry a mask"
        mask = self._read_mask(str(item.mask), image.size)
        ratio = hole_ratio(mask)
        notes = []
        if ratio == 0.0:
            notes.append(f"{item.source}: the mask {item.mask} has no hole; output = input")
        elif ratio > INVERTED_HOLE_RATIO:
            notes.append(
                f"{item.source}: mask {item.mask} covers {ratio:.0%} of the image; "
                "if white is meant to be kept, add --invert-mask"
            )
        for note in notes:
            self.warn(note)
        return _Loaded(image, mask, ratio, notes)

    def _read_mask(self, path: str, size: tuple[int, int]) -> np.ndarray:
        """Decode a mask, reusing the last few: one mask shared by a whole folder is read once."""
        key = (path, size)
        with self._mask_lock:
            cached = self._mask_cache.get(key)
        if cached is not None:
            return cached
        from facefill.io.masks import read_mask

        mask = read_mask(path, image_size=size, options=self.settings.mask_options)
        mask.setflags(write=False)
        with self._mask_lock:
            self._mask_cache[key] = mask
            while len(self._mask_cache) > MASK_CACHE_SIZE:
                self._mask_cache.pop(next(iter(self._mask_cache)))
        return mask

    def process(self, batch: list[tuple[WorkItem, _Loaded]]) -> list[np.ndarray]:
        """Fill each image; same-size neighbours run as one tensor batch."""
        results: list[np.ndarray] = []
        start = 0
        while start < len(batch):
            stop = start + 1
            while stop < len(batch) and batch[stop][1].image.size == batch[start][1].image.size:
                stop += 1
            results.extend(self._fill_group(batch[start:stop]))
            start = stop
        return results

    def _fill_group(self, group: list[tuple[WorkItem, _Loaded]]) -> list[np.ndarray]:
        import torch

        todo = [i for i, (_, loaded) in enumerate(group) if loaded.hole_ratio > 0]
        filled: dict[int, np.ndarray] = {}
        if todo:
            rgb = np.stack([group[i][1].image.float_rgb() for i in todo])
            images = torch.from_numpy(rgb).permute(0, 3, 1, 2)
            masks = torch.from_numpy(np.stack([group[i][1].mask for i in todo]))[:, None]
            seed = item_seed(self.settings.seed, group[todo[0]][0].name)
            out = self.pipeline.run(images, masks, seed=seed).permute(0, 2, 3, 1).numpy()
            filled = {i: out[k] for k, i in enumerate(todo)}
        results = []
        for i, (_, loaded) in enumerate(group):
            if i in filled:
                results.append(to_source_dtype(filled[i], loaded.image.rgb, self._weights(loaded.mask)))
            else:
                results.append(loaded.image.rgb)
        return results

    def _weights(self, mask: np.ndarray) -> np.ndarray:
        if self.settings.feather <= 0:
            return mask
        from facefill.masks.ops import feather

        return feather(mask, self.settings.feather)

    def save(self, item: WorkItem, loaded: _Loaded, result: np.ndarray, target: Path) -> dict[str, Any]:
        from facefill.io.images import write_image

        fmt = item.output.suffix.lstrip(".")
        write_image(target, result, like=loaded.image, format=fmt, quality=self.settings.quality)
        fields: dict[str, Any] = {
            "hole_ratio": loaded.hole_ratio,
            "seed": item_seed(self.settings.seed, item.name),
            "image_size": {"width": loaded.image.size[1], "height": loaded.image.size[0]},
        }
        if loaded.warnings:
            fields["warnings"] = loaded.warnings
        return fields
