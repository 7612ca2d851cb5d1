"""SAC-GAN attribute transfer rate on held-out faces (issue 14 acceptance benchmark).

Faces: the `test` split of `python -m facefill.training.prepare_sacgan` (lfw_val identities, never
trained on; FFHQ-aligned 128² crops with landmarks). Hole: the mouth region from the face's own
landmarks, dilated by --dilate px. For each face, four fills: `--attribute mouth_closed`,
`--attribute mouth_open`, and `--exemplar` of a random test face of each class (its class given).
The filled face is then measured the same way the classes were made (dlib 68 landmarks → inner-lip
gap / inter-ocular distance, nearest side for ambiguous gaps): the transfer rate is the share whose
measured class is the requested one (chance: 50 %). The reference for each class is the share of
*unconditioned* fills (the mean class code, no attribute pushed either way) measured as that class:
a transfer rate above it is what the condition adds. Also: PSNR of the attribute fill that keeps the
face's own class (a reconstruction) and the share of fills in which dlib still finds a face.

    python benchmarks/sacgan_transfer.py --data PREPARED_DIR --weights RUN/ema_generator.safetensors \
        [--limit 100] [--sheet sheet.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a rate hits/n (sound at small n and rates near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def main() -> None:
    from facefill.errors import FaceNotFoundError
    from facefill.evaluation.metrics import psnr
    from facefill.faces.regions import dilate_mask, draw_region, landmark_polygons
    from facefill.faces.roundtrip import FaceSearch
    from facefill.pipelines.pretrained import load_pretrained
    from facefill.pipelines.requests import InpaintRequest
    from facefill.pipelines.sacgan import SACGANInpainter
    from facefill.pipelines.sacgan_classes import CLASSES, mouth_class, mouth_measure
    from facefill.runtime.context import RunContext

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--limit", type=int, default=100, help="faces per class")
    ap.add_argument("--dilate", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sheet", default=None, help="contact sheet: source | mask | exemplar | result rows")
    args = ap.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    context = RunContext(device="cpu", weights={"sacgan": args.weights}, offline=True)
    fill = SACGANInpainter(load_pretrained("sacgan", context))
    marks = json.loads((args.data / "landmarks.json").read_text())
    faces = {c: sorted((args.data / c / "test").glob("*.png"))[: args.limit] for c in CLASSES}
    rng = np.random.default_rng(args.seed)
    search = FaceSearch(choice="largest", try_rotations=False)

    def load(path: Path) -> torch.Tensor:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255

    def measured(out: torch.Tensor) -> str | None:
        rgb = (out[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        try:
            return mouth_class(mouth_measure(search.find(rgb, "fill")[0].landmarks), strict=False)
        except FaceNotFoundError:
            return None

    hits = {mode: [] for mode in ("attribute", "exemplar")}
    per_target = {f"{mode}:{c}": [] for mode in hits for c in CLASSES}
    psnrs, found, rows, neutral = [], [], [], []
    for own, paths in faces.items():
        for path in paths:
            rel = path.relative_to(args.data).as_posix()
            size = 128
            hole = draw_region((size, size), landmark_polygons(np.asarray(marks[rel]))["mouth"])
            mask = torch.from_numpy(dilate_mask(hole, args.dilate))[None, None].float()
            image = load(path)
            unconditioned = fill(InpaintRequest(image * (1 - mask), mask))
            neutral.append(measured(unconditioned * mask + image * (1 - mask)))
            for target in CLASSES:
                ex_path = faces[target][int(rng.integers(len(faces[target])))]
                exemplar = load(ex_path)
                for mode, request in (
                    ("attribute", InpaintRequest(image * (1 - mask), mask, attribute=(target,))),
                    (
                        "exemplar",
                        InpaintRequest(image * (1 - mask), mask, exemplar=exemplar, attribute=(target,)),
                    ),
                ):
                    out = fill(request) * mask + image * (1 - mask)
                    got = measured(out)
                    found.append(got is not None)
                    hits[mode].append(got == target)
                    per_target[f"{mode}:{target}"].append(got == target)
                    if mode == "attribute" and target == own:
                        to8 = lambda t: (t[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)  # noqa: E731
                        psnrs.append(psnr(to8(out), to8(image)))
                    if args.sheet and mode == "exemplar" and len(rows) < 12:
                        rows.append(torch.cat([image, mask.expand(1, 3, -1, -1), exemplar, out], dim=3))
    table = {k: round(100 * float(np.mean(v)), 1) for k, v in {**hits, **per_target}.items() if v}
    table["chance"] = 100 / len(CLASSES)
    for c in CLASSES:  # the unconditioned fill's own leaning, the baseline each transfer rate beats or not
        table[f"unconditioned:{c}"] = round(100 * float(np.mean([got == c for got in neutral])), 1)
        for mode in hits:  # what the condition adds, with a 95 % interval of the rate itself
            rate = per_target[f"{mode}:{c}"]
            low, high = wilson_interval(int(np.sum(rate)), len(rate))
            table[f"{mode}:{c}:ci95"] = [round(100 * low, 1), round(100 * high, 1)]
            table[f"{mode}:{c}:lift"] = round(table[f"{mode}:{c}"] - table[f"unconditioned:{c}"], 1)
    table["psnr_reconstruction_db"] = round(float(np.mean(psnrs)), 2) if psnrs else None
    table["face_found_pct"] = round(100 * float(np.mean(found)), 1)
    table["faces"] = sum(len(p) for p in faces.values())
    print(json.dumps(table, indent=1))
    if rows:
        sheet = (torch.cat(rows, dim=2)[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
        cv2.imwrite(args.sheet, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
