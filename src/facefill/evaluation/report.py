"""Report files: metric-vs-hole-ratio plots, contact sheets, and a static HTML page linking them."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from facefill.evaluation.summary import ALL, METRICS, bins_present

TILE = 160
LABEL_H = 18
HOLE_TINT = np.array([255, 0, 255], dtype=np.float32)  # magenta: clearly not a face colour


def plot_metrics(summary: dict, metrics: Sequence[str], out_dir: Path) -> list[Path]:
    """One PNG per metric: its mean per hole-ratio bin, a line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [b for b in bins_present(summary) if b != ALL]
    written = []
    for metric in metrics:
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        for model, per_bin in sorted(summary.items()):
            ys = [per_bin.get(b, {}).get(metric, math.nan) for b in labels]
            ax.plot(labels, ys, marker="o", label=model)
        better = "higher" if METRICS[metric] else "lower"
        ax.set_xlabel("hole ratio")
        ax.set_ylabel(f"{metric} ({better} is better)")
        ax.set_title(f"{metric} against hole ratio")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"plot_{metric}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def _tile(rgb: np.ndarray, label: str) -> Image.Image:
    img = Image.fromarray(rgb).convert("RGB")
    img.thumbnail((TILE, TILE), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (TILE, TILE + LABEL_H), "white")
    canvas.paste(img, ((TILE - img.width) // 2, LABEL_H + (TILE - img.height) // 2))
    ImageDraw.Draw(canvas).text((3, 3), label[:24], fill="black")
    return canvas


def masked_preview(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The input as a model sees it: hole pixels painted magenta."""
    out = rgb.astype(np.float32)
    out[mask > 0.5] = HOLE_TINT
    return out.astype(np.uint8)


def contact_sheet(rows: Sequence[dict[str, np.ndarray]], columns: Sequence[str], path: Path) -> None:
    """One row per pair: each named column's image, labelled, in a grid (PNG, atomic)."""
    sheet = Image.new("RGB", (TILE * len(columns), (TILE + LABEL_H) * len(rows)), "white")
    for r, row in enumerate(rows):
        for c, name in enumerate(columns):
            sheet.paste(_tile(row[name], name), (c * TILE, r * (TILE + LABEL_H)))
    tmp = path.with_name(f".{path.name}.tmp.png")
    sheet.save(tmp)
    tmp.replace(path)


def fmt_value(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def write_html(
    out_dir: Path,
    summary: dict,
    metrics: Sequence[str],
    fid: dict[str, float | None],
    notes: Sequence[str],
    images: Sequence[Path],
    csv_name: str,
) -> Path:
    """A static page: summary tables per metric, FID, notes, plots and contact sheets."""
    labels = bins_present(summary)
    parts = [
        "<!doctype html><meta charset='utf-8'><title>facefill eval report</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
        "table{border-collapse:collapse;margin-bottom:1em}tr:nth-child(even){background:#f3f3f3}</style>",
        "<h1>facefill eval report</h1>",
        f"<p>Per-pair results: <a href='{html.escape(csv_name)}'>{html.escape(csv_name)}</a></p>",
    ]
    for metric in metrics:
        better = "higher" if METRICS[metric] else "lower"
        parts.append(f"<h2>{metric} ({better} is better)</h2><table><tr><th>model</th>")
        parts += [f"<th>{html.escape(b)}</th>" for b in labels] + ["</tr>"]
        for model, per_bin in sorted(summary.items()):
            cells = "".join(f"<td>{fmt_value(per_bin.get(b, {}).get(metric))}</td>" for b in labels)
            parts.append(f"<tr><th>{html.escape(model)}</th>{cells}</tr>")
        parts.append("</table>")
    if fid:
        parts.append("<h2>FID (all pairs)</h2><table>")
        parts += [
            f"<tr><th>{html.escape(m)}</th><td>{fmt_value(v)}</td></tr>" for m, v in sorted(fid.items())
        ]
        parts.append("</table>")
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    for img in images:
        parts.append(f"<h3>{html.escape(img.stem)}</h3><img src='{html.escape(img.name)}'>")
    path = out_dir / "index.html"
    tmp = path.with_name(".index.html.tmp")
    tmp.write_text("\n".join(parts))
    tmp.replace(path)
    return path
