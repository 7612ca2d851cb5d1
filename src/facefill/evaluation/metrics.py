"""Pixel metrics on uint8 RGB composites: PSNR, SSIM (Wang et al., Gaussian window), L1.

Written in numpy/scipy so they run anywhere; they agree with scikit-image's
``peak_signal_noise_ratio`` and ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255)`` (tested), which is the convention most inpainting
papers mean by "SSIM".
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import correlate1d

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


def _gaussian_kernel(sigma: float, truncate: float) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _filter(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    out = correlate1d(img, kernel, axis=0, mode="reflect")
    return correlate1d(out, kernel, axis=1, mode="reflect")


def ssim(
    result: np.ndarray,
    target: np.ndarray,
    data_range: float = DATA_RANGE,
    sigma: float = 1.5,
    truncate: float = 3.5,
) -> float:
    """Mean SSIM with an 11×11 Gaussian window (σ = 1.5), averaged over channels.

    The border of half a window is excluded from the mean, as scikit-image does, so the result
    does not depend on how the image edge is padded.
    """
    x, y = _as_float(result), _as_float(target)
    if x.shape != y.shape:
        raise ValueError(f"ssim: shapes differ {x.shape} vs {y.shape}")
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    kernel = _gaussian_kernel(sigma, truncate)
    pad = (len(kernel) - 1) // 2
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    scores = []
    for ch in range(x.shape[2]):
        a, b = x[..., ch], y[..., ch]
        mu_a, mu_b = _filter(a, kernel), _filter(b, kernel)
        var_a = _filter(a * a, kernel) - mu_a**2
        var_b = _filter(b * b, kernel) - mu_b**2
        cov = _filter(a * b, kernel) - mu_a * mu_b
        num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
        den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
        smap = num / den
        scores.append(smap[pad:-pad, pad:-pad].mean() if pad else smap.mean())
    return float(np.mean(scores))


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (rows = samples, unbiased) of a (N, D) feature array, as pytorch-fid."""
    feats = np.asarray(features, dtype=np.float64)
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def _sqrtm(a: np.ndarray) -> np.ndarray:
    from scipy import linalg  # only FID needs scipy; keep it out of the model registry's imports

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-singular products are handled by the caller
        return linalg.sqrtm(a)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """‖μ1−μ2‖² + Tr(Σ1 + Σ2 − 2·sqrt(Σ1Σ2)), computed as pytorch-fid does.

    If the matrix square root is not finite (singular product), `eps` is added to both diagonals
    and it is recomputed; a small imaginary part from numerical error is dropped (an imaginary
    diagonal above 1e-3 is an error).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"frechet_distance: shapes differ {mu1.shape}/{sigma1.shape} vs "
                         f"{mu2.shape}/{sigma2.shape}")
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"frechet_distance: imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
