"""Soft region masks for an edit (spec edit.md §1.5): sums of parser class probabilities.

Why: MaskFaceGAN never thresholds — every mask is a sum of softmax probabilities, computed once
from the input at the parser's 512² and bilinearly resized to the image size (the shape mask stays
at 512). Dynamic masking later re-derives recon/dynamic/shape from the *original* masks.
Parsers are given as callables: [0,1] images (N,3,H,W) -> probabilities (N,9,512,512) in
MaskFaceGAN class order (`PARSER_CLASSES`); `bisenet_parser` adapts BiSeNet with the §1.15 map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from facefill.models.bisenet import BISENET_TO_MASKFACEGAN
from facefill.models.deeplab_parser import PARSER_CLASSES
from facefill.pipelines.edit.attributes import FACE_CLASSES, AttributeSpec

ParserFn = Callable[[torch.Tensor], torch.Tensor]
PARSE_SIZE = 512
BLEND_OPTIONS = ("include_skin", "no_skin")


def maskfacegan_parser(parser: torch.nn.Module) -> ParserFn:
    """The 9-class DeepLab parser as a ParserFn (area resize to 512, 2x-1, softmax)."""
    return lambda images: parser.probabilities(images)


def bisenet_parser(net: torch.nn.Module) -> ParserFn:
    """BiSeNet's 19 classes summed into MaskFaceGAN's 9 (spec §1.15), at 512²."""
    order = [BISENET_TO_MASKFACEGAN[name] for name in PARSER_CLASSES]

    def parse(images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != PARSE_SIZE:
            images = F.interpolate(images, size=(PARSE_SIZE, PARSE_SIZE), mode="area")
        probs = net.parse(images)
        return torch.cat([probs[:, list(idx)].sum(1, keepdim=True) for idx in order], dim=1)

    return parse


def class_sum(probs: torch.Tensor, classes: Sequence[str]) -> torch.Tensor:
    """(N,1,H,W) sum of the named classes' probabilities, each class counted once."""
    idx = sorted({PARSER_CLASSES.index(c) for c in classes})
    return probs[:, idx].sum(dim=1, keepdim=True)


def resize(mask: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (align_corners=False) up, area down: MaskFaceGAN's two resizes."""
    if mask.shape[-1] == size:
        return mask
    if size > mask.shape[-1]:
        return F.interpolate(mask, size=(size, size), mode="bilinear", align_corners=False)
    return F.interpolate(mask, size=(size, size), mode="area")


@dataclass
class EditMasks:
    """recon / blend / dynamic (N,1,S,S) at the image size; shape (N,1,512,512) or None (global)."""

    recon: torch.Tensor
    blend: torch.Tensor
    dynamic: torch.Tensor
    shape: torch.Tensor | None

    def at(self, size: int) -> EditMasks:
        """The same masks resized to `size` (shape stays at 512)."""
        return replace(self, recon=resize(self.recon, size), blend=resize(self.blend, size),
                       dynamic=resize(self.dynamic, size))

    def detach(self) -> EditMasks:
        return EditMasks(self.recon.detach().clone(), self.blend.detach().clone(),
                         self.dynamic.detach().clone(),
                         None if self.shape is None else self.shape.detach().clone())


def class_sets(spec: AttributeSpec, blend_option: str = "include_skin") -> dict[str, tuple[str, ...]]:
    """The parser classes of each mask (§1.5); `shape` is empty in global mode."""
    if blend_option not in BLEND_OPTIONS:
        raise ValueError(f"blend option {blend_option!r} not in {BLEND_OPTIONS}")
    if not spec.local:
        return {"recon": FACE_CLASSES, "blend": FACE_CLASSES, "dynamic": FACE_CLASSES, "shape": ()}
    ears = ("ears",) if spec.update_shape else ()
    skin = ("skin",) if blend_option == "include_skin" else ()
    return {"recon": ("skin", *ears), "blend": (*skin, *spec.regions, *ears),
            "dynamic": spec.regions, "shape": (*spec.regions, *ears)}


def image_masks(probs: torch.Tensor, spec: AttributeSpec, size: int,
                blend_option: str = "include_skin") -> EditMasks:
    """Masks from the input's parser probabilities (N,9,512,512), resized to `size`."""
    sets = class_sets(spec, blend_option)
    return EditMasks(
        recon=resize(class_sum(probs, sets["recon"]), size),
        blend=resize(class_sum(probs, sets["blend"]), size),
        dynamic=resize(class_sum(probs, sets["dynamic"]), size),
        shape=class_sum(probs, sets["shape"]) if sets["shape"] else None,
    )


def dynamic_update(original: EditMasks, current: EditMasks, generated_dynamic: torch.Tensor,
                   update_shape: bool) -> EditMasks:
    """§1.5 dynamic masking from the *original* masks and D = dynamic mask of the generated image."""
    d = resize(generated_dynamic, original.recon.shape[-1])
    shape = current.shape
    if update_shape and original.shape is not None:
        shape = (original.shape + resize(generated_dynamic, original.shape.shape[-1])).clamp(0, 1)
    return EditMasks(recon=(original.recon - d).clamp(0, 1), blend=current.blend,
                     dynamic=(original.dynamic + d).clamp(0, 1), shape=shape)
