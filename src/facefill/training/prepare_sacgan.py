"""Build SAC-GAN's class folders from LFW: FFHQ-aligned 128² crops labelled mouth_closed / mouth_open.

    python -m facefill.training.prepare_sacgan --data ../shared/data/faces --out DIR [--limit N]

Train faces come from `lfw/`, test faces from `lfw_val/` (identities disjoint from lfw/). Each photo:
largest face (dlib HOG), 68 landmarks, FFHQ alignment at --size (the framing `--align-faces` gives
at inference), the class recipe of `pipelines.sacgan_classes` (inner-lip gap / inter-ocular
distance; ambiguous gaps are left out). Writes the L2M-GAN layout DIR/<class>/{train,test}/NAME.png
(or .jpg with --jpeg-quality, small enough to carry ~7000 faces to a GPU machine) plus
DIR/landmarks.json (crop-space landmarks per written file, for face-region training masks)
and DIR/summary.json; prints the gap histogram, the Otsu threshold and the class counts. Nothing of
the data goes into git: put DIR in an ignored folder that lasts, e.g. .cache/sacgan_lfw128.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from facefill.pipelines.sacgan_classes import (
    CLASSES,
    CLOSED_MAX,
    OPEN_MIN,
    mouth_class,
    mouth_measure,
    otsu_threshold,
)

SPLITS = {"train": "lfw", "test": "lfw_val"}


def aligned_face(path: Path, size: int):
    """(crop uint8 size×size×3, crop-space landmarks (68, 2), MouthMeasure) or None if no face."""
    from facefill.errors import FaceNotFoundError
    from facefill.faces.roundtrip import FaceSearch, align_crops

    photo = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    try:
        face = FaceSearch(choice="largest", try_rotations=False).find(photo, str(path))[0]
    except FaceNotFoundError:
        return None
    crop = align_crops(photo, [face], size)[0]
    return crop.aligned.image, crop.aligned.to_crop(face.landmarks), mouth_measure(face.landmarks)


def histogram_text(values: np.ndarray, bins: int = 20) -> str:
    counts, edges = np.histogram(values, bins=bins)
    scale = 50 / max(1, counts.max())
    return "\n".join(
        f"{edges[i]:6.3f}–{edges[i + 1]:6.3f} {counts[i]:5d} {'#' * int(round(counts[i] * scale))}"
        for i in range(bins)
    )


def prepare(
    data: Path, out: Path, size: int = 128, limit: int | None = None, jpeg_quality: int | None = None
) -> dict:
    landmarks: dict[str, list] = {}
    gaps: list[float] = []
    counts = {split: dict.fromkeys(CLASSES, 0) for split in SPLITS}
    skipped = {"no_face": 0, "ambiguous": 0}
    for split, folder in SPLITS.items():
        photos = sorted((data / folder).glob("*.jpg"))[: limit or None]
        for path in photos:
            found = aligned_face(path, size)
            if found is None:
                skipped["no_face"] += 1
                continue
            crop, points, measure = found
            gaps.append(measure.gap)
            label = mouth_class(measure)
            if label is None:
                skipped["ambiguous"] += 1
                continue
            rel = f"{label}/{split}/{path.stem}.{'jpg' if jpeg_quality else 'png'}"
            (out / label / split).mkdir(parents=True, exist_ok=True)
            params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if jpeg_quality else []
            cv2.imwrite(str(out / rel), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), params)
            landmarks[rel] = np.round(points, 2).tolist()
            counts[split][label] += 1
    values = np.asarray(gaps)
    summary = {
        "size": size,
        "classes": list(CLASSES),
        "thresholds": {"closed_max": CLOSED_MAX, "open_min": OPEN_MIN, "otsu": otsu_threshold(values)},
        "gap_percentiles": {str(p): float(np.percentile(values, p)) for p in (5, 25, 50, 75, 95)},
        "counts": counts,
        "skipped": skipped,
        "source": str(data),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "landmarks.json").write_text(json.dumps(landmarks))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print("inner-lip gap / inter-ocular distance, all measured faces:")
    print(histogram_text(values))
    print(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder holding lfw/ and lfw_val/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="photos per split (a quick check)")
    parser.add_argument(
        "--jpeg-quality", type=int, default=None, help="write JPEG (e.g. 92) instead of PNG: ~5x smaller"
    )
    args = parser.parse_args(argv)
    prepare(args.data, args.out, args.size, args.limit, args.jpeg_quality)


if __name__ == "__main__":
    main()
