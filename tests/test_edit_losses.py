"""Each MaskFaceGAN loss term (spec edit.md §1.8) against a direct computation from its definition."""

from __future__ import annotations

import math

import torch

from edit_fakes import tiny_networks
from facefill.pipelines.edit import losses


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_masked_mse_is_mean_over_all_pixels_not_mask_area():
    a, b, m = _rand(2, 3, 8, 8, seed=1), _rand(2, 3, 8, 8, seed=2), _rand(2, 1, 8, 8, seed=3)
    for k in range(2):
        s = sum((a[k, c, y, x] - b[k, c, y, x]).item() ** 2 * m[k, 0, y, x].item()
                for c in range(3) for y in range(8) for x in range(8))
        assert math.isclose(losses.masked_mse(a, b, m)[k].item(), s / (3 * 64), rel_tol=1e-5)
    half = torch.zeros(1, 1, 8, 8)
    half[..., :4] = 1
    # a half mask halves the loss of a uniform error (area normalisation would keep it)
    full = losses.masked_mse(a[:1], b[:1] * 0 + a[:1] + 0.5, torch.ones(1, 1, 8, 8))
    assert math.isclose(losses.masked_mse(a[:1], a[:1] + 0.5, half).item(), full.item() / 2, rel_tol=1e-6)


def _block_mean(mask: torch.Tensor, size: int) -> torch.Tensor:
    f = mask.shape[-1] // size
    return mask.reshape(mask.shape[0], 1, size, f, size, f).mean(dim=(3, 5))


def test_masked_lpips_downsamples_the_mask_per_level_and_means_over_all_pixels():
    lp = tiny_networks().lpips
    a, b, m = _rand(2, 3, 32, 32, seed=4), _rand(2, 3, 32, 32, seed=5), _rand(2, 1, 32, 32, seed=6)
    with torch.no_grad():
        got = losses.masked_lpips(lp, a, b, m)
        fa, fb = lp.net(lp.scaling_layer(a * 2 - 1)), lp.net(lp.scaling_layer(b * 2 - 1))
        want = torch.zeros(2)
        for k, (x, y) in enumerate(zip(fa, fb, strict=True)):
            nx = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            ny = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            d = (nx - ny) ** 2 * _block_mean(m, x.shape[-1])
            w = lp.lins[k].model[1].weight.view(-1)
            want += torch.einsum("nchw,c->nhw", d, w).mean(dim=(1, 2))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)
    with torch.no_grad():
        assert (losses.masked_lpips(lp, a, b, m * 0) == 0).all()


def test_bernoulli_kl_and_classifier_loss():
    p = torch.tensor([[0.2, 0.7], [0.9, 0.5]])
    t = 0.95
    want = [[t * math.log(t / q) + (1 - t) * math.log((1 - t) / (1 - q)) for q in row] for row in p.tolist()]
    torch.testing.assert_close(losses.bernoulli_kl(t, p), torch.tensor(want), rtol=1e-5, atol=1e-7)
    logits = torch.logit(p)
    got = losses.classifier_loss(logits, torch.full((2, 2), t))
    torch.testing.assert_close(got, torch.tensor(want).mean(1), rtol=1e-5, atol=1e-7)
    assert losses.bernoulli_kl(0.3, torch.tensor([0.3])).abs().item() < 1e-6  # KL(t‖t) = 0


def test_size_loss_targets_size_times_original_fraction():
    orig, gen = torch.tensor([0.1]), torch.tensor([0.15])
    assert losses.size_loss(orig, gen, 1.5).abs().item() < 1e-6
    assert losses.size_loss(orig, torch.tensor([0.1]), 1.5).item() > 0


def _reference_noise_reg(noise: torch.Tensor) -> float:
    """The StyleGAN2 projector regulariser on ONE image (whole-tensor means)."""
    loss, size = 0.0, noise.shape[-1]
    while True:
        loss += (noise * torch.roll(noise, 1, dims=3)).mean().item() ** 2
        loss += (noise * torch.roll(noise, 1, dims=2)).mean().item() ** 2
        if size <= 8:
            break
        noise = noise.reshape(1, 1, size // 2, 2, size // 2, 2).mean(dim=(3, 5))
        size //= 2
    return loss


def test_noise_regulariser_is_the_projector_one_per_image():
    maps = [torch.randn(3, 1, r, r, generator=torch.Generator().manual_seed(r)) for r in (4, 8, 16, 32)]
    got = losses.noise_regularize(maps)
    for k in range(3):
        want = sum(_reference_noise_reg(m[k : k + 1]) for m in maps)
        assert math.isclose(got[k].item(), want, rel_tol=1e-5)


def test_noise_normalisation_per_image_in_place():
    n = torch.randn(2, 1, 16, 16) * torch.tensor([3.0, 0.5]).view(2, 1, 1, 1) + 2
    leaf = n.clone().requires_grad_(True)
    losses.noise_normalize_([leaf])
    for k in range(2):
        assert abs(leaf[k].mean().item()) < 1e-5 and abs(leaf[k].std().item() - 1) < 1e-5
        torch.testing.assert_close(leaf[k].detach(), (n[k] - n[k].mean()) / n[k].std())
