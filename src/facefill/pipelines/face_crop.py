"""Aligned-face crop strategy: fixed-resolution face models see an FFHQ-aligned face, not a box.

Models trained on aligned faces (FFHQ / CelebA-HQ framing) fill far better when the hole is shown
to them the same way. For each image this strategy finds the faces, picks the one whose aligned
square holds the whole hole (away from the square's edges), warps image and hole into that
square at the model's native size, runs the model, and warps the prediction back through the
exact inverse. Only hole pixels of the prediction are used (the pipeline composites). Images
without a suitable face (no face, non-face images, a hole outside every face square) fall back to
the mask-bbox strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from facefill.pipelines.crops import CropStrategy, MaskBoxCrop, NativeFill


@dataclass
class AlignedFaceCrop:
    """Crop strategy (see pipelines.crops.CropStrategy) on the FFHQ-aligned face holding the hole.

    `edge_margin`: hole pixels must map at least this fraction of the crop side inside it.
    `last_used` records, per image of the last call, "face" or "fallback" (for reports and tests).
    """

    fallback: CropStrategy = field(default_factory=MaskBoxCrop)
    detector: str = "hog"
    upsample: int = 1
    edge_margin: float = 0.03
    last_used: list[str] = field(default_factory=list)

    def __call__(
        self, image: torch.Tensor, mask: torch.Tensor, fill: NativeFill, native_size: int
    ) -> torch.Tensor:
        prediction = image.clone()
        self.last_used = []
        for n in range(image.shape[0]):
            photo = image[n].permute(1, 2, 0).detach().cpu().numpy().astype(np.float32)
            holes = mask[n, 0].detach().cpu().numpy() > 0.5
            filled = self._fill_on_face(photo, holes, fill, native_size, image)
            if filled is None:
                self.last_used.append("fallback")
                prediction[n : n + 1] = self.fallback(image[n : n + 1], mask[n : n + 1], fill, native_size)
            else:
                self.last_used.append("face")
                prediction[n] = torch.from_numpy(filled).permute(2, 0, 1).to(prediction)
        return prediction

    def _fill_on_face(
        self, photo: np.ndarray, holes: np.ndarray, fill: NativeFill, size: int, like: torch.Tensor
    ) -> np.ndarray | None:
        import cv2

        from facefill.errors import FaceNotFoundError
        from facefill.faces.align import align_face, apply_matrix, ffhq_quad, quad_matrix
        from facefill.faces.find import find_faces
        from facefill.faces.paste import paste_back

        if not holes.any():
            return photo
        try:
            faces = find_faces(photo, choice="all", detector=self.detector, upsample=self.upsample)
        except FaceNotFoundError:
            return None
        ys, xs = np.nonzero(holes)
        hole_points = np.stack([xs, ys], 1).astype(np.float64)
        best: tuple[float, Any] | None = None
        for face in faces:
            matrix = quad_matrix(ffhq_quad(face.landmarks), size)
            in_crop = apply_matrix(np.linalg.inv(matrix), hole_points)
            lo, hi = self.edge_margin * size - 0.5, (1 - self.edge_margin) * size - 0.5
            if in_crop.min() < lo or in_crop.max() > hi:
                continue
            spread = float(np.abs(in_crop - (size - 1) / 2).max())  # prefer the face centred on the hole
            if best is None or spread < best[0]:
                best = (spread, face)
        if best is None:
            return None
        aligned = align_face(photo, best[1].landmarks, size)
        # Any crop pixel touching a hole pixel is a hole for the model (conservative), grown by 1 px.
        crop_holes = cv2.warpAffine(
            holes.astype(np.float32),
            aligned.matrix[:2],
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderValue=0.0,
        )
        crop_holes = cv2.dilate((crop_holes > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(
            np.float32
        )
        crop_img = torch.from_numpy(np.ascontiguousarray(aligned.image.transpose(2, 0, 1)))[None].to(like)
        crop_mask = torch.from_numpy(crop_holes)[None, None].to(like)
        out = fill(crop_img, crop_mask)[0].permute(1, 2, 0).detach().cpu().numpy().astype(np.float32)
        return paste_back(photo, out, aligned.matrix, feather=0.0)
