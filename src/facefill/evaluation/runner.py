"""Run every model on exactly the same pairs and score the composites."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facefill.errors import FacefillError
from facefill.evaluation.metrics import l1, psnr, ssim
from facefill.evaluation.pairs import Pair, bin_label
from facefill.evaluation.report import masked_preview
from facefill.runtime.context import RunContext

REAL = "__real__"


@dataclass
class EvalOptions:
    models: Sequence[str]
    image_size: int | None = None  # square-resize every image (e.g. 256, a face model's native size)
    align: bool = False  # FFHQ-align faces first (masks then apply to the aligned crop)
    lpips: bool = True
    identity: bool = True
    fid: bool = True
    landmarks: bool = True  # dlib structure metric (evaluation.structure), when dlib is installed
    sheet_pairs: int = 8


@dataclass
class EvalResult:
    rows: list[dict] = field(default_factory=list)
    fid: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sheets: list[dict[str, np.ndarray]] = field(default_factory=list)
    seconds: float = 0.0


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0,1] float -> uint8 with rounding (papers that truncate report slightly lower PSNR)."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def load_pair(
    pair: Pair, images_dir: Path, masks_dir: Path, opts: EvalOptions
) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth (uint8 H×W×3) and binary mask at the ground truth's size."""
    import cv2

    from facefill.io.images import read_image
    from facefill.io.masks import MaskOptions, read_mask

    image = read_image(images_dir / pair.image)
    rgb = to_uint8(image.float_rgb())
    if opts.align:  # the round trip's first half: the same face search and crop as inpaint/edit
        from facefill.faces.roundtrip import FaceSearch, align_crops

        faces = FaceSearch().find(rgb, pair.image)  # FaceNotFoundError (a FacefillError) if none
        rgb = align_crops(rgb, faces, opts.image_size or 256)[0].aligned.image
    elif opts.image_size and rgb.shape[:2] != (opts.image_size, opts.image_size):
        rgb = cv2.resize(rgb, (opts.image_size, opts.image_size), interpolation=cv2.INTER_AREA)
    mask = read_mask(masks_dir / pair.mask, image_size=rgb.shape[:2], options=MaskOptions(resize=True))
    return rgb, mask


def evaluate(
    pairs: Sequence[Pair],
    images_dir: Path,
    masks_dir: Path,
    opts: EvalOptions,
    on_step: Callable[[], None] | None = None,
    *,
    context: RunContext,
) -> EvalResult:
    """Score every model on every pair; a pair that cannot be loaded is noted and skipped.

    `context` gives the device, seed and checkpoints (`--weights`, offline) of models and scorers.
    """
    from facefill.evaluation.scorers import build_scorers
    from facefill.evaluation.structure import build_landmark_scorer
    from facefill.pipelines.inpaint import InpaintPipeline

    start = time.perf_counter()
    result = EvalResult()
    device = context.torch_device()
    context = context.with_(device=str(device))  # resolved once: no repeated fallback warnings
    pipelines = {name: InpaintPipeline(name, context) for name in opts.models}
    scorers, fid = build_scorers(
        device, context, lpips=opts.lpips, identity=opts.identity, fid=opts.fid, notes=result.notes
    )
    structure = build_landmark_scorer(result.notes) if opts.landmarks else None
    for index, pair in enumerate(pairs):
        try:
            target, mask = load_pair(pair, images_dir, masks_dir, opts)
        except FacefillError as exc:
            result.notes.append(f"pair {index} skipped: {exc}")
            continue
        ratio = float(mask.mean())
        sheet = {"input": masked_preview(target, mask), "mask": to_uint8(np.repeat(mask[..., None], 3, 2))}
        if fid is not None:
            fid.add(REAL, target)
        for name, pipeline in pipelines.items():
            t0 = time.perf_counter()
            output = to_uint8(pipeline(target.astype(np.float32) / 255.0, mask))
            row = {
                "pair": index,
                "image": pair.image,
                "mask": pair.mask,
                "hole_ratio": round(ratio, 6),
                "bin": bin_label(ratio),
                "model": name,
                "seconds": round(time.perf_counter() - t0, 4),
                "psnr": psnr(output, target),
                "ssim": ssim(output, target),
                "l1": l1(output, target),
            }
            for scorer in scorers:
                row[scorer.column] = scorer(output, target, pair.image)
            if structure is not None:  # needs the mask: landmarks inside the hole
                row.update(structure(output, target, mask, pair.image))
            if fid is not None:
                fid.add(name, output)
            result.rows.append(row)
            sheet[name] = output
            if on_step:
                on_step()
        sheet["ground truth"] = target
        if len(result.sheets) < opts.sheet_pairs:
            result.sheets.append(sheet)
    if fid is not None:
        result.fid = fid.distances(REAL)
        if any(v is None for v in result.fid.values()):
            result.notes.append("FID needs at least 2 pairs per model")
    result.seconds = time.perf_counter() - start
    return result
