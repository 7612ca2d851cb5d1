"""Where each accessory sits on an FFHQ-aligned face, and a procedural template image of it.

FFHQ alignment fixes the geometry: with eye-to-eye e and eye-to-mouth m (m ≈ 1.15 e) the crop side
is 4.2 e, the eyes lie at (0.381, 0.473) and (0.619, 0.473) of the side and the mouth centre at
(0.5, 0.747). So on an aligned face the regions below need no parser or landmarks.

Templates replace SD-GAN's third-party PNGs (not redistributable): dark lenses (sunglasses), a thin
frame (glasses), a pale blue surgical mask; RGB on black, as the fusion net's `mask_image`
(SD-GAN's exact template rendering is in its unpublished data code: UNKNOWN).
"""

from __future__ import annotations

import torch

ATTRIBUTES = ("mask", "glasses", "sunglasses")
EYES = ((0.381, 0.473), (0.619, 0.473))
LENS_RADII = (0.098, 0.064)  # half-width, half-height of a lens, fraction of the side
FRAME_WIDTH = 0.012
MASK_BOX = (0.255, 0.745, 0.575, 0.935)  # x0, x1, y0 (nose), y1 (below the chin)
MASK_COLOUR = (0.70, 0.82, 0.92)
LENS_COLOUR = (0.06, 0.06, 0.07)
FRAME_COLOUR = (0.10, 0.08, 0.07)


def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    return xs, ys


def _soft(signed: torch.Tensor, size: int) -> torch.Tensor:
    """Inside (signed < 0) = 1 with a one-pixel anti-aliased edge."""
    return (0.5 - signed * size).clamp(0, 1)


def _lens_distance(xs: torch.Tensor, ys: torch.Tensor, grow: float = 0.0) -> torch.Tensor:
    """Signed distance-like value to the two lens ellipses (negative inside), in side units."""
    rx, ry = LENS_RADII[0] + grow, LENS_RADII[1] + grow
    dists = [(torch.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2) - 1) * min(rx, ry) for cx, cy in EYES]
    return torch.minimum(*dists)


def _bridge(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    x0, x1 = EYES[0][0] + LENS_RADII[0] * 0.9, EYES[1][0] - LENS_RADII[0] * 0.9
    y = EYES[0][1] - LENS_RADII[1] * 0.35
    return torch.maximum(torch.maximum(x0 - xs, xs - x1), (ys - y).abs() - FRAME_WIDTH / 2)


def _mask_distance(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """A rounded shield: a box over nose-to-chin whose lower half is an ellipse (the jaw line)."""
    x0, x1, y0, y1 = MASK_BOX
    cx, half_w = (x0 + x1) / 2, (x1 - x0) / 2
    mid = (y0 + y1) / 2
    box = torch.maximum(torch.maximum(x0 - xs, xs - x1), torch.maximum(y0 - ys, ys - mid))
    jaw = (torch.sqrt(((xs - cx) / half_w) ** 2 + ((ys - mid) / (y1 - mid)) ** 2) - 1) * (y1 - mid)
    jaw = torch.where(ys >= mid, jaw, torch.full_like(jaw, 1.0))
    return torch.minimum(box, jaw)


def accessory_region(attribute: str, size: int) -> torch.Tensor:
    """(size, size) in [0,1]: where the accessory (and what it covers) is, 1 = replaced by the edit."""
    xs, ys = _grid(size)
    if attribute == "mask":
        return _soft(_mask_distance(xs, ys) - 0.02, size)
    if attribute in ("glasses", "sunglasses"):
        lenses = _lens_distance(xs, ys, grow=0.03)
        return _soft(torch.minimum(lenses, _bridge(xs, ys) - 0.02), size)
    raise ValueError(f"unknown attribute {attribute!r}; use one of {', '.join(ATTRIBUTES)}")


def accessory_template(attribute: str, size: int) -> torch.Tensor:
    """(3, size, size) RGB in [0,1]: the accessory drawn on black at its place on the aligned face."""
    xs, ys = _grid(size)
    if attribute == "mask":
        alpha, colour = _soft(_mask_distance(xs, ys), size), MASK_COLOUR
    elif attribute == "sunglasses":
        alpha = torch.maximum(_soft(_lens_distance(xs, ys), size), _soft(_bridge(xs, ys), size))
        colour = LENS_COLOUR
    elif attribute == "glasses":
        lens = _lens_distance(xs, ys)
        ring = _soft(lens.abs() - FRAME_WIDTH / 2, size)
        alpha, colour = torch.maximum(ring, _soft(_bridge(xs, ys), size)), FRAME_COLOUR
    else:
        raise ValueError(f"unknown attribute {attribute!r}; use one of {', '.join(ATTRIBUTES)}")
    return (torch.tensor(colour).reshape(3, 1, 1) * alpha).clamp(0, 1)


def blend_weights(attribute: str, size: int, feather: float = 0.025) -> torch.Tensor:
    """(size, size) soft paste weights: the region, blurred by `feather` of the side (a smooth seam)."""
    region = accessory_region(attribute, size)
    sigma = max(feather * size, 0.5)
    radius = int(3 * sigma)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    taps = taps / taps.sum()
    x = region[None, None]
    x = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (radius, radius, 0, 0)), taps.reshape(1, 1, 1, -1)
    )
    x = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (0, 0, radius, radius)), taps.reshape(1, 1, -1, 1)
    )
    return torch.maximum(x[0, 0], region).clamp(0, 1)
