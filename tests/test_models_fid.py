"""FID InceptionV3 (pytorch-fid variant) and the Fréchet distance.

There is no manifest for this network. The expected keys below were written from the sources:
torchvision `models/inception.py` (Inception3 with aux_logits=False: BasicConv2d = conv without
bias + BatchNorm(eps=0.001); block channel tables of InceptionA..E) and pytorch-fid
`src/pytorch_fid/inception.py` (`fid_inception_v3`: Inception3(num_classes=1008, aux_logits=False)
with Mixed_5b..5d, 6b..6e, 7b, 7c replaced by FIDInceptionA/C/E_1/E_2, which subclass the torchvision
blocks and so keep their parameters). The published `pt_inception-2015-12-05-6726825d.pth` is the
state_dict of that network.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facefill.evaluation.metrics import feature_statistics, frechet_distance
from facefill.models import build, load_strict
from manifest_utils import random_state_dict, shapes_of

torch.set_num_threads(1)


def _block_a(cin: int, pool: int) -> list[tuple]:
    return [("branch1x1", cin, 64, 1, 1), ("branch5x5_1", cin, 48, 1, 1), ("branch5x5_2", 48, 64, 5, 5),
            ("branch3x3dbl_1", cin, 64, 1, 1), ("branch3x3dbl_2", 64, 96, 3, 3),
            ("branch3x3dbl_3", 96, 96, 3, 3), ("branch_pool", cin, pool, 1, 1)]


def _block_b(cin: int) -> list[tuple]:
    return [("branch3x3", cin, 384, 3, 3), ("branch3x3dbl_1", cin, 64, 1, 1),
            ("branch3x3dbl_2", 64, 96, 3, 3), ("branch3x3dbl_3", 96, 96, 3, 3)]


def _block_c(cin: int, c7: int) -> list[tuple]:
    return [("branch1x1", cin, 192, 1, 1), ("branch7x7_1", cin, c7, 1, 1), ("branch7x7_2", c7, c7, 1, 7),
            ("branch7x7_3", c7, 192, 7, 1), ("branch7x7dbl_1", cin, c7, 1, 1),
            ("branch7x7dbl_2", c7, c7, 7, 1), ("branch7x7dbl_3", c7, c7, 1, 7),
            ("branch7x7dbl_4", c7, c7, 7, 1), ("branch7x7dbl_5", c7, 192, 1, 7),
            ("branch_pool", cin, 192, 1, 1)]


def _block_d(cin: int) -> list[tuple]:
    return [("branch3x3_1", cin, 192, 1, 1), ("branch3x3_2", 192, 320, 3, 3),
            ("branch7x7x3_1", cin, 192, 1, 1), ("branch7x7x3_2", 192, 192, 1, 7),
            ("branch7x7x3_3", 192, 192, 7, 1), ("branch7x7x3_4", 192, 192, 3, 3)]


def _block_e(cin: int) -> list[tuple]:
    return [("branch1x1", cin, 320, 1, 1), ("branch3x3_1", cin, 384, 1, 1),
            ("branch3x3_2a", 384, 384, 1, 3), ("branch3x3_2b", 384, 384, 3, 1),
            ("branch3x3dbl_1", cin, 448, 1, 1), ("branch3x3dbl_2", 448, 384, 3, 3),
            ("branch3x3dbl_3a", 384, 384, 1, 3), ("branch3x3dbl_3b", 384, 384, 3, 1),
            ("branch_pool", cin, 192, 1, 1)]


def expected_fid_inception_keys() -> dict[str, list[int]]:
    units = [("Conv2d_1a_3x3", 3, 32, 3, 3), ("Conv2d_2a_3x3", 32, 32, 3, 3), ("Conv2d_2b_3x3", 32, 64, 3, 3),
             ("Conv2d_3b_1x1", 64, 80, 1, 1), ("Conv2d_4a_3x3", 80, 192, 3, 3)]
    blocks = [
        ("Mixed_5b", _block_a(192, 32)), ("Mixed_5c", _block_a(256, 64)), ("Mixed_5d", _block_a(288, 64)),
        ("Mixed_6a", _block_b(288)), ("Mixed_6b", _block_c(768, 128)), ("Mixed_6c", _block_c(768, 160)),
        ("Mixed_6d", _block_c(768, 160)), ("Mixed_6e", _block_c(768, 192)), ("Mixed_7a", _block_d(768)),
        ("Mixed_7b", _block_e(1280)), ("Mixed_7c", _block_e(2048)),
    ]
    units += [(f"{block}.{name}", *rest) for block, table in blocks for name, *rest in table]
    keys: dict[str, list[int]] = {}
    for name, cin, cout, kh, kw in units:
        keys[f"{name}.conv.weight"] = [cout, cin, kh, kw]
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            keys[f"{name}.bn.{leaf}"] = [cout]
        keys[f"{name}.bn.num_batches_tracked"] = []
    keys["fc.weight"], keys["fc.bias"] = [1008, 2048], [1008]
    return keys


@pytest.fixture(scope="module")
def inception() -> torch.nn.Module:
    model = build("fid-inception")
    load_strict(model, random_state_dict(expected_fid_inception_keys(), seed=9))
    return model.eval()


def test_keys_and_shapes_follow_pytorch_fid() -> None:
    expected = expected_fid_inception_keys()
    assert len(expected) == 94 * 6 + 2 == 566
    assert list(shapes_of(build("fid-inception").state_dict()).items()) == list(expected.items())
    norms = [m for m in build("fid-inception").modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 94 and all(bn.eps == 0.001 for bn in norms)


def test_pool3_features_and_block_sizes_at_299(inception: torch.nn.Module) -> None:
    seen: dict[str, tuple] = {}
    hooks = [
        getattr(inception, n).register_forward_hook(
            lambda _m, _i, out, n=n: seen.__setitem__(n, tuple(out.shape[1:])))
        for n in ("Mixed_5d", "Mixed_6e", "Mixed_7c")
    ]
    with torch.no_grad():
        feats = inception(torch.rand(1, 3, 128, 160))  # any size: resized to 299 first
    for h in hooks:
        h.remove()
    assert feats.shape == (1, 2048) and torch.isfinite(feats).all()
    assert seen == {"Mixed_5d": (288, 35, 35), "Mixed_6e": (768, 17, 17), "Mixed_7c": (2048, 8, 8)}


def _pool_branch_io(model: torch.nn.Module, block: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(input of `block`, input of its branch_pool conv) for one forward pass."""
    got: dict[str, torch.Tensor] = {}
    mod = getattr(model, block)
    h1 = mod.register_forward_pre_hook(lambda _m, args: got.__setitem__("in", args[0].clone()))
    h2 = mod.branch_pool.register_forward_pre_hook(lambda _m, args: got.__setitem__("pool", args[0].clone()))
    with torch.no_grad():
        model(x)
    h1.remove()
    h2.remove()
    return got["in"], got["pool"]


@pytest.mark.parametrize("block", ["Mixed_5b", "Mixed_6b", "Mixed_7b"])
def test_fid_blocks_average_without_padding(inception: torch.nn.Module, block: str) -> None:
    x, pooled = _pool_branch_io(inception, block, torch.rand(1, 3, 299, 299))
    torch.testing.assert_close(pooled, F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
    assert not torch.allclose(pooled, F.avg_pool2d(x, 3, 1, 1, count_include_pad=True))


def test_last_block_max_pools(inception: torch.nn.Module) -> None:
    x, pooled = _pool_branch_io(inception, "Mixed_7c", torch.rand(1, 3, 299, 299))
    torch.testing.assert_close(pooled, F.max_pool2d(x, 3, 1, 1))


def test_input_is_resized_bilinearly_and_mapped_to_minus_one_one(inception: torch.nn.Module) -> None:
    got: dict[str, torch.Tensor] = {}
    h = inception.Conv2d_1a_3x3.register_forward_pre_hook(lambda _m, args: got.__setitem__("x", args[0]))
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        inception(images)
    h.remove()
    expected = 2 * F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False) - 1
    torch.testing.assert_close(got["x"], expected)


def test_float32_agrees_with_float64(inception: torch.nn.Module) -> None:
    model = copy.deepcopy(inception)
    model.resize_input = False  # smallest valid input keeps this cheap
    x = torch.rand(2, 3, 75, 75, dtype=torch.float64)
    with torch.no_grad():
        a, b = model(x.float()), copy.deepcopy(model).double()(x)
    assert float((a.double() - b).abs().max() / b.abs().max()) < 1e-5


def test_feature_statistics_are_unbiased() -> None:
    mu, sigma = feature_statistics(np.array([[0.0, 1.0], [2.0, 5.0]]))
    np.testing.assert_allclose(mu, [1.0, 3.0])
    np.testing.assert_allclose(sigma, [[2.0, 4.0], [4.0, 8.0]])


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_noise() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16))
    mu, sigma = feature_statistics(feats)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6 * np.trace(sigma)
    dists = []
    for scale in (0.1, 0.5, 1.0, 2.0):
        mu_n, sigma_n = feature_statistics(feats + scale * rng.normal(size=feats.shape))
        dists.append(frechet_distance(mu, sigma, mu_n, sigma_n))
    assert all(a < b for a, b in zip(dists, dists[1:], strict=False)) and dists[0] > 0


def test_frechet_distance_matches_closed_form_for_diagonal_covariances() -> None:
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.5, 2, size=5), rng.uniform(0.5, 2, size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(0.0, 4.0, 1.0, 1.0) == pytest.approx(1.0 + (2.0 - 1.0) ** 2)


def test_frechet_distance_handles_singular_covariances() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 12)), rng.normal(size=(5, 12))  # fewer samples than dims: rank 4
    (mu_a, s_a), (mu_b, s_b) = feature_statistics(a), feature_statistics(b)
    d = frechet_distance(mu_a, s_a, mu_b, s_b)
    assert np.isfinite(d) and d > 0
    assert abs(frechet_distance(mu_a, s_a, mu_a, s_a)) < 1e-3 * np.trace(s_a)
    with pytest.raises(ValueError, match="shapes differ"):
        frechet_distance(mu_a, s_a, mu_b[:3], s_b[:3, :3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(inception: torch.nn.Module) -> None:
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        cpu = inception(x)
        gpu = copy.deepcopy(inception).cuda()(x.cuda()).cpu()
    assert float((gpu - cpu).abs().max() / cpu.abs().max()) < 1e-3
