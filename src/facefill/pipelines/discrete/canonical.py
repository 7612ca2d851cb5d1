"""SD-GAN's 3D input: unsup3d canonical maps of the face, 9 channels in [-1, 1].

SD-GAN crops the face for unsup3d with an MTCNN box (side 1.1 × box, centre moved down 15 % of the
half side) and resizes it to 64. On an FFHQ-aligned face that box is fixed, so it is a constant
crop here (UNSUP3D_CROP, estimated from the FFHQ geometry: box x 0.25–0.75, y 0.30–0.85).
Which three 3-channel maps form the 9 channels is in SD-GAN's unpublished data code (UNKNOWN);
facefill uses depth, normal and albedo (shape and texture, not lighting) — `CANONICAL_MAPS`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CANONICAL_MAPS = ("depth", "normal", "albedo")
UNSUP3D_CROP = (0.214, 0.332, 0.572)  # x0, y0, side as fractions of the aligned crop
UNSUP3D_INPUT = 64


def unsup3d_input(faces: torch.Tensor) -> torch.Tensor:
    """Aligned faces (N,3,S,S) in [0,1] -> unsup3d's 64×64 face crop in [-1,1]."""
    size = faces.shape[-1]
    x0, y0, side = (int(round(v * size)) for v in UNSUP3D_CROP)
    crop = faces[:, :, y0 : min(y0 + side, size), x0 : x0 + side]
    if crop.shape[-1] > UNSUP3D_INPUT * 4:  # as the demo: via 128 first, avoiding aliasing
        crop = F.interpolate(crop, (UNSUP3D_INPUT * 2,) * 2, mode="bilinear", align_corners=False)
    crop = F.interpolate(crop, (UNSUP3D_INPUT,) * 2, mode="bilinear", align_corners=False)
    return crop * 2 - 1


def canonical_input(unsup3d: torch.nn.Module, faces: torch.Tensor, maps: tuple[str, ...] = CANONICAL_MAPS):
    """(N, 3·len(maps), 128, 128) in [-1,1]: the chosen canonical maps, concatenated."""
    decomposed = unsup3d(unsup3d_input(faces))
    return torch.cat([decomposed[name] for name in maps], 1) * 2 - 1
