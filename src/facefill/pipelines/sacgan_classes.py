"""SAC-GAN's attribute classes for facefill: mouth closed / mouth open, measured from 68 landmarks.

One recipe labels the training data (`python -m facefill.training.prepare_sacgan` builds the L2M-GAN folders),
labels an `--exemplar` at inference and scores the attribute transfer rate, so all three agree.

Measure: the inner-lip gap (mean of the three vertical inner-lip distances, points 61–67) and the
mouth width (corners 48, 54), each over the inter-ocular distance (eye centres). A face is "open"
when gap/IOD ≥ OPEN_MIN, "closed" when gap/IOD ≤ CLOSED_MAX; faces in between are left out of the
training folders (ambiguous) and labelled by the nearer side at inference. Thresholds were picked
from the LFW histogram (`python -m facefill.training.prepare_sacgan`): a closed mode at 0–0.06, a
dip at 0.06–0.11, a broad open mode 0.11–0.3 (Otsu: 0.13 on 300 photos).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES: tuple[str, ...] = ("mouth_closed", "mouth_open")  # sorted folder names = label indices
CLOSED_MAX = 0.06  # gap / inter-ocular distance at or below: closed
OPEN_MIN = 0.11  # at or above: open


@dataclass(frozen=True)
class MouthMeasure:
    gap: float  # inner-lip gap / inter-ocular distance
    width: float  # mouth-corner distance / inter-ocular distance


def mouth_measure(landmarks: np.ndarray) -> MouthMeasure:
    """Gap and width ratios from (68, 2) landmarks (any scale: both are ratios)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    iod = float(np.linalg.norm(pts[42:48].mean(0) - pts[36:42].mean(0)))
    if iod <= 0:
        raise ValueError("degenerate landmarks: the eye centres coincide")
    gap = np.mean([np.linalg.norm(pts[a] - pts[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
    width = np.linalg.norm(pts[54] - pts[48])
    return MouthMeasure(float(gap) / iod, float(width) / iod)


def mouth_class(measure: MouthMeasure, *, strict: bool = True) -> str | None:
    """'mouth_open' / 'mouth_closed'; None for an ambiguous gap when `strict` (training data)."""
    if measure.gap >= OPEN_MIN:
        return CLASSES[1]
    if measure.gap <= CLOSED_MAX:
        return CLASSES[0]
    if strict:
        return None
    return CLASSES[1] if measure.gap - CLOSED_MAX > OPEN_MIN - measure.gap else CLASSES[0]


def otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """The threshold that best splits `values` into two groups (Otsu, on a histogram)."""
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    best, best_t = -1.0, float(centres[0])
    for i in range(1, bins):
        w0, w1 = counts[:i].sum(), counts[i:].sum()
        if w0 == 0 or w1 == 0:
            continue
        m0 = (counts[:i] * centres[:i]).sum() / w0
        m1 = (counts[i:] * centres[i:]).sum() / w1
        between = w0 * w1 * (m0 - m1) ** 2
        if between > best:
            best, best_t = between, float(edges[i])
    return best_t
