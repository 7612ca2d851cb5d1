"""Face detection + 68 landmarks + FFHQ alignment throughput, and detection rate, on LFW.

Usage: python benchmarks/faces_throughput.py [--data DIR] [--count 200] [--size 1024] [--detector hog]

Reads the first COUNT photos (sorted by name) of DIR (default: the shared LFW validation split,
250×250 deep-funneled photos, face ~110 px), times each stage per photo (decoding excluded), and
prints faces/s for the whole chain plus the share of photos in which a face was found. Run it on
an otherwise idle machine: OpenCV is left at its default thread count.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "lfw_val"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--detector", choices=["hog", "cnn"], default="hog")
    parser.add_argument("--upsample", type=int, default=1)
    args = parser.parse_args()

    from facefill.errors import FaceNotFoundError
    from facefill.faces import dlib_models
    from facefill.faces.align import align_face
    from facefill.faces.detect import detect_faces
    from facefill.faces.landmarks import predict_landmarks
    from facefill.faces.select import select_faces
    from facefill.io.images import read_image

    files = sorted(p for p in args.data.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[
        : args.count
    ]
    if not files:
        raise SystemExit(f"no photos in {args.data}")
    photos = [read_image(p).rgb for p in files]
    # Load (and cache) the models before timing: a one-off cost per process.
    dlib_models.shape_predictor(68)
    dlib_models.cnn_detector() if args.detector == "cnn" else dlib_models.hog_detector()

    t_detect = t_landmarks = t_align = 0.0
    found = 0
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    for rgb in photos:
        start = time.perf_counter()
        faces = detect_faces(rgb, detector=args.detector, upsample=args.upsample)
        t_detect += time.perf_counter() - start
        try:
            face = select_faces(faces, "largest", rgb.shape[:2])[0]
        except FaceNotFoundError:
            continue
        found += 1
        start = time.perf_counter()
        landmarks = predict_landmarks(rgb, face.box, 68)
        t_landmarks += time.perf_counter() - start
        start = time.perf_counter()
        crop = align_face(rgb, landmarks, args.size)
        t_align += time.perf_counter() - start
        assert crop.image.shape[:2] == (args.size, args.size)
    total = t_detect + t_landmarks + t_align
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    report = {
        "photos": len(photos),
        "faces_found": found,
        "detection_rate": round(found / len(photos), 4),
        "detector": args.detector,
        "upsample": args.upsample,
        "output_size": args.size,
        "faces_per_s": round(found / total, 2),
        # CPU seconds of this process: on a shared machine, faces per CPU-second is the fairer figure.
        "faces_per_cpu_s": round(found / cpu, 2),
        "cpu_s_over_wall_s": round(cpu / wall, 2),
        "ms_per_photo": {
            "detect": round(1000 * t_detect / len(photos), 2),
            "landmarks": round(1000 * t_landmarks / max(found, 1), 2),
            "align": round(1000 * t_align / max(found, 1), 2),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
