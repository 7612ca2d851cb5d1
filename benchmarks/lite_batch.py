"""facefill-lite batch throughput (items/s) through the inpaint pipeline on this machine.

    OMP_NUM_THREADS=2 python benchmarks/lite_batch.py [--items 64] [--batches 1,8,32] [--photos 64]

1. Aligned faces: `--items` real LFW faces (shared/data/faces/lfw_val), FFHQ-aligned to 256×256,
   each with an irregular NVIDIA test mask, run through `InpaintPipeline("facefill-lite")` at each
   batch size (the model's native size: no resizing). items/s over all items, after one warm-up.
2. Whole photos: the same LFW photos, each mask shrunk onto the middle of the face, run through
   the aligned-face crop strategy (detect, align, fill, paste back) at the largest batch size.

Only APIs that exist before and after the batched crop strategies are used, so the same script
measures an older checkout (`git worktree add /tmp/before e7324fc`, then run it from there).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
for candidate in (SHARED, Path("/work/shared/data")):
    if candidate.is_dir():
        SHARED = candidate
        break


def _photos(count: int) -> list[np.ndarray]:
    folder = SHARED / "faces" / "lfw_val"
    files = sorted(folder.glob("*.jpg"))[:count]
    if len(files) < count:
        raise SystemExit(f"need {count} photos in {folder}, found {len(files)}")
    return [cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files]


def _masks(count: int, size: int) -> list[np.ndarray]:
    files = sorted((SHARED / "masks" / "nvidia_irregular").glob("*.png"))
    files = files[:: max(1, len(files) // count)][:count]  # spread over the set (it is sorted by hole size)
    return [
        (
            cv2.resize(
                cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (size, size), interpolation=cv2.INTER_NEAREST
            )
            > 127
        ).astype(np.float32)
        for f in files
    ]


def _aligned(photos: list[np.ndarray], size: int) -> tuple[list, list, list]:
    """(aligned crops, their crop->photo matrices, the photos they came from): faceless ones dropped."""
    from facefill.errors import FaceNotFoundError
    from facefill.faces.align import align_face
    from facefill.faces.find import find_faces

    crops, matrices, kept = [], [], []
    for photo in photos:
        try:
            face = find_faces(photo)[0]
        except FaceNotFoundError:
            continue
        aligned = align_face(photo, face.landmarks, size)
        crops.append(aligned.image)
        matrices.append(aligned.matrix)
        kept.append(photo)
    return crops, matrices, kept


def _tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images).astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()


def _throughput(run, images: torch.Tensor, masks: torch.Tensor, batch: int) -> float:
    run(images[:batch], masks[:batch])  # warm-up (oneDNN kernels, model load)
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        run(images[i : i + batch], masks[i : i + batch])
    return len(images) / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--photos", type=int, default=64, help="whole photos for the face-crop path (0: skip)")
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]

    from facefill.pipelines.face_crop import AlignedFaceCrop
    from facefill.pipelines.inpaint import InpaintPipeline

    size = 256
    photos = _photos(max(args.items, args.photos) + 8)  # a few spare: a photo may have no face
    crops, matrices, photos = _aligned(photos, size)
    crops, matrices, photos = crops[: args.items], matrices[: args.items], photos[: args.items]
    masks = _masks(len(crops), size)
    images, holes = _tensor(crops), torch.from_numpy(np.stack(masks))[:, None]
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads; {len(crops)} aligned {size}² LFW faces")
    print(f"mean hole ratio {float(holes.mean()):.3f}")

    pipeline = InpaintPipeline("facefill-lite")  # CPU here; `pipeline(images, masks)` is old and new API
    for batch in batches:
        rate = _throughput(pipeline, images, holes, batch)
        print(f"aligned faces, batch {batch:>2}: {rate:6.1f} items/s")

    if args.photos:
        # Holes on the face: each mask shrunk into the middle 60 % of its aligned square (so the
        # face square holds it), warped back into the photo.
        n = min(args.photos, len(crops))
        shape = photos[0].shape[1::-1]  # LFW photos are all 250x250
        inner = np.array([[0.6, 0, 0.2 * size], [0, 0.6, 0.2 * size], [0, 0, 1]])
        photo_holes = [
            (cv2.warpAffine(m, (t @ inner)[:2], shape, flags=cv2.INTER_NEAREST) > 0.5).astype(np.float32)
            for m, t in zip(masks[:n], matrices[:n], strict=True)
        ]
        whole = _tensor(photos[:n])
        face_pipeline = InpaintPipeline("facefill-lite", crop_strategy=AlignedFaceCrop())
        batch = max(batches)
        rate = _throughput(face_pipeline, whole[:n], torch.from_numpy(np.stack(photo_holes))[:, None], batch)
        used = face_pipeline.crop_strategy.last_used
        print(
            f"whole {shape[0]}x{shape[1]} photos via the aligned-face crop (detect + align + fill + paste), "
            f"batch {batch}: {rate:6.1f} items/s (last batch: {used.count('face')}/{len(used)} on the face)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
