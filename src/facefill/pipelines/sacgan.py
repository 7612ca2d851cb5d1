"""Registers `sacgan`: attribute- and exemplar-controlled face inpainting (specs/inpaint.md §2.7).

Tensors in, tensors out (`sacgan_fill`): image N×3×128×128 in [0,1], mask N×1×128×128 with
1 = hole (the interface's polarity, which is also SAC-GAN's: nothing to invert, only binarise);
the edge converts to [-1, 1] and back and composites out·m + image·(1−m).

* `--attribute CLASS`: S = mapper(F(x·(1−m), m), CLASS) — the released, label-driven path.
* `--exemplar REF`: F_ref = encoder(exemplar, all-zero mask), S_ref = mapper(F_ref, exemplar's
  label); the decoder decodes the masked source's F and skips with S_ref. The exemplar's label is
  `--attribute` when given with it (the exemplar's class), else measured on the exemplar by the
  class recipe (`sacgan_classes`, dlib landmarks). The exemplar must be framed like the source:
  both are FFHQ-aligned face crops at 128² when the job aligns faces.
* neither: the mean of the class codes (no attribute pushed either way).

Weights: `sacgan` in weights.toml (trained by `facefill train --recipe sacgan`, see
training/recipes/sacgan.py); the export stores the class names (`domains`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from facefill.errors import UsageError
from facefill.pipelines.registry import InpainterSpec, register_inpainter
from facefill.pipelines.requests import InpaintRequest
from facefill.runtime.context import RunContext

MODEL_NAME = "sacgan"
NATIVE_SIZE = 128

ExemplarLabeler = Callable[[torch.Tensor], Sequence[str]]  # N×3×S×S [0,1] -> a class name per item


def to_model_range(image: torch.Tensor) -> torch.Tensor:
    return image * 2 - 1


def from_model_range(image: torch.Tensor) -> torch.Tensor:
    return ((image + 1) / 2).clamp(0, 1)


def class_codes(names: Sequence[str | None], domains: Sequence[str], like: torch.Tensor) -> torch.Tensor:
    """N×num_domains label vectors: one-hot for a class name, the uniform mix for None."""
    codes = torch.full((len(names), len(domains)), 1.0 / len(domains), dtype=like.dtype, device=like.device)
    for i, name in enumerate(names):
        if name is None:
            continue
        if name not in domains:
            raise UsageError(f"--attribute {name!r}: sacgan knows the classes {', '.join(domains)}")
        codes[i] = 0
        codes[i, list(domains).index(name)] = 1
    return codes


def sacgan_fill(
    generator: torch.nn.Module,
    image: torch.Tensor,
    mask: torch.Tensor,
    label: torch.Tensor,
    exemplar: torch.Tensor | None = None,
) -> torch.Tensor:
    """Composite N×3×H×W in [0,1]. `label`: the target class (attribute path) or, with `exemplar`,
    the exemplar's class (int64 N or N×num_domains codes)."""
    hole = (mask > 0.5).to(image.dtype)
    x = to_model_range(image)
    if exemplar is None:
        raw = generator(x, hole, label)
    else:
        if exemplar.shape[-2:] != image.shape[-2:]:
            exemplar = F.interpolate(exemplar, size=image.shape[-2:], mode="bilinear", antialias=True)
        raw = generator.fill_from_exemplar(x, hole, to_model_range(exemplar), label)
    return from_model_range(raw) * hole + image * (1 - hole)


def landmark_labeler(exemplars: torch.Tensor) -> list[str]:
    """The class recipe on each exemplar (dlib HOG face + 68 landmarks); nearest side if ambiguous."""
    import numpy as np

    from facefill.errors import FaceNotFoundError
    from facefill.faces.roundtrip import FaceSearch
    from facefill.pipelines.sacgan_classes import mouth_class, mouth_measure

    search = FaceSearch(choice="largest")
    names = []
    for i, plane in enumerate(exemplars):
        photo = (plane.permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        try:
            face = search.find(photo, f"exemplar {i}")[0]
        except FaceNotFoundError:
            raise UsageError(
                f"exemplar {i}: no face found to tell its class; pass its class with --attribute "
                "(mouth_closed or mouth_open)"
            ) from None
        names.append(mouth_class(mouth_measure(face.landmarks), strict=False))
    return names


def align_exemplar(photo, size: int = NATIVE_SIZE):
    """The exemplar framed like an aligned source: its largest face FFHQ-aligned at size×size.

    `photo`: H×W×3 float32 in [0,1] (the exemplar file as read, full resolution). Without a face
    (or already a tight crop dlib cannot find) it falls back to a central square resized to size.
    """
    import numpy as np

    from facefill.errors import FaceNotFoundError
    from facefill.faces.roundtrip import FaceSearch, align_crops

    rgb8 = (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)
    try:
        face = FaceSearch(choice="largest").find(rgb8, "exemplar")[0]
        return align_crops(photo, [face], size)[0].pixels()[:, :, :3]
    except FaceNotFoundError:
        import cv2

        h, w = photo.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = photo[top : top + side, left : left + side]
        return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class SACGANInpainter:
    """The `fill(request)` callable of the registry contract around a loaded SACGANGenerator."""

    generator: torch.nn.Module
    exemplar_labeler: ExemplarLabeler = landmark_labeler

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(self.generator.domains)

    @torch.inference_mode()
    def __call__(self, request: InpaintRequest) -> torch.Tensor:
        names: Sequence[str | None] = request.attribute or (None,) * len(request)
        if request.exemplar is not None and any(n is None for n in names):
            measured = self.exemplar_labeler(request.exemplar)
            names = [given if given is not None else m for given, m in zip(names, measured, strict=True)]
        label = class_codes(names, self.domains, request.image)
        side = int(getattr(self.generator, "img_size", NATIVE_SIZE))
        size = tuple(request.image.shape[-2:])
        if size == (side, side):
            return sacgan_fill(self.generator, request.image, request.mask, label, request.exemplar)
        # a network trained at another size (e.g. a 64² experiment): run at its size, resize back
        image = F.interpolate(request.image, size=(side, side), mode="bilinear", antialias=True)
        mask = (F.interpolate(request.mask, size=(side, side), mode="bilinear") > 0).to(image.dtype)
        out = sacgan_fill(self.generator, image, mask, label, request.exemplar)
        return F.interpolate(out, size=size, mode="bilinear", antialias=True).clamp(0, 1)


def trained_classes(context: RunContext) -> tuple[str, ...]:
    """The class names stored with the weights `--attribute` would use (the export's `domains`)."""
    import json

    from facefill.weights import resolve
    from facefill.weights.safe_load import detect_format, safetensors_metadata

    path = resolve(MODEL_NAME, context)
    meta = safetensors_metadata(path) if detect_format(path) == "safetensors" else {}
    if "domains" not in meta:
        return tuple(_load(context).domains)  # an original checkpoint: its classes are its indices
    return tuple(json.loads(meta["domains"]))


def _load(context: RunContext) -> SACGANInpainter:
    from facefill.pipelines.pretrained import load_pretrained

    return SACGANInpainter(load_pretrained(MODEL_NAME, context))


register_inpainter(
    InpainterSpec(
        name=MODEL_NAME,
        description="SAC-GAN (ACCV 2022): face inpainting controlled by an exemplar face or a class "
        "(mouth_closed / mouth_open), 128² aligned faces",
        load=_load,
        native_size=NATIVE_SIZE,
        weights=(MODEL_NAME,),
        batchable=True,
        licence_note="architecture after easternCar/spatial_attribute_control_inpaint; trained on LFW",
        capabilities=frozenset({"exemplar", "attribute"}),
        attribute_classes=trained_classes,
    )
)
