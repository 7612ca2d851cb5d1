"""SPL generator and discriminator: manifest layouts (strict, ordered), region norm semantics, dtypes."""

from __future__ import annotations

import copy

import pytest
import torch

from facefill.models import build, from_checkpoint, load_strict
from facefill.models.spl import SPLGenerator
from facefill.models.spl_blocks import RegionNormL, region_instance_norm
from facefill.models.spl_discriminator import SPLDiscriminator
from manifest_utils import load_manifest, shapes_of

TINY = {
    "residual_blocks": 1,
    "dense_blocks": 2,
    "dense_layers": 2,
    "dense_growth": 8,
    "prior_channels": 32,
    "width": 8,
}


def test_state_dicts_match_manifests_in_order():
    with torch.device("meta"):
        generator = build("spl-generator")
    assert list(shapes_of(generator.state_dict()).items()) == list(load_manifest("spl_generator").items())
    assert round(sum(p.numel() for p in generator.parameters()) / 1e6, 2) == 45.60  # spec §3.2
    discriminator = SPLDiscriminator()
    assert list(shapes_of(discriminator.state_dict()).items()) == list(
        load_manifest("spl_discriminator").items()
    )
    assert discriminator.conv1 is discriminator.features  # aliased in the original, both keys stored


def _meta_state_dict(manifest: str, prefix: str) -> dict[str, torch.Tensor]:
    return {prefix + k: torch.empty(shape, device="meta") for k, shape in load_manifest(manifest).items()}


def test_ddp_checkpoint_layout_loads_strictly():
    """`InpaintingModel.state_dict()` under DDP: generator.module.* (the evaluator strips `module.`)."""
    full = {
        **_meta_state_dict("spl_generator", "generator.module."),
        **_meta_state_dict("spl_discriminator", "discriminator.module."),
    }
    generator_sd = {
        k.removeprefix("generator.module."): v for k, v in full.items() if k.startswith("generator.")
    }
    with torch.device("meta"):
        model = SPLGenerator()
    load_strict(model, generator_sd)  # every key and shape of the original fits
    generator_sd.pop("rdbs.15.lff.bias")
    with pytest.raises(Exception, match="missing"):
        load_strict(model, generator_sd)


def test_tiny_checkpoint_round_trips_through_from_checkpoint():
    torch.manual_seed(0)
    state = SPLGenerator(**TINY).state_dict()
    model = from_checkpoint("spl-generator", state, **TINY)
    torch.testing.assert_close(model.decoder[9].weight, state["decoder.9.weight"])


def test_region_instance_norm_normalises_each_region_on_its_own_pixels():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64) * 3 + 1
    region = torch.zeros(2, 1, 8, 8, dtype=torch.float64)
    region[0, :, :3, :5] = 1
    region[1, :, 4:, :] = 1
    out = region_instance_norm(x, region)
    eps, pixels = 1e-5, 64
    for n in range(2):
        for inside in (region[n, 0] > 0.5, region[n, 0] < 0.5):
            values = x[n][:, inside]  # C × area
            area = values.shape[1]
            mean, var = values.mean(1, keepdim=True), values.var(1, unbiased=False, keepdim=True)
            # IN of the mean-filled map, rescaled by sqrt(area share): eps acts as eps·HW/area
            expected = (values - mean) / torch.sqrt(var + eps * pixels / area)
            torch.testing.assert_close(out[n][:, inside], expected)


def test_region_norm_l_uses_the_thresholded_importance_map():
    torch.manual_seed(0)
    layer = RegionNormL(4).double()
    x = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    importance, gamma, beta = layer.sa(x)
    region = (importance >= 0.8).double().expand_as(x)
    torch.testing.assert_close(layer(x), region_instance_norm(x, region) * (1 + gamma) + beta)


def _tiny_inputs(dtype=torch.float32):
    gen = torch.Generator().manual_seed(3)
    image = torch.rand(2, 3, 32, 32, generator=gen, dtype=dtype)
    mask = torch.zeros(2, 1, 32, 32, dtype=dtype)
    mask[0, :, 4:20, 8:28] = 1
    mask[1, :, 16:, :10] = 1
    return image, mask


def test_float32_matches_float64_and_output_range():
    torch.manual_seed(0)
    net = SPLGenerator(**TINY).eval()
    with torch.no_grad():  # non-zero RN-B affines so they take part
        for name, p in net.named_parameters():
            if "ground_" in name:
                p.normal_(0, 0.3)
    image, mask = _tiny_inputs()
    with torch.no_grad():
        out32, prior32 = net(image, mask)
    out64, prior64 = copy.deepcopy(net).double()(image.double(), mask.double())
    assert out32.shape == (2, 3, 32, 32) and prior32.shape == (2, 152, 8, 8)  # prior at 512²/8 = 2× input/8
    assert float(out32.min()) >= 0 and float(out32.max()) <= 1
    torch.testing.assert_close(out32.double(), out64, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(prior32.double(), prior64, atol=1e-5, rtol=1e-5)


def test_hole_pixels_never_reach_either_branch():
    torch.manual_seed(0)
    net = SPLGenerator(**TINY).eval()
    image, mask = _tiny_inputs()
    other = image * (1 - mask) + torch.rand_like(image) * mask
    for a, b in zip(net(image, mask), net(other, mask), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_discriminator_patch_map_size_and_range():
    torch.manual_seed(0)
    disc = SPLDiscriminator().eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        scores = disc(image)
        disc.use_sigmoid = False
        logits = disc(image)
    assert scores.shape == (1, 1, 6, 6)  # 64 → 32 → 16 → 8 → 7 → 6 (30×30 at 256²)
    torch.testing.assert_close(scores, torch.sigmoid(logits))
