"""MaskFaceGAN's attribute table (spec edit.md §1.4): classifier index, mode and parser regions.

Why: which logit is steered, whether the edit is local (masked MSE on skin, blend into skin +
region) or global (masked LPIPS on the whole face, e4e init) and which parser classes form the
masks all follow from the attribute name; one table keeps that in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from facefill.errors import UsageError
from facefill.models.attribute_classifier import ATTRIBUTES, attribute_index

LOCAL_ATTRIBUTES: frozenset[str] = frozenset({
    "wearing_lipstick", "mouth_slightly_open", "smiling", "bushy_eyebrows", "arched_eyebrows",
    "narrow_eyes", "pointy_nose", "big_nose", "black_hair", "brown_hair", "blond_hair",
    "gray_hair", "wavy_hair", "straight_hair",
})
GLOBAL_ATTRIBUTES: frozenset[str] = frozenset({"male", "young", "pale_skin"})
HAIR_COLOUR: frozenset[str] = frozenset({"black_hair", "brown_hair", "blond_hair", "gray_hair"})
HAIR_SHAPE: frozenset[str] = frozenset({"wavy_hair", "straight_hair"})

_REGIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("wearing_lipstick", "mouth_slightly_open", "smiling", "big_lips"), ("mouth",)),
    **dict.fromkeys(("bushy_eyebrows", "arched_eyebrows"), ("eyebrows",)),
    "narrow_eyes": ("eyes",),
    **dict.fromkeys(("pointy_nose", "big_nose"), ("nose",)),
    **dict.fromkeys(tuple(HAIR_COLOUR | HAIR_SHAPE), ("hair",)),
}
DEFAULT_REGIONS: tuple[str, ...] = ("mouth", "eyebrows", "eyes", "hair", "nose", "ears")
FACE_CLASSES: tuple[str, ...] = ("mouth", "eyebrows", "eyes", "hair", "nose", "skin", "ears", "belowface")


@dataclass(frozen=True)
class AttributeSpec:
    """What one edit needs to know about its attribute(s)."""

    names: tuple[str, ...]
    indices: tuple[int, ...]      # classifier logits, `ATTRIBUTES` order
    local: bool                   # False = global mode
    regions: tuple[str, ...]      # target parser classes
    hair: bool                    # seg (shape) loss is kept only for hair attributes
    update_shape: bool            # hair shape: ears join recon/blend/shape, shape mask is dynamic


def attribute_spec(names: str | tuple[str, ...] | list[str], force_global: bool = False) -> AttributeSpec:
    """The spec for one attribute or several edited together (§1.4 rules applied to their union).

    Several attributes run locally only if all are local; their regions are united.
    `force_global` makes a local attribute run in global mode (the reference's dead flag, working).
    """
    names = (names,) if isinstance(names, str) else tuple(names)
    if not names:
        raise UsageError("--attribute: give at least one attribute")
    for name in names:
        if name not in ATTRIBUTES:
            known = ", ".join(ATTRIBUTES)
            raise UsageError(f"--attribute {name!r} is not a classifier attribute; one of: {known}")
    regions: list[str] = []
    for name in names:
        for region in _REGIONS.get(name, DEFAULT_REGIONS):
            if region not in regions:
                regions.append(region)
    local = all(n in LOCAL_ATTRIBUTES for n in names) and not force_global
    hair = any(n in HAIR_COLOUR | HAIR_SHAPE for n in names)
    return AttributeSpec(
        names=names, indices=tuple(attribute_index(n) for n in names), local=local,
        regions=tuple(regions), hair=hair, update_shape=any(n in HAIR_SHAPE for n in names),
    )
