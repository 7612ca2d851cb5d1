"""The direction helper recovers a planted direction (InterFaceGAN recipe, torch linear classifiers)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facefill.models import build
from facefill.pipelines.discrete.derive import fit_boundary, sample_and_score


def _planted(n: int = 12000, dim: int = 512, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal(dim)
    truth /= np.linalg.norm(truth)
    scale = rng.uniform(0.5, 2.0, dim)  # anisotropic, like W
    latents = rng.standard_normal((n, dim)) * scale + rng.standard_normal(dim)
    scores = latents @ truth + 0.05 * rng.standard_normal(n)
    return latents, scores, truth


@pytest.mark.parametrize("method", ["svm", "logistic"])
def test_planted_direction_is_recovered(method):
    """12k samples in 512-d (the estimate's error shrinks like sqrt(dim / samples))."""
    latents, scores, truth = _planted()
    boundary = fit_boundary(latents, scores, ratio=0.3, method=method)
    cosine = float(boundary.normal[0] @ truth)
    assert boundary.normal.shape == (1, 512)
    assert abs(np.linalg.norm(boundary.normal) - 1) < 1e-5
    assert cosine >= 0.95, cosine
    assert boundary.val_accuracy > 0.95 and boundary.positives == boundary.negatives == 3600


def test_sign_follows_the_scores():
    latents, scores, truth = _planted(seed=1)
    flipped = fit_boundary(latents, -scores, ratio=0.3)
    assert float(flipped.normal[0] @ truth) <= -0.95


def test_too_few_samples_is_an_error():
    with pytest.raises(ValueError, match="sample more"):
        fit_boundary(np.zeros((20, 4)), np.arange(20), ratio=0.02)


def test_sample_and_score_is_seeded_and_shaped():
    torch.manual_seed(0)
    g = build("stylegan2-generator", size=8).eval()
    brightness = lambda images: images.mean(dim=(1, 2, 3))  # noqa: E731
    w1, s1 = sample_and_score(g, brightness, 5, seed=3, batch=2)
    w2, s2 = sample_and_score(g, brightness, 5, seed=3, batch=2)
    assert w1.shape == (5, 512) and s1.shape == (5,)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(s1, s2)
    assert np.all((s1 >= 0) & (s1 <= 1))
