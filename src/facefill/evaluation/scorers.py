"""Metrics that need networks: LPIPS (VGG), face identity (dlib 128-D; ArcFace), FID (Inception).

Each scorer is built only if its weights can be had; otherwise it is left out and a note says why
and how to enable it. A metric is never computed with random weights.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from facefill.errors import FacefillError
from facefill.runtime.context import RunContext


def _to_tensor(rgb: np.ndarray, device):
    import torch

    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().div(255.0)[None].to(device)


@dataclass
class TensorPairScorer:
    """A metric computed by a network on (result, target) batches of one [0,1] image each."""

    column: str
    score: Callable[[object, object], object]  # (N×3×H×W, N×3×H×W) -> N scores
    device: object = "cpu"

    def __call__(self, result: np.ndarray, target: np.ndarray, key: str) -> float:
        import torch

        with torch.inference_mode():
            return float(self.score(_to_tensor(result, self.device), _to_tensor(target, self.device))[0])


@dataclass
class DlibIdentityScorer:
    """Euclidean distance of dlib face embeddings (< 0.6: same person); the target's is cached."""

    column: str = "id_dist_dlib"
    _targets: dict[str, np.ndarray | None] = field(default_factory=dict)

    def _embed(self, rgb: np.ndarray) -> np.ndarray | None:
        from facefill.faces.embedding import face_embedding

        found = face_embedding(rgb)
        if found is None:  # tight face crops: use the whole image as the face box
            found = face_embedding(rgb, box=(0, 0, rgb.shape[1], rgb.shape[0]))
        return found

    def __call__(self, result: np.ndarray, target: np.ndarray, key: str) -> float | None:
        from facefill.faces.embedding import identity_distance

        if key not in self._targets:
            self._targets[key] = self._embed(target)
        ref = self._targets[key]
        emb = self._embed(result)
        return None if ref is None or emb is None else identity_distance(emb, ref)


@dataclass
class FidCollector:
    """Collects Inception pool3 features of ground truths and of each model's results."""

    model: object
    device: object
    features: dict[str, list[np.ndarray]] = field(default_factory=lambda: defaultdict(list))

    def add(self, group: str, rgb: np.ndarray) -> None:
        import torch

        with torch.inference_mode():
            self.features[group].append(self.model(_to_tensor(rgb, self.device)).flatten().cpu().numpy())

    def distances(self, real: str = "__real__") -> dict[str, float | None]:
        """FID of each model's results against the ground truths (None with fewer than 2 samples)."""
        from facefill.evaluation.metrics import frechet_distance_of_features

        real_feats = np.stack(self.features[real]) if self.features[real] else None
        out: dict[str, float | None] = {}
        for group, feats in self.features.items():
            if group == real:
                continue
            if real_feats is None or len(feats) < 2 or len(real_feats) < 2:
                out[group] = None
                continue
            out[group] = frechet_distance_of_features(np.stack(feats), real_feats)
        return out




def _try(
    what: str, needs: tuple[str, ...], notes: list[str], build: Callable[[], object], context: RunContext
) -> object | None:
    """Build a scorer from weights already on this machine; eval never starts a large download."""
    from facefill.weights import locate

    missing = [name for name in needs if locate(name, context) is None]
    if missing:
        notes.append(
            f"{what} skipped: weights not present; run `facefill weights download {' '.join(missing)}`"
        )
        return None
    try:
        return build()
    except FacefillError as exc:
        notes.append(f"{what} skipped: {exc}")
    return None


def build_scorers(
    device, context: RunContext, *, lpips: bool = True, identity: bool = True, fid: bool = True,
    notes: list[str],
) -> tuple[list, FidCollector | None]:
    """The scorers whose weights `context` can find (--weights, cache); a note for each one left out."""
    from facefill import weights
    from facefill.pipelines.pretrained import load_pretrained

    scorers: list = []
    if lpips:

        def make_lpips():
            from facefill.models.lpips import lpips_from_parts

            lin = weights.load_state_dict("lpips-vgg-lin", context)
            vgg = weights.load_state_dict("vgg16-imagenet", context)
            model = lpips_from_parts(lin, vgg).to(device)
            # LPIPS v0.1 (VGG), lower is more similar.
            return TensorPairScorer("lpips", lambda a, b: model(a, b, normalize=True), device)

        found = _try("LPIPS", ("lpips-vgg-lin", "vgg16-imagenet"), notes, make_lpips, context)
        if found is not None:
            scorers.append(found)
    if identity:
        try:
            from facefill.faces.embedding import _encoder

            _encoder()
            scorers.append(DlibIdentityScorer())
        except (FacefillError, RuntimeError, ImportError) as exc:
            notes.append(f"dlib identity distance skipped: {exc}")

        def make_arcface():
            from facefill.models.identity import IdentityEncoder

            backbone = load_pretrained("arcface-ir-se50", context, device="cpu")
            encoder = IdentityEncoder(backbone).eval().to(device)
            # Cosine similarity of ArcFace embeddings of aligned faces; 1 = same identity.
            return TensorPairScorer("id_cos_arcface", encoder.similarity, device)

        found = _try("ArcFace identity", ("arcface-ir-se50",), notes, make_arcface, context)
        if found is not None:
            scorers.append(found)
    collector = None
    if fid:

        def make_fid():
            return FidCollector(load_pretrained("fid-inception", context, device=device), device)

        collector = _try("FID", ("fid-inception",), notes, make_fid, context)
    return scorers, collector
