"""SAC-GAN training batches: class-balanced labelled faces, an exemplar of a random class, face masks.

Data: the L2M-GAN folders of `python -m facefill.training.prepare_sacgan` (ROOT/<class>/<split>/*,
ROOT/landmarks.json with crop-space landmarks). Each batch is a pure function of (seed, step,
rank), like `training.dataset.InpaintBatches`, so resume is exact.

Holes: the masks users of `--exemplar` draw are face regions, so `region_share` of the samples get
a landmark region (mouth, lower face, eyes; dilated by a random few pixels), `preset_share` the
fixed face-oval preset (SAC-GAN's `face_mask.png` shape), the rest the `--masks` sampler (DeepFillv2
strokes by default, spec §5.1).
"""

from __future__ import annotations

import numpy as np

from facefill.faces.regions import dilate_mask, draw_region, landmark_polygons
from facefill.training.dataset import MaskSampler

REGIONS = ("mouth", "mouth", "lower_face", "eyes")  # the mouth twice: it carries the classes


def face_oval_mask(size: int) -> np.ndarray:
    """SAC-GAN's fixed `face_mask.png` shape, scaled: an oval over x 24–107, y 25–122 at 128² (1 = hole)."""
    s = size / 128
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    inside = ((xs - 65.5 * s) / (42 * s)) ** 2 + ((ys - 73.5 * s) / (49 * s)) ** 2 <= 1
    return inside.astype(np.uint8)


def region_mask(
    rng: np.random.Generator, landmarks: np.ndarray, size: int, regions: tuple[str, ...] = REGIONS
) -> np.ndarray:
    """A random face region (one of `regions`, repeats weigh more) of these crop-space landmarks,
    dilated by 2–8 % of the side."""
    name = regions[int(rng.integers(len(regions)))]
    mask = draw_region((size, size), landmark_polygons(landmarks)[name])
    grow = int(rng.integers(max(1, size // 50), max(2, size // 12)))
    return (dilate_mask(mask, grow) > 0.5).astype(np.uint8)


class LabelledFaceBatches:
    """Indexable by step. Arrays: image, exemplar N×3×S×S [0,1]; mask N×1×S×S; label, label_ref int64."""

    def __init__(
        self,
        faces: np.ndarray,
        labels: np.ndarray,
        landmarks: list[np.ndarray | None],
        masks: MaskSampler,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        flip: bool = True,
        region_share: float = 0.5,
        preset_share: float = 0.1,
        regions: tuple[str, ...] = REGIONS,
    ) -> None:
        self.faces, self.labels, self.landmarks = faces, np.asarray(labels), landmarks
        self.masks, self.batch_size = masks, batch_size
        self.seed, self.rank, self.flip = seed, rank, flip
        self.region_share, self.preset_share, self.regions = region_share, preset_share, tuple(regions)
        self.size = faces.shape[1]
        self.by_class = [np.flatnonzero(self.labels == c) for c in range(int(self.labels.max()) + 1)]
        if any(len(members) == 0 for members in self.by_class):
            raise ValueError("every class needs at least one face")

    def __len__(self) -> int:  # effectively unbounded; the trainer's sampler gives the steps
        return 2**62

    def _face(self, rng: np.random.Generator, label: int) -> tuple[np.ndarray, int, bool]:
        members = self.by_class[label]
        index = int(members[int(rng.integers(len(members)))])
        flipped = bool(self.flip and rng.random() < 0.5)
        image = np.asarray(self.faces[index])
        return (image[:, ::-1] if flipped else image), index, flipped

    def _mask(self, rng: np.random.Generator, index: int, flipped: bool) -> np.ndarray:
        draw = rng.random()
        points = self.landmarks[index]
        if draw < self.region_share and points is not None:
            mask = region_mask(rng, points, self.size, self.regions)
            return mask[:, ::-1] if flipped else mask
        if draw < self.region_share + self.preset_share:
            return face_oval_mask(self.size)
        return np.asarray(self.masks(rng, self.size), np.uint8)

    def __getitem__(self, step: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, int(step), self.rank])
        classes = len(self.by_class)
        images, masks, labels, exemplars, labels_ref = [], [], [], [], []
        for _ in range(self.batch_size):
            label = int(rng.integers(classes))  # class-balanced, like the original's weighted sampler
            image, index, flipped = self._face(rng, label)
            masks.append(self._mask(rng, index, flipped))
            label_ref = int(rng.integers(classes))
            exemplar, _, _ = self._face(rng, label_ref)
            images.append(image)
            exemplars.append(exemplar)
            labels.append(label)
            labels_ref.append(label_ref)
        to_chw = lambda a: np.ascontiguousarray(np.stack(a).transpose(0, 3, 1, 2)).astype(np.float32) / 255  # noqa: E731
        return {
            "image": to_chw(images),
            "mask": np.stack([np.ascontiguousarray(m) for m in masks])[:, None].astype(np.float32),
            "label": np.asarray(labels, np.int64),
            "exemplar": to_chw(exemplars),
            "label_ref": np.asarray(labels_ref, np.int64),
            "step": np.int64(step),
        }
