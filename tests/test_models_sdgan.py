"""SD-GAN fusion network and unsup3d networks: manifests (strict, ordered), reference semantics, dtypes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from facefill.models import build, from_checkpoint
from facefill.models.sdgan_fusion import ACE, LocallyConnected1d, SemanticFusionNetwork, Zencoder
from facefill.models.unsup3d import Unsup3d, flatten_unsup3d_checkpoint
from manifest_utils import load_manifest, random_state_dict, shapes_of

NETS = ("netD", "netA", "netL", "netV")


def _strip_module(manifest: dict[str, list[int]]) -> dict[str, list[int]]:
    return {key.removeprefix("module."): shape for key, shape in manifest.items()}


def test_fusion_state_dict_matches_manifest_in_order():
    with torch.device("meta"):
        net = build("sdgan-fusion")
    manifest = _strip_module(load_manifest("sdgan_semantic_fusion_network"))
    assert list(shapes_of(net.state_dict()).items()) == list(manifest.items())
    assert sum(math.prod(s) for s in manifest.values()) == 128_407_768 - 0  # manifest README total


@pytest.mark.parametrize("net", ["netD", "netA", "netL", "netV"])
def test_unsup3d_state_dicts_match_manifests_in_order(net):
    with torch.device("meta"):
        model = build("unsup3d")
    assert list(shapes_of(getattr(model, net).state_dict()).items()) == list(
        load_manifest(f"unsup3d_{net}").items()
    )


def _unsup3d_checkpoint(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    return {net: random_state_dict(f"unsup3d_{net}", seed=seed + i) for i, net in enumerate(NETS)}


def test_unsup3d_checkpoint_layout_loads_strictly():
    checkpoint = _unsup3d_checkpoint()
    model = from_checkpoint("unsup3d", flatten_unsup3d_checkpoint(checkpoint))
    torch.testing.assert_close(
        model.netL.state_dict()["network.10.weight"], checkpoint["netL"]["network.10.weight"]
    )
    bad = dict(flatten_unsup3d_checkpoint(checkpoint))
    bad.pop("netV.network.0.weight")
    with pytest.raises(Exception, match="missing"):
        from_checkpoint("unsup3d", bad)


# ---------------------------------------------------------------- reference loops (SD-GAN model.py)


def _zencoder_pool_reference(codes: torch.Tensor, segmap: torch.Tensor) -> torch.Tensor:
    segmap = F.interpolate(segmap, size=codes.shape[2:], mode="nearest")
    out = torch.zeros(codes.shape[0], segmap.shape[1], codes.shape[1], dtype=codes.dtype)
    for i in range(codes.shape[0]):
        for j in range(segmap.shape[1]):
            region = segmap.bool()[i, j]
            area = int(region.sum())
            if area > 0:
                out[i, j] = codes[i].masked_select(region).reshape(codes.shape[1], area).mean(1)
    return out


def _ace_middle_reference(ace: ACE, segmap: torch.Tensor, style: torch.Tensor, shape) -> torch.Tensor:
    middle = torch.zeros(shape, dtype=style.dtype)
    for i in range(shape[0]):
        for j in range(style.shape[1]):
            region = segmap.bool()[i, j]
            area = int(region.sum())
            if area > 0:
                mu = F.relu(getattr(ace, f"fc_mu{j}")(style[i][j]))
                middle[i].masked_scatter_(region, mu.reshape(-1, 1).expand(-1, area))
    return middle


@torch.no_grad()
def test_zencoder_region_pooling_matches_reference_loop():
    torch.manual_seed(0)
    enc = Zencoder(9, 512).double()
    maps = torch.randn(2, 9, 16, 16, dtype=torch.float64)
    segmap = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    segmap[0, 1] = 0  # an empty region -> zero code
    segmap[1, 2, :16] = 0
    ours = enc(maps, segmap)
    ref = _zencoder_pool_reference(enc.model(maps), segmap)
    assert ours.shape == (2, 3, 512)
    assert ours[0, 1].abs().max() == 0
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


@torch.no_grad()
def test_ace_scatter_matches_reference_loop():
    torch.manual_seed(1)
    ace = ACE().double()
    x = torch.randn(2, 512, 4, 4, dtype=torch.float64)
    segmap = torch.randn(2, 512, 4, 4, dtype=torch.float64)
    segmap[:, :3] *= torch.rand(2, 3, 4, 4) > 0.5  # sparse regions: overwrite order matters
    style = torch.randn(2, 3, 512, dtype=torch.float64)
    middle = _ace_middle_reference(ace, segmap, style, x.shape)
    g_s, b_s = ace.Spade(segmap)
    alpha_g, alpha_b = torch.sigmoid(ace.blending_gamma), torch.sigmoid(ace.blending_beta)
    gamma = alpha_g * ace.conv_gamma(middle) + (1 - alpha_g) * g_s
    beta = alpha_b * ace.conv_beta(middle) + (1 - alpha_b) * b_s
    expected = F.instance_norm(x) * (1 + gamma) + beta
    torch.testing.assert_close(ace(x, segmap, style), expected, rtol=1e-10, atol=1e-10)


@torch.no_grad()
def test_locally_connected_matches_reference_broadcast_sum():
    torch.manual_seed(2)
    layer = LocallyConnected1d(5, 3, 7).double()
    x = torch.randn(2, 5, 7, dtype=torch.float64)
    reference = (x.unfold(2, 1, 1).unsqueeze(1) * layer.weight).sum([2, -1])
    torch.testing.assert_close(layer(x), reference, rtol=1e-12, atol=1e-12)


def _fusion_state(net: SemanticFusionNetwork, seed: int) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        shapes = shapes_of(net.state_dict())
    return random_state_dict(shapes, seed=seed)


@torch.no_grad()
def test_fusion_forward_float32_matches_float64_and_rows_are_normalised():
    net = SemanticFusionNetwork(image_size=64)  # 4x4 fusion map: same blocks, small regressor
    net.load_state_dict(_fusion_state(net, 3))
    net.eval()
    gen = torch.Generator().manual_seed(4)
    face = torch.rand(2, 3, 64, 64, generator=gen) * 2 - 1
    template = torch.rand(2, 3, 64, 64, generator=gen) * 2 - 1
    canonical = torch.rand(2, 9, 32, 32, generator=gen) * 2 - 1
    out = net(face, template, canonical)
    assert out.shape == (2, 14, 512)
    net64 = SemanticFusionNetwork(image_size=64).double().eval()
    net64.load_state_dict(
        {k: v.double() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    )
    out64 = net64(face.double(), template.double(), canonical.double())
    assert ((out.double() - out64).abs().max() / out64.abs().max()) < 1e-5
    # InstanceNorm1d(affine): row l has mean in3.bias[l] and std |in3.weight[l]|
    torch.testing.assert_close(out64.mean(-1), net64.regre.in3.bias.expand(2, -1), rtol=1e-6, atol=1e-6)
    # batch independence: item 1 alone == item 1 in the batch
    torch.testing.assert_close(net(face[1:], template[1:], canonical[1:]), out[1:], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- unsup3d maths


@torch.no_grad()
def test_unsup3d_maps_ranges_and_float64_agreement():
    model = Unsup3d()
    checkpoint = _unsup3d_checkpoint()
    model.load_state_dict(flatten_unsup3d_checkpoint(checkpoint))
    model.eval()
    faces = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(5)) * 2 - 1
    maps = model(faces)
    assert set(maps) == {"depth", "normal", "shading", "albedo", "image"}
    for name, value in maps.items():
        assert value.shape == (2, 3, 128, 128), name
        assert value.min() >= -1e-6 and value.max() <= 1 + 1e-6, name
    model64 = Unsup3d().double()
    model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    maps64 = model64(faces.double())
    for net in ("netD", "netA", "netL", "netV"):  # the networks themselves (43 layers deep): 1e-5 relative L2
        a, b = getattr(model, net)(faces).double(), getattr(model64, net)(faces.double())
        assert (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b)) < 1e-5, net
    # Normals differentiate depth (differences of ~1e-3 between values ~1.0), which amplifies
    # float32 rounding of the depth itself; the derived maps agree to 1e-3.
    for name in maps:
        assert (maps[name].double() - maps64[name]).abs().max() < 1e-3, name


def test_unsup3d_normals_of_a_flat_plane_face_the_camera():
    model = Unsup3d()
    depth = torch.full((1, 9, 9), 1.0)
    normal = model.normals(depth)
    assert normal[..., :2].abs().max() < 1e-6
    assert normal[..., 2].min() > 0.99  # the reference's EPS in the normalisation keeps |n| just under 1
    # a plane tilted along x: inside the border the normals lean against the slope, not along y
    ramp = 1.0 + 0.01 * torch.arange(9, dtype=torch.float32)[None, None, :].expand(1, 9, 9)
    inner = model.normals(ramp)[0, 1:-1, 1:-1]
    assert (inner[..., 0] < 0).all() and (inner[..., 2] > 0).all()
    assert inner[..., 1].abs().max() < 1e-3  # no tilt along y


def test_unsup3d_depth_border_is_fixed():
    model = Unsup3d()
    checkpoint = _unsup3d_checkpoint(9)
    model.load_state_dict(flatten_unsup3d_checkpoint(checkpoint))
    with torch.no_grad():
        depth = model.canonical_depth(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert torch.all(depth[:, :, :2] == 1.05) and torch.all(depth[:, :, -2:] == 1.05)
    assert depth.min() >= 0.9 - 1e-6 and depth.max() <= 1.1 + 1e-6


# ---------------------------------------------------------------- checkpoint layouts through weights.toml


def _meta(manifest: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    return {key: torch.empty(shape, device="meta") for key, shape in manifest.items()}


@pytest.mark.parametrize("attribute", ["mask", "glasses", "sunglasses"])
def test_fusion_checkpoint_layout_maps_onto_the_module(attribute):
    """checkpoint_latest.pt = {'model': DataParallel state_dict}: the entry's key map strips `module.`."""
    from facefill.weights.keymap import apply_keymap
    from facefill.weights.registry import entry

    e = entry(f"sdgan-fusion-{attribute}")
    state = apply_keymap({"model": _meta(load_manifest("sdgan_semantic_fusion_network"))}, e.keymap, what="t")
    with torch.device("meta"):
        net = build(e.architecture, **e.config)
    assert list(shapes_of(state).items()) == list(shapes_of(net.state_dict()).items())


def test_unsup3d_checkpoint_layout_maps_onto_the_module():
    from facefill.weights.keymap import apply_keymap
    from facefill.weights.registry import entry

    e = entry("sdgan-unsup3d")
    checkpoint = {net: _meta(load_manifest(f"unsup3d_{net}")) for net in NETS}
    state = apply_keymap(checkpoint, e.keymap, what="t")
    with torch.device("meta"):
        model = build(e.architecture, **e.config)
    assert list(shapes_of(state).items()) == list(shapes_of(model.state_dict()).items())


@pytest.mark.parametrize(
    ("manifest", "architecture"),
    [
        ("sdgan_stylegan2_generator_256", "stylegan2-generator"),
        ("sdgan_stylegan2_discriminator_256", "stylegan2-discriminator"),
    ],
)
def test_sdgan_256_stylegan2_is_the_rosinality_layout(manifest, architecture):
    """SD-GAN's own StyleGAN2 copy at 256 px: facefill's generator/discriminator, keys in order."""
    with torch.device("meta"):
        net = build(architecture, size=256)
    assert list(shapes_of(net.state_dict()).items()) == list(load_manifest(manifest).items())
