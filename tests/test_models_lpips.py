"""LPIPS v0.1 (VGG16) in MaskFaceGAN's module layout; assembly from the public weight files."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from facefill.errors import WeightsError
from facefill.models import build, load_strict
from facefill.models.lpips import assemble_state_dict, lpips_from_parts
from manifest_utils import load_manifest, random_state_dict, shapes_of

torch.set_num_threads(1)
MANIFEST = "maskfacegan_lpips_vgg_module"
LIN_MANIFEST = "lpips_vgg_v0.1_lin_weights"
SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
TAPS = (3, 8, 15, 22, 29)  # torchvision features indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12))


@pytest.fixture(scope="module")
def parts() -> tuple[dict, torch.nn.Module]:
    """Random lin file (5 keys, non-negative as trained) and a random torchvision-layout VGG16."""
    lin = {k: v.abs() for k, v in random_state_dict(LIN_MANIFEST, seed=6).items()}
    vgg = build("vgg16", include_classifier=False)
    load_strict(vgg, random_state_dict(shapes_of(vgg.state_dict()), seed=7))
    return lin, vgg.eval()


@pytest.fixture(scope="module")
def lpips(parts: tuple[dict, torch.nn.Module]) -> torch.nn.Module:
    lin, vgg = parts
    return lpips_from_parts(lin, vgg.state_dict())


def test_state_dict_matches_manifest_exactly() -> None:
    assert list(shapes_of(build("lpips-vgg").state_dict()).items()) == list(load_manifest(MANIFEST).items())


def test_vgg16_has_torchvision_layout() -> None:
    with torch.device("meta"):  # shapes only: skips initialising the 120M classifier weights
        model = build("vgg16").eval()
    convs = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
    expected = [f"features.{i}.{leaf}" for i in convs for leaf in ("weight", "bias")]
    expected += [f"classifier.{i}.{leaf}" for i in (0, 3, 6) for leaf in ("weight", "bias")]
    sd = model.state_dict()
    assert list(sd) == expected
    assert sd["features.28.weight"].shape == (512, 512, 3, 3)
    assert sd["classifier.0.weight"].shape == (4096, 25088)
    assert [type(model.features[i]).__name__ for i in (4, 9, 16, 23, 30)] == ["MaxPool2d"] * 5
    with torch.no_grad():
        assert model(torch.rand(1, 3, 32, 32, device="meta")).shape == (1, 1000)


def test_module_dict_loads_strictly_and_lins_alias_lin() -> None:
    model = build("lpips-vgg")
    sd = random_state_dict(MANIFEST, seed=8)
    for k in range(5):  # in a real module dict both names hold the same tensor
        sd[f"lins.{k}.model.1.weight"] = sd[f"lin{k}.model.1.weight"]
    load_strict(model, sd)
    assert model.lins[3] is model.lin3
    assert torch.equal(model.lin3.model[1].weight, sd["lin3.model.1.weight"])
    assert torch.equal(getattr(model.net.slice4, "19").weight, sd["net.slice4.19.weight"])


def test_assembled_dict_has_manifest_keys_and_vgg_tensors(parts: tuple[dict, torch.nn.Module]) -> None:
    lin, vgg = parts
    full = {**vgg.state_dict(), "classifier.6.bias": torch.zeros(1000)}  # as in a full vgg16 file
    sd = assemble_state_dict(lin, full)  # classifier keys are ignored
    assert shapes_of(sd) == load_manifest(MANIFEST)
    assert torch.equal(sd["net.slice3.12.weight"], vgg.state_dict()["features.12.weight"])
    assert torch.equal(sd["lins.2.model.1.weight"], lin["lin2.model.1.weight"])
    with pytest.raises(WeightsError, match="lin4.model.1.weight"):
        assemble_state_dict({k: v for k, v in lin.items() if not k.startswith("lin4")}, vgg.state_dict())


def test_slices_tap_torchvision_vgg16_features(lpips: torch.nn.Module, parts: tuple) -> None:
    _, vgg = parts
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        taps = lpips.net(x)
        for out, idx in zip(taps, TAPS, strict=True):
            torch.testing.assert_close(out, vgg.features[: idx + 1](x))


def _reference(x0: torch.Tensor, x1: torch.Tensor, vgg: torch.nn.Module, lin: dict,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """LPIPS written out from its definition (masks resized straight from full resolution)."""
    total = torch.zeros(x0.shape[0], dtype=x0.dtype)
    f0, f1 = ((2 * x - 1 - SHIFT) / SCALE for x in (x0, x1))
    start = 0
    for k, idx in enumerate(TAPS):
        f0, f1 = vgg.features[start: idx + 1](f0), vgg.features[start: idx + 1](f1)
        start = idx + 1
        n0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        n1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        d = (n0 - n1) ** 2
        if mask is not None:
            d = d * F.adaptive_avg_pool2d(mask, d.shape[-2:])
        w = lin[f"lin{k}.model.1.weight"].view(1, -1, 1, 1)
        total = total + (d * w).sum(1).mean(dim=(1, 2))
    return total


def test_distance_matches_definition(lpips: torch.nn.Module, parts: tuple) -> None:
    lin, vgg = parts
    x0, x1 = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    mask = (torch.rand(2, 1, 32, 32) > 0.5).float()
    with torch.no_grad():
        torch.testing.assert_close(lpips(x0, x1), _reference(x0, x1, vgg, lin))
        torch.testing.assert_close(lpips(x0, x1, mask=mask), _reference(x0, x1, vgg, lin, mask))


def test_identity_symmetry_and_mask_extremes(lpips: torch.nn.Module) -> None:
    x0, x1 = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        d01, d10 = lpips(x0, x1), lpips(x1, x0)
        assert d01.shape == (2,)
        assert torch.equal(lpips(x0, x0), torch.zeros(2))
        torch.testing.assert_close(d01, d10)
        assert (d01 > 0).all()
        torch.testing.assert_close(lpips(x0, x1, mask=torch.ones(2, 1, 32, 32)), d01)
        assert torch.equal(lpips(x0, x1, mask=torch.zeros(2, 1, 32, 32)), torch.zeros(2))
        # normalize=False expects [-1,1] inputs: the same distance.
        torch.testing.assert_close(lpips(2 * x0 - 1, 2 * x1 - 1, normalize=False), d01)


def test_gradients_reach_the_inputs(lpips: torch.nn.Module) -> None:
    x0 = torch.rand(1, 3, 32, 32, requires_grad=True)
    lpips(x0, torch.rand(1, 3, 32, 32)).sum().backward()
    assert torch.isfinite(x0.grad).all() and x0.grad.abs().sum() > 0


def test_float32_agrees_with_float64(lpips: torch.nn.Module) -> None:
    x0, x1 = torch.rand(1, 3, 32, 32, dtype=torch.float64), torch.rand(1, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        assert _rel_err(lpips(x0.float(), x1.float()), copy.deepcopy(lpips).double()(x0, x1)) < 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(lpips: torch.nn.Module) -> None:
    x0, x1 = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        cpu = lpips(x0, x1)
        gpu = copy.deepcopy(lpips).cuda()(x0.cuda(), x1.cuda()).cpu()
    assert _rel_err(gpu, cpu) < 1e-3
