"""Inpainting quality per NVIDIA hole-ratio bin on held-out LFW faces (issue 6 acceptance benchmark).

Protocol (spec §7): LFW *validation* identities (faces/lfw_val, never trained on), framed by
`facefill.training.dataset.lfw_face_crop` to 256×256; NVIDIA irregular masks from the benchmark-reserved
subset (`is_benchmark_mask`, excluded from training), resized 512→256 nearest, binned by their *measured*
hole ratio into (1,10], (10,20], ..., (50,60] %; a fixed seeded pairing gives each pair its own face.
Every method's output is composited (prediction inside the hole only), rounded to uint8, then scored:
PSNR (RGB, data_range 255), SSIM (Gaussian window σ 1.5, data_range 255, skimage), L1 (mean absolute
error over all pixels and channels, in % of 255).

    python benchmarks/inpaint_quality.py [--per-bin 50] [--seed 0] [--lite-weights FILE] [--json OUT]

Data: shared/data beside the checkout (or $FACEFILL_DATA).

Importable: `benchmark_pairs()` builds the pairing, `evaluate()` scores any `fill` callables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facefill.evaluation.metrics import l1, psnr, ssim
from facefill.training.dataset import (
    NVIDIA_BINS,
    frame_face,
    is_benchmark_mask,
    list_images,
    nvidia_mask_index,
    read_rgb,
)

DATA = Path(os.environ.get("FACEFILL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FACES_DIR = DATA / "faces" / "lfw_val"
MASKS_DIR = DATA / "masks" / "nvidia_irregular"
SIZE = 256

# fill(image uint8 H×W×3, mask uint8 H×W {0,1}) -> uint8 H×W×3 (uncomposited prediction)
Fill = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Pair:
    face: Path
    mask: Path
    bin_index: int
    ratio: float


def bin_label(i: int) -> str:
    lo, hi = NVIDIA_BINS[i]
    return f"{round(lo * 100)}-{round(hi * 100)}%"


def load_mask(path: Path, size: int = SIZE) -> np.ndarray:
    """NVIDIA mask file (white = hole) -> uint8 {0,1} at size×size (nearest, as the spec prescribes)."""
    m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return (cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST) > 127).astype(np.uint8)


def benchmark_pairs(
    faces_dir: Path = FACES_DIR,
    masks_dir: Path = MASKS_DIR,
    per_bin: int = 50,
    seed: int = 0,
    size: int = SIZE,
) -> list[Pair]:
    """Deterministic (face, mask) pairs: `per_bin` reserved masks per measured-ratio bin, distinct faces."""
    rng = np.random.default_rng(seed)
    masks = sorted(
        p for p in masks_dir.glob("*.png") if (i := nvidia_mask_index(p)) is not None and is_benchmark_mask(i)
    )
    by_bin: list[list[tuple[Path, float]]] = [[] for _ in NVIDIA_BINS]
    for p in masks:
        ratio = float(load_mask(p, size).mean())
        for b, (lo, hi) in enumerate(NVIDIA_BINS):
            if lo < ratio <= hi:
                by_bin[b].append((p, ratio))
    faces = list_images(faces_dir)
    order = rng.permutation(len(faces))
    pairs: list[Pair] = []
    for b, candidates in enumerate(by_bin):
        chosen = rng.permutation(len(candidates))[:per_bin]
        for j in chosen:
            face = faces[order[len(pairs) % len(faces)]]
            pairs.append(Pair(face, candidates[j][0], b, candidates[j][1]))
    return pairs


def composite_u8(pred: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    return (
        np.clip(pred.astype(np.float32) * m + image.astype(np.float32) * (1 - m) + 0.0, 0, 255)
        .round()
        .astype(np.uint8)
    )


def score(result: np.ndarray, target: np.ndarray) -> tuple[float, float, float]:
    """PSNR (dB), SSIM (Gaussian σ 1.5), L1 (% of 255) of two uint8 RGB images (facefill eval's metrics)."""
    return psnr(result, target), ssim(result, target), l1(result, target) * 100


def classical(flag: int) -> Fill:
    return lambda img, m: cv2.inpaint(img, m, 3, flag)


def lite_fill(weights: str | Path | None = None) -> Fill:
    """facefill-lite through its registry loader (Telea + residual), one image at a time."""
    import torch

    from facefill.pipelines.lite import LiteInpainter, load_lite_generator

    model = LiteInpainter(load_lite_generator(weights))

    def fill(img: np.ndarray, m: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        mk = torch.from_numpy(m)[None, None].float()
        y = model.fill_tensors(x, mk)[0].permute(1, 2, 0).numpy()
        return (y * 255 + 0.5).clip(0, 255).astype(np.uint8)

    return fill


def registry_fill(name: str) -> Fill | str:
    """Any other registered inpainter (e.g. deepfillv2); returns the reason as a string if unavailable."""
    try:
        import torch

        from facefill.pipelines.registry import get_inpainter
        from facefill.pipelines.requests import InpaintRequest
        from facefill.runtime.context import RunContext

        model = get_inpainter(name).load(RunContext(device="cpu", offline=True))
    except Exception as exc:  # missing weights/modules: report, do not fail the benchmark
        return f"unavailable ({type(exc).__name__}: {str(exc)[:80]})"

    def fill(img: np.ndarray, m: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        mk = torch.from_numpy(m)[None, None].float()
        with torch.inference_mode():
            y = model(InpaintRequest(x * (1 - mk), mk))[0].permute(1, 2, 0).numpy()
        return (y * 255 + 0.5).clip(0, 255).astype(np.uint8)

    return fill


def evaluate(
    pairs: Sequence[Pair], methods: dict[str, Fill], size: int = SIZE
) -> dict[str, list[dict[str, float]]]:
    """Mean PSNR/SSIM/L1 per bin (and 'all') for each method: {method: [bin rows..., all row]}."""
    sums = {name: np.zeros((len(NVIDIA_BINS), 4)) for name in methods}
    for pair in pairs:
        image = frame_face(read_rgb(pair.face), size)
        mask = load_mask(pair.mask, size)
        for name, fill in methods.items():
            result = composite_u8(fill(image, mask), image, mask)
            sums[name][pair.bin_index] += (*score(result, image), 1)
    table: dict[str, list[dict[str, float]]] = {}
    for name, s in sums.items():
        rows = []
        for b in range(len(NVIDIA_BINS)):
            n = max(s[b, 3], 1)
            rows.append(
                {
                    "bin": bin_label(b),
                    "n": int(s[b, 3]),
                    "psnr": s[b, 0] / n,
                    "ssim": s[b, 1] / n,
                    "l1": s[b, 2] / n,
                }
            )
        tot = s.sum(0)
        n = max(tot[3], 1)
        rows.append(
            {"bin": "all", "n": int(tot[3]), "psnr": tot[0] / n, "ssim": tot[1] / n, "l1": tot[2] / n}
        )
        table[name] = rows
    return table


def format_table(table: dict[str, list[dict[str, float]]], unavailable: dict[str, str]) -> str:
    lines = [f"{'model':<15}{'bin':>8}{'n':>5}{'PSNR dB':>9}{'SSIM':>8}{'L1 %':>8}"]
    for name, rows in table.items():
        for r in rows:
            lines.append(
                f"{name:<15}{r['bin']:>8}{r['n']:>5}{r['psnr']:>9.2f}{r['ssim']:>8.4f}{r['l1']:>8.3f}"
            )
    lines += [f"{name:<15} {why}" for name, why in unavailable.items()]
    return "\n".join(lines)


def lite_wins(table: dict[str, list[dict[str, float]]], model: str = "facefill-lite") -> bool:
    """Acceptance: `model` beats telea and ns on PSNR and SSIM in every bin."""
    return all(
        table[model][b]["psnr"] > table[base][b]["psnr"] and table[model][b]["ssim"] > table[base][b]["ssim"]
        for base in ("telea", "ns")
        for b in range(len(NVIDIA_BINS))
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-bin", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lite-weights", default=None, help="facefill-lite safetensors (default: shipped)")
    ap.add_argument("--models", default="telea,ns,facefill-lite,deepfillv2-celebahq")
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    pairs = benchmark_pairs(per_bin=args.per_bin, seed=args.seed)
    methods: dict[str, Fill] = {}
    unavailable: dict[str, str] = {}
    for name in args.models.split(","):
        if name == "telea":
            methods[name] = classical(cv2.INPAINT_TELEA)
        elif name == "ns":
            methods[name] = classical(cv2.INPAINT_NS)
        elif name == "facefill-lite":
            methods[name] = lite_fill(args.lite_weights)
        else:
            got = registry_fill(name)
            if isinstance(got, str):
                unavailable[name] = got
            else:
                methods[name] = got
    t0 = time.perf_counter()
    table = evaluate(pairs, methods)
    print(format_table(table, unavailable))
    print(f"{len(pairs)} pairs, {time.perf_counter() - t0:.0f} s")
    if "facefill-lite" in table and {"telea", "ns"} <= set(table):
        print("facefill-lite beats telea and ns on PSNR and SSIM in every bin:", lite_wins(table))
    if args.json:
        Path(args.json).write_text(json.dumps({"table": table, "unavailable": unavailable}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
