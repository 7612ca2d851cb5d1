"""Aligned-face crop strategy: fixed-resolution face models see an FFHQ-aligned face, not a box.

Models trained on aligned faces (FFHQ / CelebA-HQ framing) fill far better when the hole is shown
to them the same way. For each image this strategy finds the faces and picks the one whose aligned
square holds the whole hole (away from the square's edges); then `faces.roundtrip.round_trip`
warps every chosen face and its hole into the model's native square, runs the model ONCE on all
of them (one `fill` call on a K-image request: per-item conditioning and generators follow their
items), and pastes only the hole pixels back through the exact inverse. Images without a suitable
face (no face, non-face images, a hole outside every face square) go to the fallback strategy,
together, in one call. The pipeline has zeroed the hole pixels already, so faces are found on
what the model may see.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from facefill.pipelines.crops import CropStrategy, MaskBoxCrop, NativeFill
from facefill.pipelines.requests import InpaintRequest


@dataclass
class AlignedFaceCrop:
    """Crop strategy (see pipelines.crops.CropStrategy) on the FFHQ-aligned face holding the hole.

    `edge_margin`: hole pixels must map at least this fraction of the crop side inside it.
    `last_used` records, per image of the last call, "face", "fallback" or "empty" (no hole).
    """

    fallback: CropStrategy = field(default_factory=MaskBoxCrop)
    detector: str = "hog"
    upsample: int = 1
    edge_margin: float = 0.03
    last_used: list[str] = field(default_factory=list)

    def __call__(self, request: InpaintRequest, fill: NativeFill, native_size: int) -> torch.Tensor:
        from facefill.faces.roundtrip import round_trip

        image, mask = request.image, request.mask
        prediction = image.clone()
        photos = [
            image[n].permute(1, 2, 0).detach().cpu().numpy().astype(np.float32) for n in range(len(image))
        ]
        holes = [mask[n, 0].detach().cpu().numpy() > 0.5 for n in range(len(mask))]
        faces = [self._face_for(photo, hole, native_size) for photo, hole in zip(photos, holes, strict=True)]
        self.last_used = [
            "empty" if not hole.any() else "fallback" if face is None else "face"
            for hole, face in zip(holes, faces, strict=True)
        ]
        on_face = [n for n, used in enumerate(self.last_used) if used == "face"]
        if on_face:

            def model(crops: np.ndarray, crop_holes: np.ndarray) -> np.ndarray:
                pixels = torch.from_numpy(crops).permute(0, 3, 1, 2).to(image)
                holes_t = torch.from_numpy(crop_holes)[:, None].to(image)
                out = fill(request.select(on_face).with_pixels(pixels, holes_t))
                return out.permute(0, 2, 3, 1).detach().cpu().float().numpy()

            trip = round_trip(
                [photos[n] for n in on_face],
                model,
                size=native_size,
                faces=[[faces[n]] for n in on_face],
                regions=[holes[n].astype(np.float32) for n in on_face],
            )
            for n, pasted in zip(on_face, trip.photos, strict=True):
                prediction[n] = torch.from_numpy(pasted).permute(2, 0, 1).to(prediction)
        rest = [n for n, used in enumerate(self.last_used) if used == "fallback"]
        if rest:
            idx = torch.tensor(rest, device=image.device)
            prediction[idx] = self.fallback(request.select(rest), fill, native_size).to(prediction)
        return prediction

    def _face_for(self, photo: np.ndarray, hole: np.ndarray, size: int):
        """The face whose aligned square holds the hole, or None (then the fallback fills it)."""
        from facefill.errors import FaceNotFoundError
        from facefill.faces.roundtrip import FaceSearch, face_holding

        if not hole.any():
            return None
        try:
            found = FaceSearch(choice="all", detector=self.detector, upsample=self.upsample).find(photo)
        except FaceNotFoundError:
            return None
        return face_holding(found, hole, size, self.edge_margin)
