"""The `facefill inpaint` processor: read image, mask (and exemplar), run `InpaintPipeline`, write.

Each item gets its own `torch.Generator` seeded from (run seed, item name), so a stochastic model
gives an item the same fill alone or in any batch. The pipeline composites (only hole pixels
change; a PNG output equals its input bit for bit outside the hole); 16-bit sources are filled in
float and written back in 16 bits (when the output format holds 16 bits). Alpha, EXIF and ICC
follow via `write_image(like=)`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facefill.jobs.plan import WorkItem
from facefill.runtime.context import DEFAULT_CONTEXT, RunContext
from facefill.runtime.seed import item_seed

INVERTED_HOLE_RATIO = 0.9
MASK_CACHE_SIZE = 4


@dataclass
class InpaintSettings:
    """What `facefill inpaint` asks for; device, seed and weights are the run context's."""

    model: str
    feather: int = 0
    quality: int = 95
    max_pixels: int | None = None
    mask_options: Any = None  # facefill.io.masks.MaskOptions
    align_faces: bool = True  # native-size models run on the FFHQ-aligned face (pipelines.face_crop)
    attribute: str | None = None  # --attribute: the class every item is filled as (capability "attribute")


@dataclass
class _Loaded:
    image: Any  # facefill.io.images.LoadedImage
    mask: np.ndarray  # float32 H×W {0,1}
    hole_ratio: float
    warnings: list[str]
    exemplar: np.ndarray | None = None  # float32 h×w×3 in [0,1], for models that take one


def _weights_sha256(names: tuple[str, ...], assets: tuple[str, ...], context: RunContext) -> dict[str, str]:
    """sha256 of each checkpoint the model uses (honours --weights overrides), by registry name or,
    for weights shipped in the package, by asset file name; unknown ones omitted."""
    from importlib import resources

    from facefill.io.files import sha256_file

    hashes: dict[str, str | None] = {}
    if names:
        from facefill.weights import sha256_of

        hashes = {name: sha256_of(name, context) for name in names}
    for asset in assets:
        path = resources.files("facefill") / "assets" / asset
        hashes[asset] = sha256_file(str(path)) if path.is_file() else None
    return {name: sha for name, sha in hashes.items() if sha}


def to_source_dtype(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Float [0,1] result -> the integer dtype of `like` (the source pixels).

    The pipeline composites (`pipelines.compose`): outside the hole `result` holds the source's own
    values v/top, and float32 maps them back to v exactly (65535 * 2**-24 << 0.5), so those pixels
    come out bit for bit equal to the input.
    """
    top = 65535 if like.dtype == np.uint16 else 255
    scaled = np.rint(result.astype(np.float32, copy=False) * np.float32(top))
    return np.clip(scaled, 0, top).astype(like.dtype)


def _face_crop() -> Any:
    from facefill.pipelines.face_crop import AlignedFaceCrop

    return AlignedFaceCrop()


class InpaintProcessor:
    """Processor (see jobs.processor) for `facefill inpaint`, built from (settings, context)."""

    description = "inpaint"

    def __init__(
        self,
        settings: InpaintSettings,
        warn: Callable[[str], None] | None = None,
        *,
        context: RunContext = DEFAULT_CONTEXT,
    ) -> None:
        from facefill.pipelines.inpaint import InpaintPipeline

        self.settings = settings
        self.context = context
        self.warn = warn or (lambda message: None)
        self._mask_cache: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
        self._mask_lock = threading.Lock()
        self.pipeline = InpaintPipeline(
            settings.model,
            context,
            feather=settings.feather,
            crop_strategy=_face_crop() if settings.align_faces else None,
        )
        self.takes_exemplar = "exemplar" in self.pipeline.spec.capabilities

    def run_info(self) -> dict[str, Any]:
        spec = self.pipeline.spec
        info: dict[str, Any] = {"model": spec.name}
        shas = _weights_sha256(spec.weights, spec.assets, self.context)
        if shas:
            info["weights_sha256"] = shas
        info["device"] = str(self.pipeline.device)
        info["dtype"] = str(self.pipeline.dtype).replace("torch.", "")
        info["run_seed"] = self.context.seed
        if self.settings.attribute is not None:
            info["attribute"] = self.settings.attribute
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
        exemplar = None
        if item.exemplar is not None and self.takes_exemplar:
            exemplar = read_image(item.exemplar, max_pixels=self.settings.max_pixels).float_rgb()
        return _Loaded(image, mask, ratio, notes, exemplar)

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
        """Fill each image; neighbours of one size (and with or without an exemplar) run as one batch."""
        results: list[np.ndarray] = []
        start = 0
        while start < len(batch):
            stop = start + 1
            while stop < len(batch) and self._group_key(batch[stop][1]) == self._group_key(batch[start][1]):
                stop += 1
            results.extend(self._fill_group(batch[start:stop]))
            start = stop
        return results

    @staticmethod
    def _group_key(loaded: _Loaded) -> tuple[Any, bool]:
        return loaded.image.size, loaded.exemplar is not None

    def _fill_group(self, group: list[tuple[WorkItem, _Loaded]]) -> list[np.ndarray]:
        import torch

        from facefill.pipelines.requests import InpaintRequest
        from facefill.runtime.seed import item_generator

        todo = [i for i, (_, loaded) in enumerate(group) if loaded.hole_ratio > 0]
        filled: dict[int, np.ndarray] = {}
        if todo:
            rgb = np.stack([group[i][1].image.float_rgb() for i in todo])
            request = InpaintRequest(
                image=torch.from_numpy(rgb).permute(0, 3, 1, 2),
                mask=torch.from_numpy(np.stack([group[i][1].mask for i in todo]))[:, None],
                exemplar=self._exemplars([group[i][1] for i in todo]),
                attribute=None if self.settings.attribute is None else (self.settings.attribute,) * len(todo),
                generators=tuple(item_generator(self.context.seed, group[i][0].name) for i in todo),
            )
            out = self.pipeline.run(request).permute(0, 2, 3, 1).numpy()
            filled = {i: out[k] for k, i in enumerate(todo)}
        return [
            to_source_dtype(filled[i], loaded.image.rgb) if i in filled else loaded.image.rgb
            for i, (_, loaded) in enumerate(group)
        ]

    def _exemplars(self, loaded: list[_Loaded]) -> Any:
        """N×3×S×S exemplar batch (S: the model's native size, else the first exemplar's), or None."""
        if loaded[0].exemplar is None:
            return None
        import torch

        from facefill.pipelines.sizing import resize

        side = self.pipeline.spec.native_size
        size = (side, side) if side else loaded[0].exemplar.shape[:2]
        exemplars = [x.exemplar for x in loaded]
        if side and self.settings.align_faces:  # framed like the source: its aligned face crop
            from facefill.pipelines.sacgan import align_exemplar

            exemplars = [align_exemplar(x, side) for x in exemplars]
        planes = [torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None] for x in exemplars]
        return torch.cat([resize(p, tuple(size)) for p in planes])

    def save(self, item: WorkItem, loaded: _Loaded, result: np.ndarray, target: Path) -> dict[str, Any]:
        from facefill.io.images import write_image

        fmt = item.output.suffix.lstrip(".")
        write_image(target, result, like=loaded.image, format=fmt, quality=self.settings.quality)
        fields: dict[str, Any] = {
            "hole_ratio": loaded.hole_ratio,
            "seed": item_seed(self.context.seed, item.name),
            "image_size": {"width": loaded.image.size[1], "height": loaded.image.size[0]},
        }
        if loaded.warnings:
            fields["warnings"] = loaded.warnings
        return fields
