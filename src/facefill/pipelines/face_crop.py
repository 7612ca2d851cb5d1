"""Aligned-face crop strategy: fixed-resolution face models see an FFHQ-aligned face, not a box.

Models trained on aligned faces (FFHQ / CelebA-HQ framing) fill far better when the hole is shown
to them the same way. For each image this strategy finds the faces and picks the one whose aligned
square holds the whole hole (away from the square's edges); then `faces.roundtrip.round_trip`
warps every chosen face and its hole into the model's native square, runs the model ONCE on all
of them (one `fill` call on a K-image request: per-item conditioning and generators follow their
items), and pastes only the hole pixels back through the exact inverse. Images without a suitable
face (no face, non-face images, a hole outside every face square) go to the fallback strategy,
together, in one call. The pipeline has zeroed the hole pixels already; when that hides the face
from the detector, faces are searched again on the photo with its hole Telea-filled from the
known pixels, so nothing that was under the hole is ever used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from facefill.pipelines.crops import CropStrategy, MaskBoxCrop, NativeFill
from facefill.pipelines.requests import InpaintRequest

DETECT_FILL_SIDE = 640  # longest side at which a hole is Telea-filled for face detection


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
        search = FaceSearch(choice="all", detector=self.detector, upsample=self.upsample)
        # The zeroed photo first (a black mouth still reads as a mouth), then the hole filled
        # from its surroundings (what an irregular hole over the eyes needs: 35 vs 15 of 40 LFW faces).
        for view in (lambda: photo, lambda: detection_view(photo, hole)):
            try:
                face = face_holding(search.find(view()), hole, size, self.edge_margin)
            except FaceNotFoundError:
                continue
            if face is not None:
                return face
        return None


def detection_view(photo: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """uint8 photo whose (zeroed) hole is Telea-filled from the known pixels, for the face detector.

    A black hole over the eyes or mouth hides the face from dlib; a classical fill built only from
    the hole's surroundings brings it back without using any pixel that was under the hole. Large
    photos are filled at DETECT_FILL_SIDE px (Telea's cost grows with the hole's area).
    """
    import cv2

    from facefill.faces.image8 import to_rgb8
    from facefill.pipelines.classical import telea_fill

    rgb = to_rgb8(photo)
    h, w = hole.shape
    scale = min(1.0, DETECT_FILL_SIDE / max(h, w))
    if scale == 1.0:
        filled = telea_fill(rgb, hole)
    else:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        # Area-averaged hole > 0: every small pixel the zeroed hole bled into is filled too.
        small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        small = telea_fill(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), small_hole)
        filled = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.where(hole[..., None], filled, rgb)
