"""Aggregate per-pair rows into per-model, per-bin means, and write them as CSV."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from facefill.evaluation.pairs import bin_order

# Metric columns, in display order, with whether higher is better.
METRICS: dict[str, bool] = {
    "psnr": True,
    "ssim": True,
    "l1": False,
    "lpips": False,
    "id_dist_dlib": False,
    "id_cos_arcface": True,
    "lmk_nme": False,  # evaluation.structure: landmark error inside the hole / inter-ocular
    "face_found": True,  # share of outputs in which dlib still finds the face
}
ALL = "all"


def _mean(values: Iterable[float]) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    finite = [v for v in vals if math.isfinite(v)]
    if not vals:
        return math.nan
    if len(finite) < len(vals):  # PSNR of a perfect fill is inf: average the finite ones, say so by +inf
        return math.inf if not finite else sum(finite) / len(finite)
    return sum(vals) / len(vals)


def summarise(rows: Sequence[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """{model: {bin or 'all': {metric: mean, 'n': count}}} over the rows."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["model"], row["bin"])].append(row)
        groups[(row["model"], ALL)].append(row)
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (model, label), members in groups.items():
        stats = {m: _mean(r.get(m) for r in members) for m in METRICS}
        stats["n"] = len(members)
        out[model][label] = stats
    return dict(out)


def bins_present(summary: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Bin labels that occur, small holes first, then 'all'."""
    seen = {label for per_bin in summary.values() for label in per_bin}
    return [b for b in bin_order() if b in seen] + [ALL]


def metrics_present(rows: Sequence[dict]) -> list[str]:
    """Metrics that have at least one value (skipped metrics are left out of tables and plots)."""
    return [m for m in METRICS if any(r.get(m) is not None for r in rows)]


def write_csv(rows: Sequence[dict], path: Path) -> None:
    """Per-pair results, one row per (pair, model); atomic."""
    if not rows:
        return
    fields = list(dict.fromkeys(k for row in rows for k in row))
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
