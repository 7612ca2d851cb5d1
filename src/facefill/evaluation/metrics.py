"""Pixel metrics on uint8 RGB composites: PSNR, SSIM (Wang et al., Gaussian window), L1.

Written in numpy (SSIM via the training SSIM in torch, float64); they agree with scikit-image's
``peak_signal_noise_ratio`` and ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255)`` (tested), which is the convention most inpainting
papers mean by "SSIM".
"""

from __future__ import annotations

import numpy as np

DATA_RANGE = 255.0


def _as_float(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def psnr(result: np.ndarray, target: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (inf for identical images)."""
    mse = float(np.mean((_as_float(result) - _as_float(target)) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def l1(result: np.ndarray, target: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Mean absolute error as a fraction of the data range (0 = identical, 1 = opposite)."""
    return float(np.mean(np.abs(_as_float(result) - _as_float(target))) / data_range)


def ssim(
    result: np.ndarray,
    target: np.ndarray,
    data_range: float = DATA_RANGE,
    sigma: float = 1.5,
    truncate: float = 3.5,
) -> float:
    """Mean SSIM with an 11×11 Gaussian window (σ = 1.5), averaged over channels.

    The border of half a window is excluded from the mean, as scikit-image does, so the result
    does not depend on how the image edge is padded. Computed (in float64) by the SSIM facefill
    trains with, `facefill.training.losses.ssim`: one formula for training and scoring.
    """
    import torch

    from facefill.training.losses import ssim as ssim_tensor

    x, y = _as_float(result), _as_float(target)
    if x.shape != y.shape:
        raise ValueError(f"ssim: shapes differ {x.shape} vs {y.shape}")
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    size = 2 * int(truncate * sigma + 0.5) + 1
    if min(x.shape[:2]) < size:
        raise ValueError(f"ssim: images of {x.shape[1]}×{x.shape[0]} are smaller than the {size}-px window")

    def as_tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]

    return float(ssim_tensor(as_tensor(x), as_tensor(y), data_range=data_range, size=size, sigma=sigma))


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (rows = samples, unbiased) of a (N, D) feature array, as pytorch-fid."""
    feats = np.asarray(features, dtype=np.float64)
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (tiny negative eigenvalues -> 0)."""
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr(sqrt(Σ1·Σ2)) for covariance matrices.

    Σ1·Σ2 is similar to the symmetric PSD matrix Σ1^½·Σ2·Σ1^½, so the trace of its square root is
    the sum of the square roots of that matrix's eigenvalues. Two symmetric eigendecompositions take
    seconds at 2048×2048 where scipy's general `sqrtm` (pytorch-fid's route) takes about a minute,
    and singular covariances need no epsilon retry.
    """
    root = _psd_sqrt(sigma1)
    product = root @ sigma2 @ root
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖μ1−μ2‖² + Tr(Σ1) + Tr(Σ2) − 2·Tr(sqrt(Σ1Σ2)): the FID formula of pytorch-fid."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(
            f"frechet_distance: shapes differ {mu1.shape}/{sigma1.shape} vs {mu2.shape}/{sigma2.shape}"
        )
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2))


def frechet_distance_of_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two N×D feature sets; exact, and fast when there are fewer samples than dimensions.

    With centred features X1, X2, Σ1·Σ2 has the same non-zero eigenvalues as K·Kᵀ where
    K = X1·X2ᵀ / sqrt((n1−1)(n2−1)), so Tr(sqrt(Σ1Σ2)) is the sum of K's singular values: an
    n1×n2 problem instead of a D×D one (300 pairs against Inception's 2048 dimensions).
    """
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1] or min(len(f1), len(f2)) < 2:
        raise ValueError(
            f"frechet_distance_of_features: need N×D arrays with N >= 2, got {f1.shape}, {f2.shape}"
        )
    if min(len(f1), len(f2)) >= f1.shape[1]:
        return frechet_distance(*feature_statistics(f1), *feature_statistics(f2))
    mu1, mu2 = f1.mean(axis=0), f2.mean(axis=0)
    x1, x2 = f1 - mu1, f2 - mu2
    n1, n2 = len(f1) - 1, len(f2) - 1
    trace1, trace2 = float((x1 * x1).sum() / n1), float((x2 * x2).sum() / n2)
    cross = np.linalg.svd(x1 @ x2.T / np.sqrt(n1 * n2), compute_uv=False).sum()
    diff = mu1 - mu2
    return float(diff @ diff + trace1 + trace2 - 2.0 * cross)
