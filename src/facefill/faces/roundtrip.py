"""One face round trip: find faces, FFHQ-align them, process ALL crops as one batch, paste back.

Every command that works on aligned faces (inpaint's face crop, `align --paste-back`, eval,
`edit`, `synthesize-discrete`) goes through this module, so they share one geometry, one blend and
one set of warnings.

API (numpy, channel-last; photos may be uint8, uint16 or float in [0,1], H×W or H×W×C):

    FaceSearch(choice="largest", detector="hog", upsample=1, threshold=None, try_rotations=True)
        .find(photo, source) -> list[Face]          which faces (FaceNotFoundError when none)
    align_crops(photo, faces, size, *, photo_index=0, quads=None, feather=None) -> list[FaceCrop]
        FaceCrop: photo_index, face_index, face, aligned (faces.align.AlignedFace), .mask (the
        feathered face mask, size×size float32), .pixels() (float32 [0,1] crop), .matrix
    face_mask(crop_landmarks, size, feather_px=None) -> size×size float32: soft weights of the face
        region (hull of jaw, brows and forehead, feathered), 0 at the crop's edges: the blend
        (defined in faces.paste with change_weights and the UNCHANGED_TOL / FACE_MASK_* constants)
    region_in_crop(region, crop) -> size×size {0,1}: a photo-sized mask (a hole) seen in the crop
    face_holding(faces, region, size) -> Face | None: the face whose aligned square holds the region
    paste_crops(photo, crops, processed, *, regions=None, changed=None, keep_unchanged=True,
                warn=None, source="image") -> a pasted copy of photo (its dtype)
    round_trip(photos, process, *, size=1024, faces=None, regions=None, search=FaceSearch(),
               keep_unchanged=True, feather=None, warn=None, sources=None)
        -> RoundTrip(photos, crops, processed, errors)

e.g. an editor: `round_trip(photos, optimise, size=1024, warn=warn).photos`; inpaint:
`round_trip(photos, fill, size=256, faces=[[f] ...], regions=holes)`.

`process(crops, masks)` is called ONCE per round trip: crops N×S×S×C float32 in [0,1] (every face
of every photo), masks N×S×S float32 (the photo `regions` seen in each crop when given, else the
face masks). It returns N×S'×S'×C in [0,1] (any S': a 512 model on 1024 crops is fine), or a
pair (processed, changed) where `changed` (N×S'×S', 1 = changed) says which pixels it touched.

Paste-back weights: with `regions` (inpaint: the hole) exactly the region's photo pixels are
replaced. Otherwise the feathered face mask times "changed": the explicit mask, or (when
`keep_unchanged`) where |processed − original crop| exceeds UNCHANGED_TOL, ramping to full weight
at twice that. Pixels outside the face mask are never touched, so an unmodified crop pastes back
into an identical photo. A crop much smaller than its face in the photo is warned about (one line
per photo): the pasted face is softer than the original.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from facefill.errors import FacefillError, FaceNotFoundError
from facefill.faces.align import AlignedFace, align_face, apply_matrix, ffhq_quad, quad_matrix
from facefill.faces.face import Face
from facefill.faces.paste import change_weights, face_mask, paste_back, rescale_crop_matrix, resolution_loss

RESOLUTION_WARN_RATIO = 2.0  # warn when the face in the photo has this many more pixels per side

Process = Callable[[np.ndarray, np.ndarray], "np.ndarray | tuple[np.ndarray, np.ndarray]"]


@dataclass(frozen=True)
class FaceSearch:
    """How to find the faces of a photo (the `--face/--detector/...` options of every command)."""

    choice: str | int = "largest"
    detector: str = "hog"
    upsample: int = 1
    threshold: float | None = None
    try_rotations: bool = True

    def find(self, photo: np.ndarray, source: str = "image") -> list[Face]:
        from facefill.faces.find import find_faces

        return find_faces(
            photo,
            choice=self.choice,
            detector=self.detector,
            upsample=self.upsample,
            threshold=self.threshold,
            try_rotations=self.try_rotations,
            source=source,
        )


@dataclass(frozen=True)
class FaceCrop:
    """One aligned face of one photo of the batch; `mask` is its paste-back face mask (computed
    on first use; `feather` is its fade in crop pixels, None = FACE_MASK_FEATHER of the side)."""

    photo_index: int
    face_index: int
    face: Face
    aligned: AlignedFace
    feather: float | None = None

    @property
    def size(self) -> int:
        return self.aligned.size

    @property
    def matrix(self) -> np.ndarray:
        return self.aligned.matrix

    @cached_property
    def mask(self) -> np.ndarray:
        return face_mask(self.aligned.to_crop(self.face.landmarks), self.size, self.feather)

    def pixels(self) -> np.ndarray:
        """The crop as float32 in [0,1], S×S×C (C = the photo's channels)."""
        return to_unit(self.aligned.image)


def unit_scale(dtype: np.dtype) -> float:
    """The value of "1.0" in an image of this dtype (255, 65535, or 1 for floats)."""
    if dtype == np.uint16:
        return 65535.0
    return 255.0 if np.issubdtype(dtype, np.integer) else 1.0


def to_unit(image: np.ndarray) -> np.ndarray:
    """float32 H×W×C in [0,1] (a channel axis added to gray images)."""
    img = np.asarray(image)
    img = img[:, :, None] if img.ndim == 2 else img
    return img.astype(np.float32) / np.float32(unit_scale(img.dtype))


def align_crops(
    photo: np.ndarray,
    faces: Sequence[Face],
    size: int,
    *,
    photo_index: int = 0,
    quads: Sequence[np.ndarray] | None = None,
    feather: float | None = None,
) -> list[FaceCrop]:
    """FFHQ-aligned size×size crops of `faces` (with landmarks); `quads` re-renders stored squares;
    `feather`: the face masks' fade in crop pixels."""
    crops = []
    for index, face in enumerate(faces):
        if face.landmarks is None:
            raise ValueError("align_crops needs faces with 68 landmarks")
        quad = None if quads is None else quads[index]
        aligned = align_face(photo, face.landmarks, size, quad=quad)
        crops.append(FaceCrop(photo_index, index, face, aligned, feather))
    return crops


def region_in_crop(region: np.ndarray, crop: FaceCrop) -> np.ndarray:
    """A photo-sized mask in the crop: any crop pixel touching it counts, grown by 1 px."""
    size = crop.size
    warped = cv2.warpAffine(
        (np.asarray(region) > 0.5).astype(np.float32),
        crop.matrix[:2],
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderValue=0.0,
    )
    return cv2.dilate((warped > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)


def face_holding(
    faces: Sequence[Face], region: np.ndarray, size: int, edge_margin: float = 0.03
) -> Face | None:
    """The face whose aligned square holds all of `region` at least `edge_margin` inside its edges
    (the most centred one when several do), or None."""
    ys, xs = np.nonzero(np.asarray(region) > 0.5)
    if len(xs) == 0:
        return None
    points = np.stack([xs, ys], 1).astype(np.float64)
    lo, hi = edge_margin * size - 0.5, (1 - edge_margin) * size - 0.5
    best: tuple[float, Face] | None = None
    for face in faces:
        in_crop = apply_matrix(np.linalg.inv(quad_matrix(ffhq_quad(face.landmarks), size)), points)
        if in_crop.min() < lo or in_crop.max() > hi:
            continue
        spread = float(np.abs(in_crop - (size - 1) / 2).max())
        if best is None or spread < best[0]:
            best = (spread, face)
    return None if best is None else best[1]


def paste_crops(
    photo: np.ndarray,
    crops: Sequence[FaceCrop],
    processed: Sequence[np.ndarray],
    *,
    regions: np.ndarray | None = None,
    changed: Sequence[np.ndarray | None] | None = None,
    keep_unchanged: bool = True,
    warn: Callable[[str], None] | None = None,
    source: str = "image",
) -> np.ndarray:
    """`photo` with each processed crop (float [0,1], any square size) pasted back (see module doc)."""
    out = np.asarray(photo)
    scale = np.float32(unit_scale(out.dtype))
    worst = (0.0, 0, 0)
    for n, (crop, result) in enumerate(zip(crops, processed, strict=True)):
        result = np.asarray(result, dtype=np.float32)
        result = result[:, :, None] if result.ndim == 2 else result
        side = result.shape[0]
        matrix = crop.matrix if side == crop.size else rescale_crop_matrix(crop.matrix, crop.size, side)
        ratio = resolution_loss(matrix)
        worst = max(worst, (ratio, side, crop.face_index))
        pixels = np.clip(result, 0.0, 1.0) * scale
        if out.ndim == 2:
            pixels = pixels[:, :, 0]
        if regions is not None:
            out = paste_back(out, pixels, matrix, hole_mask=regions, feather=0.0)
            continue
        weights = _resized(crop.mask, side)
        given = None if changed is None else changed[n]
        if given is not None:
            weights = weights * np.clip(np.asarray(given, dtype=np.float32), 0.0, 1.0)
        elif keep_unchanged:
            weights = weights * change_weights(result, crop.pixels())
        if weights.any():
            out = paste_back(out, pixels, matrix, weights=weights)
    if warn is not None and worst[0] > RESOLUTION_WARN_RATIO:
        ratio, side, index = worst
        warn(
            f"{source}: face {index}'s {side} px crop is {ratio:.1f}x coarser than the face in the "
            f"photo: the pasted face loses detail; align with --size {int(np.ceil(side * ratio))} or more"
        )
    return out.copy() if out is photo else out


def _resized(mask: np.ndarray, side: int) -> np.ndarray:
    if mask.shape[0] == side:
        return mask
    return cv2.resize(mask, (side, side), interpolation=cv2.INTER_AREA)


@dataclass
class RoundTrip:
    """What `round_trip` did: pasted photos (input dtype), the crops in batch order, the callable's
    output (N×S'×S'×C float32, None when no photo had a face), and photo index -> why it had none."""

    photos: list[np.ndarray]
    crops: list[FaceCrop]
    processed: np.ndarray | None
    errors: dict[int, FacefillError]


def round_trip(
    photos: Sequence[np.ndarray],
    process: Process,
    *,
    size: int = 1024,
    faces: Sequence[Sequence[Face] | None] | None = None,
    regions: Sequence[np.ndarray | None] | None = None,
    search: FaceSearch = FaceSearch(),
    keep_unchanged: bool = True,
    feather: float | None = None,
    warn: Callable[[str], None] | None = None,
    sources: Sequence[str] | None = None,
) -> RoundTrip:
    """Align the faces of every photo at `size`, run `process` once on all crops, paste back.

    `faces[i]` (chosen faces with landmarks) skips detection for photo i; None entries search with
    `search`. `regions[i]` (photo-sized, 1 = may change) restricts photo i's paste to it. A photo
    without a face is returned unchanged with its FaceNotFoundError in `errors`.
    """
    names = list(sources) if sources is not None else [f"image {i}" for i in range(len(photos))]
    crops: list[FaceCrop] = []
    errors: dict[int, FacefillError] = {}
    for i, photo in enumerate(photos):
        chosen = None if faces is None else faces[i]
        try:
            chosen = search.find(photo, names[i]) if chosen is None else chosen
        except FaceNotFoundError as exc:
            errors[i] = exc
            continue
        crops += align_crops(photo, chosen, size, photo_index=i, feather=feather)
    results = [np.array(p, copy=True) for p in photos]
    if not crops:
        return RoundTrip(results, crops, None, errors)
    batch = np.stack([c.pixels() for c in crops])
    masks = np.stack(
        [
            c.mask
            if regions is None or regions[c.photo_index] is None
            else region_in_crop(regions[c.photo_index], c)
            for c in crops
        ]
    )
    answer = process(batch, masks)
    processed, changed = answer if isinstance(answer, tuple) else (answer, None)
    processed = np.asarray(processed, dtype=np.float32)
    for i in sorted({c.photo_index for c in crops}):
        picks = [n for n, c in enumerate(crops) if c.photo_index == i]
        results[i] = paste_crops(
            photos[i],
            [crops[n] for n in picks],
            [processed[n] for n in picks],
            regions=None if regions is None else regions[i],
            changed=None if changed is None else [changed[n] for n in picks],
            keep_unchanged=keep_unchanged,
            warn=warn,
            source=names[i],
        )
    return RoundTrip(results, crops, processed, errors)
