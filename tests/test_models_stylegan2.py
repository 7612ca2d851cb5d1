"""StyleGAN2 generator/discriminator: manifest compatibility, reference semantics, behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F

from facefill.errors import WeightsError
from facefill.models import build, from_checkpoint
from facefill.models.ops import fused_leaky_relu, upfirdn2d
from facefill.models.stylegan2 import (
    Discriminator,
    Generator,
    load_stylegan2_checkpoint,
    maskfacegan_noise_keys_to_rosinality,
)
from facefill.models.stylegan2_blocks import ModulatedConv2d
from manifest_utils import load_manifest, random_state_dict, shapes_of

TAPS = np.array([1.0, 3.0, 3.0, 1.0])


# ---------------------------------------------------------------- upfirdn2d vs scipy


def _scipy_upfirdn_axis(x: np.ndarray, h: np.ndarray, up: int, down: int, p0: int, p1: int, axis: int):
    """Reference for one axis: scipy's full convolution of the zero-stuffed signal, then our padding."""
    n = x.shape[axis]
    full = scipy.signal.upfirdn(h, x, up=up, down=1, axis=axis)
    length = n * up + len(h) - 1  # scipy drops the trailing up-1 outputs, which are zero
    margin = 16
    pad_width = [(0, 0)] * x.ndim
    pad_width[axis] = (margin, margin + length - full.shape[axis])
    full = np.pad(full, pad_width)
    start = margin + len(h) - 1 - p0
    stop = margin + length - (len(h) - 1 - p1)
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop, down)
    return full[tuple(index)]


@pytest.mark.parametrize(
    ("up", "down", "pad"),
    [
        ((1, 1), (1, 1), (0, 0, 0, 0)),
        ((2, 2), (1, 1), (2, 1, 2, 1)),  # ToRGB skip upsampling
        ((1, 1), (1, 1), (1, 1, 1, 1)),  # blur after transposed conv
        ((1, 1), (2, 2), (1, 1, 1, 1)),  # blur before stride-2 conv
        ((2, 2), (2, 2), (3, 3, 3, 3)),  # scipy's own full-convolution padding
        ((3, 1), (1, 2), (-1, 2, 4, -2)),  # different factors per axis, cropping pads
        ((1, 2), (3, 1), (0, 5, 1, 0)),
    ],
)
def test_upfirdn2d_matches_scipy_separable(up, down, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 11))
    kx = np.array([1.0, -2.0, 0.5, 3.0])  # asymmetric: catches a missing kernel flip
    ky = np.array([0.3, 1.0, -1.5, 2.0])
    kernel = torch.from_numpy(np.outer(ky, kx))
    ours = upfirdn2d(torch.from_numpy(x), kernel, up=up, down=down, pad=pad).numpy()
    ref = _scipy_upfirdn_axis(x, kx, up[0], down[0], pad[0], pad[1], axis=3)
    ref = _scipy_upfirdn_axis(ref, ky, up[1], down[1], pad[2], pad[3], axis=2)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


def test_upfirdn2d_full_padding_equals_scipy_directly():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1, 1, 13))
    h = np.array([0.25, 1.0, -0.5])
    up, down = 2, 3
    ours = upfirdn2d(torch.from_numpy(x), torch.from_numpy(h[None, :]), up=(up, 1), down=(down, 1),
                     pad=(len(h) - 1, len(h) - 1 - (up - 1), 0, 0))
    ref = scipy.signal.upfirdn(h, x[0, 0, 0], up=up, down=down)
    np.testing.assert_allclose(ours[0, 0, 0].numpy(), ref, rtol=1e-12, atol=1e-12)


def test_upfirdn2d_is_differentiable():
    """Latent optimisation (MaskFaceGAN) back-propagates through every upfirdn2d call."""
    x = torch.randn(1, 1, 4, 3, dtype=torch.float64, requires_grad=True)
    kernel = torch.rand(4, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: upfirdn2d(t, kernel, up=2, down=1, pad=(2, 1)), (x,))
    assert torch.autograd.gradcheck(lambda t: upfirdn2d(t, kernel, up=1, down=2, pad=(1, 1)), (x,))


def test_fused_leaky_relu_values():
    x = torch.tensor([[-1.0, 2.0]])
    out = fused_leaky_relu(x, torch.tensor([0.5, -3.0]))
    expected = torch.tensor([[-0.5 * 0.2, -1.0 * 0.2]]) * 2**0.5
    torch.testing.assert_close(out, expected)


# ---------------------------------------------------------------- manifests


@pytest.mark.parametrize(
    ("name", "cls", "size"),
    [
        ("stylegan2_generator_256", Generator, 256),
        ("stylegan2_generator_1024", Generator, 1024),
        ("stylegan2_discriminator_256", Discriminator, 256),
        ("stylegan2_discriminator_1024", Discriminator, 1024),
    ],
)
def test_state_dict_matches_manifest_exactly(name, cls, size):
    with torch.device("meta"):
        model = cls(size=size, channel_multiplier=2)
    assert list(shapes_of(model.state_dict()).items()) == list(load_manifest(name).items())


def test_fir_kernel_buffers_have_reference_values():
    g = Generator(size=16)
    d = Discriminator(size=16)
    k = np.outer(TAPS, TAPS) / 64
    np.testing.assert_allclose(g.state_dict()["convs.0.conv.blur.kernel"].numpy(), 4 * k, rtol=1e-6)
    np.testing.assert_allclose(g.state_dict()["to_rgbs.0.upsample.kernel"].numpy(), 4 * k, rtol=1e-6)
    np.testing.assert_allclose(d.state_dict()["convs.1.conv2.0.kernel"].numpy(), k, rtol=1e-6)


def test_maskfacegan_runtime_generator_keys_remap_to_rosinality():
    runtime = load_manifest("maskfacegan_generator_runtime")
    assert any(k == "noises.16" for k in runtime)
    remapped = maskfacegan_noise_keys_to_rosinality(runtime)
    assert list(remapped.items()) == list(load_manifest("stylegan2_generator_1024").items())


# ---------------------------------------------------------------- generator fixtures


def _generator_state_dict(size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights scaled like a trained rosinality generator (mapping weights stored / lr_mul).

    Sizes with a manifest use it; smaller test sizes use our own (manifest-verified) layout.
    """
    if size in (256, 1024):
        manifest = load_manifest(f"stylegan2_generator_{size}")
    else:
        with torch.device("meta"):
            manifest = shapes_of(Generator(size=size).state_dict())
    sd = random_state_dict(manifest, seed=seed, init="normal")
    kernel = torch.from_numpy(4 * np.outer(TAPS, TAPS) / 64).float()
    for key in sd:
        if key.endswith(".kernel"):
            sd[key] = kernel.clone()
        elif key.startswith("style.") and key.endswith(".weight"):
            sd[key] = sd[key] / 0.01
        elif key.endswith("modulation.bias"):
            sd[key] = sd[key] + 1.0  # bias_init=1
    return sd


@pytest.fixture(scope="module")
def g256() -> Generator:
    """Loaded from manifest-shaped weights; used for the one full-size forward pass."""
    return from_checkpoint("stylegan2-generator", _generator_state_dict(256), size=256)


@pytest.fixture(scope="module")
def g16() -> Generator:
    """A 16x16 generator (same blocks, 512 channels) keeps behavioural tests fast on a shared CPU."""
    return from_checkpoint("stylegan2-generator", _generator_state_dict(16), size=16)


def _z(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 512, generator=torch.Generator().manual_seed(seed))


def test_from_checkpoint_loads_manifest_weights_strictly(g256):
    sd = _generator_state_dict(256)
    own = g256.state_dict()
    assert list(shapes_of(own)) == list(sd)
    for key in ("style.3.weight", "convs.5.conv.weight", "noises.noise_12", "to_rgbs.5.bias"):
        torch.testing.assert_close(own[key], sd[key], rtol=0, atol=0)


@pytest.mark.slow
@torch.inference_mode()
def test_generator_256_forward_shapes_and_latents(g256):
    image, latents = g256([_z(1, 1)], return_latents=True, randomize_noise=False)
    assert image.shape == (1, 3, 256, 256)
    assert latents.shape == (1, g256.n_latent, 512) and g256.n_latent == 14
    assert torch.isfinite(image).all()


@torch.inference_mode()
def test_generator_float32_matches_float64(g16):
    g64 = Generator(size=16).double()
    g64.load_state_dict({k: v.double() for k, v in g16.state_dict().items()})
    z = _z(2, 2)
    out32, _ = g16([z], randomize_noise=False)
    out64, _ = g64([z.double()], randomize_noise=False)
    assert out32.shape == (2, 3, 16, 16)
    rel = (out32.double() - out64).abs().max() / out64.abs().max()
    assert rel < 1e-5


def _modulated_conv_reference(module: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor):
    """The reference's default 'fused' path: per-sample modulated weights, grouped conv."""
    batch, in_ch, h, w = x.shape
    s = F.linear(style, module.modulation.weight * module.modulation.scale, module.modulation.bias)
    weight = module.scale * module.weight * s.view(batch, 1, in_ch, 1, 1)
    if module.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, -1, 1, 1, 1)
    k = module.kernel_size
    if module.upsample:
        wt = weight.transpose(1, 2).reshape(batch * in_ch, module.out_channel, k, k)
        out = F.conv_transpose2d(x.reshape(1, batch * in_ch, h, w), wt, stride=2, groups=batch)
        out = out.view(batch, module.out_channel, *out.shape[-2:])
        blur = torch.flip(module.blur.kernel, [0, 1]).expand(module.out_channel, 1, 4, 4)
        return F.conv2d(F.pad(out, [1, 1, 1, 1]), blur, groups=module.out_channel)
    wt = weight.reshape(batch * module.out_channel, in_ch, k, k)
    out = F.conv2d(x.reshape(1, batch * in_ch, h, w), wt, padding=k // 2, groups=batch)
    return out.view(batch, module.out_channel, h, w)


@pytest.mark.parametrize(
    ("upsample", "demodulate", "k"), [(False, True, 3), (True, True, 3), (False, False, 1)]
)
@torch.inference_mode()
def test_modulated_conv_equals_grouped_weight_formulation(upsample, demodulate, k):
    torch.manual_seed(3)
    module = ModulatedConv2d(6, 5, k, 8, demodulate=demodulate, upsample=upsample).double()
    module.modulation.bias.data.normal_()
    x = torch.randn(3, 6, 7, 7, dtype=torch.float64)
    style = torch.randn(3, 8, dtype=torch.float64)
    out = module(x, style)
    assert out.shape == (3, 5, 14 if upsample else 7, 14 if upsample else 7)
    torch.testing.assert_close(out, _modulated_conv_reference(module, x, style), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- generator behaviour


@torch.inference_mode()
def test_truncation_zero_renders_mean_latent_for_any_z(g16):
    mean = g16.mean_latent(256, generator=torch.Generator().manual_seed(0))
    a, _ = g16([_z(1, 10)], truncation=0.0, truncation_latent=mean, randomize_noise=False)
    b, _ = g16([_z(1, 11)], truncation=0.0, truncation_latent=mean, randomize_noise=False)
    m, _ = g16([mean], input_is_latent=True, randomize_noise=False)
    untruncated, _ = g16([_z(1, 11)], randomize_noise=False)
    torch.testing.assert_close(a, m, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b, m, rtol=1e-5, atol=1e-5)
    assert (untruncated - m).abs().mean() > 1e-2  # without truncation z matters


@torch.inference_mode()
def test_truncation_half_is_midpoint_in_w(g16):
    mean = g16.mean_latent(64, generator=torch.Generator().manual_seed(0))
    z = _z(1, 12)
    _, lat = g16([z], truncation=0.5, truncation_latent=mean, return_latents=True, randomize_noise=False)
    w = g16.get_latent(z)
    torch.testing.assert_close(lat[:, 0], (mean + w) / 2, rtol=1e-5, atol=1e-5)


@torch.inference_mode()
def test_wplus_with_identical_rows_equals_w_input(g16):
    w = g16.get_latent(_z(2, 4))
    from_w, _ = g16([w], input_is_latent=True, randomize_noise=False)
    wplus = w.unsqueeze(1).repeat(1, g16.n_latent, 1)
    from_wplus, _ = g16([wplus], input_is_latent=True, randomize_noise=False)
    torch.testing.assert_close(from_w, from_wplus, rtol=0, atol=0)


def test_every_wplus_row_steers_the_image(g16):
    """Gradients reach all n_latent rows (conv1, to_rgb1, then two convs + one ToRGB per level)."""
    with torch.no_grad():
        w = g16.get_latent(_z(1, 13))
    wplus = w.unsqueeze(1).repeat(1, g16.n_latent, 1).requires_grad_(True)
    image, _ = g16([wplus], input_is_latent=True, randomize_noise=False)
    image.square().mean().backward()
    assert torch.isfinite(wplus.grad).all()
    assert (wplus.grad.abs().amax(-1)[0] > 0).all()


@torch.inference_mode()
def test_style_mixing_uses_first_style_before_inject_index(g16):
    z1, z2 = _z(1, 5), _z(1, 6)
    _, lat = g16([z1, z2], inject_index=4, return_latents=True, randomize_noise=False)
    w1, w2 = g16.get_latent(z1), g16.get_latent(z2)
    torch.testing.assert_close(lat[:, :4], w1.unsqueeze(1).expand(1, 4, 512))
    torch.testing.assert_close(lat[:, 4:], w2.unsqueeze(1).expand(1, g16.n_latent - 4, 512))


@torch.inference_mode()
def test_fixed_noise_is_deterministic_and_random_noise_is_not(g16):
    z = _z(1, 7)
    noise = g16.make_noise(1, generator=torch.Generator().manual_seed(1))
    a, _ = g16([z], noise=noise)
    b, _ = g16([z], noise=noise)
    c, _ = g16([z], randomize_noise=False)
    d, _ = g16([z], randomize_noise=False)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(c, d, rtol=0, atol=0)
    e, _ = g16([z])
    assert (e - c).abs().max() > 0


@torch.inference_mode()
def test_noise_change_only_affects_local_detail(g16):
    """Noise enters after each conv; a change in the last maps can only move nearby output pixels.

    Last map: added after the final 3x3 conv, then bias+lrelu and a 1x1 ToRGB -> the change stays
    on the same pixels. Second-to-last map: one 3x3 conv follows -> a 3x3 neighbourhood. The
    coarsest map, by contrast, changes the whole image.
    """
    z = _z(1, 8)
    base_noise = [n.clone() for n in g16.noise_buffers()]
    base, _ = g16([z], noise=base_noise)
    for index, radius in ((g16.num_layers - 1, 0), (g16.num_layers - 2, 1)):
        noise = [n.clone() for n in base_noise]
        noise[index][..., 6:8, 4:7] += 5.0
        out, _ = g16([z], noise=noise)
        changed = (out - base).abs().amax(1)[0] > 0
        ys, xs = torch.nonzero(changed, as_tuple=True)
        assert changed.any()
        assert ys.min() >= 6 - radius and ys.max() <= 7 + radius
        assert xs.min() >= 4 - radius and xs.max() <= 6 + radius
    noise = [n.clone() for n in base_noise]
    noise[0] += 5.0
    out, _ = g16([z], noise=noise)
    assert ((out - base).abs().amax(1)[0] > 0).float().mean() > 0.9


# ---------------------------------------------------------------- checkpoints and discriminator


def test_load_stylegan2_checkpoint_dict_and_latent_avg():
    sd = _generator_state_dict(256, seed=1)
    latent_avg = torch.randn(512)
    ckpt = {"g": {}, "d": {}, "g_ema": sd, "latent_avg": latent_avg, "args": None}
    generator, avg = load_stylegan2_checkpoint(ckpt)
    assert generator.size == 256 and not generator.training
    torch.testing.assert_close(avg, latent_avg)
    torch.testing.assert_close(generator.state_dict()["convs.3.conv.weight"], sd["convs.3.conv.weight"])
    with pytest.raises(WeightsError, match="g_ema"):
        load_stylegan2_checkpoint({"d": {}})


def test_maskfacegan_runtime_state_dict_loads_via_remap():
    manifest = load_manifest("maskfacegan_generator_runtime")
    runtime = {k: torch.empty(v, device="meta") for k, v in manifest.items()}
    remapped = maskfacegan_noise_keys_to_rosinality(runtime)
    with torch.device("meta"):
        generator = Generator(size=1024)
    generator.load_state_dict(remapped, strict=True, assign=True)
    assert generator.noises.noise_16.shape == (1, 1, 1024, 1024)


def _discriminator_state_dict(manifest, seed: int) -> dict[str, torch.Tensor]:
    sd = random_state_dict(manifest, seed=seed, init="normal")
    kernel = torch.from_numpy(np.outer(TAPS, TAPS) / 64).float()
    sd.update({k: kernel.clone() for k in sd if k.endswith(".kernel")})
    return sd


@pytest.mark.slow
@torch.inference_mode()
def test_discriminator_256_loads_manifest_weights_and_runs():
    sd = _discriminator_state_dict(load_manifest("stylegan2_discriminator_256"), seed=2)
    d = from_checkpoint("stylegan2-discriminator", sd, size=256)
    torch.testing.assert_close(d.state_dict()["final_linear.0.weight"], sd["final_linear.0.weight"])
    out = d(torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(3)))
    assert out.shape == (1, 1) and torch.isfinite(out).all()


@pytest.fixture(scope="module")
def d8() -> Discriminator:
    """An 8x8 discriminator: conv, one ResBlock, stddev, final layers — every block type, cheaply."""
    with torch.device("meta"):
        manifest = shapes_of(Discriminator(size=8).state_dict())
    return from_checkpoint("stylegan2-discriminator", _discriminator_state_dict(manifest, 2), size=8)


@torch.inference_mode()
def test_discriminator_shapes_and_float64_agreement(d8):
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    out = d8(x)
    assert out.shape == (4, 1)
    d64 = Discriminator(size=8).double()
    d64.load_state_dict({k: v.double() for k, v in d8.state_dict().items()})
    out64 = d64(x.double())
    assert ((out.double() - out64).abs().max() / out64.abs().max()) < 1e-5


@torch.inference_mode()
def test_discriminator_minibatch_stddev_couples_samples(d8):
    """The stddev feature makes a logit depend on the other images of its group."""
    x = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    y = x.clone()
    y[1] = torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(5))
    a, b = d8(x), d8(y)
    assert (a[0] - b[0]).abs() > 0
    with pytest.raises(ValueError, match="divisible"):
        d8(x[:3].repeat(2, 1, 1, 1))


def test_registry_builds_by_name():
    with torch.device("meta"):
        g = build("stylegan2-generator", size=256, channel_multiplier=2)
        d = build("stylegan2-discriminator", size=256)
    assert isinstance(g, Generator) and g.n_latent == 14
    assert isinstance(d, Discriminator)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@torch.inference_mode()
def test_generator_cuda_matches_cpu(g16):
    z = _z(1, 9)
    cpu, _ = g16([z], randomize_noise=False)
    gpu = Generator(size=16).cuda()
    gpu.load_state_dict(g16.state_dict())
    out, _ = gpu([z.cuda()], randomize_noise=False)
    assert ((out.cpu() - cpu).abs().max() / cpu.abs().max()) < 1e-3
