"""DeepFillv2 generator (both nipponjo flavours), contextual attention and SN-PatchGAN.

No pretrained weights here: random tensors shaped like the published checkpoints (manifests
transcribed from specs/inpaint.md §6.2-6.4) stand in for them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from facefill.errors import WeightsError
from facefill.models import registry
from facefill.models.contextual_attention import ContextualAttention
from facefill.models.deepfillv2 import (
    FUSE_WEIGHT_KEY,
    DeepFillV2PT,
    DeepFillV2TF,
    build_generator,
    detect_flavour,
    load_generator,
)
from facefill.models.deepfillv2_blocks import pt_nearest_downsample, tf_nearest_downsample, tf_same_pad
from facefill.models.sn_patchgan import SNPatchGAN
from manifest_utils import load_manifest, random_state_dict, shapes_of

torch.set_num_threads(1)
SPEC_PARAMS = 4_052_478
MANIFEST = {"pt": "deepfillv2_generator_pt", "tf": "deepfillv2_generator_tf"}


def _inputs(size: int = 64, n: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
    mask = torch.zeros(n, 1, size, size)
    mask[..., size // 4 : size // 2 + 4, size // 3 : size // 3 + size // 3] = 1
    x = torch.cat([image * (1 - mask), torch.ones_like(mask), mask], dim=1)
    return x, mask


# ------------------------------------------------------------------ checkpoint layout


@pytest.mark.parametrize("flavour", ["pt", "tf"])
def test_state_dict_matches_spec_manifest_in_order(flavour):
    model = build_generator(flavour)
    assert shapes_of(model.state_dict()) == load_manifest(MANIFEST[flavour])
    assert sum(p.numel() for p in model.parameters()) == SPEC_PARAMS
    assert len(model.state_dict()) == (85 if flavour == "pt" else 84)


def test_flavours_hold_same_shapes_in_same_order():
    """Spec §6.3: upstream's TF->PT conversion copies tensors in order, skipping fuse_weight."""
    pt = [s for k, s in load_manifest(MANIFEST["pt"]).items() if k != FUSE_WEIGHT_KEY]
    assert pt == list(load_manifest(MANIFEST["tf"]).values())


@pytest.mark.parametrize("flavour", ["pt", "tf"])
def test_strict_load_and_flavour_detection(flavour):
    state = random_state_dict(MANIFEST[flavour], seed=1)
    model = load_generator({"G": state, "n_iter": 5})  # whole training-file layout
    assert isinstance(model, DeepFillV2PT if flavour == "pt" else DeepFillV2TF)
    assert detect_flavour(state) == flavour
    for key, value in model.state_dict().items():
        if key != FUSE_WEIGHT_KEY:
            assert torch.equal(value, state[key]), key


def test_fuse_weight_is_optional_and_its_value_ignored():
    state = random_state_dict(MANIFEST["pt"], seed=2)
    eye = torch.eye(3).view(1, 1, 3, 3)
    without = {k: v for k, v in state.items() if k != FUSE_WEIGHT_KEY}
    assert FUSE_WEIGHT_KEY not in without
    for source in (without, state):  # the random manifest value is garbage: must be replaced
        model = load_generator(source)
        assert torch.equal(model.state_dict()[FUSE_WEIGHT_KEY], eye)
        plain = DeepFillV2PT()
        plain.load_state_dict(source, strict=True)  # torch's own strict loader accepts both, too
        assert torch.equal(plain.state_dict()[FUSE_WEIGHT_KEY], eye)


def test_wrong_flavour_and_foreign_checkpoints_fail_readably():
    tf_state = random_state_dict(MANIFEST["tf"], seed=3)
    with pytest.raises(WeightsError, match="missing"):
        registry.load_strict(build_generator("pt"), tf_state)
    with pytest.raises(WeightsError, match="not a DeepFillv2"):
        load_generator({"encoder.weight": torch.zeros(1)})


def test_registered_architectures_build_both_flavours():
    assert isinstance(registry.build("deepfillv2-pt"), DeepFillV2PT)
    assert isinstance(registry.build("deepfillv2-tf"), DeepFillV2TF)


# ------------------------------------------------------------------ forward pass


@pytest.mark.parametrize("flavour", ["pt", "tf"])
def test_forward_shapes_range_and_float64_agreement(flavour):
    model = load_generator(random_state_dict(MANIFEST[flavour], seed=4))
    x, mask = _inputs(64)
    with torch.no_grad():
        s1, s2 = model(x, mask)
        d1, d2 = model.double()(x.double(), mask.double())
    for out in (s1, s2):
        assert out.shape == (1, 3, 64, 64)
        assert out.abs().max() <= 1.0
        assert out.std() > 1e-3  # not a constant image
    for single, double in ((s1, d1), (s2, d2)):
        rel = (single.double() - double).abs().max() / double.abs().max()
        assert rel < 1e-5


# ------------------------------------------------------------------ resampling / padding helpers


def test_tf_same_padding_amounts():
    x = torch.ones(1, 1, 8, 9)
    # stride 2, k3 on even height: 0 before / 1 after; on odd width 9: out 5 -> total 2 -> 1/1
    y = tf_same_pad(x, 3, 2)
    assert y.shape[-2:] == (9, 11)
    assert y[0, 0, 0].sum() > 0 and y[0, 0, -1].sum() == 0  # top row kept, bottom row padded
    assert y[0, 0, :, 0].sum() == 0 and y[0, 0, :, -1].sum() == 0
    # k5 stride 2 on even size: 1 before / 2 after (discriminator)
    z = tf_same_pad(torch.ones(1, 1, 8, 8), 5, 2)
    assert z.shape[-2:] == (11, 11) and z[0, 0, 1, 1] == 1 and z[0, 0, 0, 1] == 0 and z[0, 0, 9, 1] == 0
    # dilated stride-1: symmetric rate·(k−1)/2
    assert tf_same_pad(x, 3, 1, 4).shape[-2:] == (16, 17)


@pytest.mark.parametrize("factor", [2, 8])
def test_pt_downsample_matches_interpolate(factor):
    x = torch.randn(2, 3, 32, 48)
    ref = F.interpolate(x, scale_factor=1 / factor, mode="nearest", recompute_scale_factor=False)
    assert torch.equal(pt_nearest_downsample(x, factor), ref)


def test_tf_downsample_indices():
    x = torch.arange(32.0).view(1, 1, 32, 1).expand(1, 1, 32, 16)
    rows = tf_nearest_downsample(x, 2)[0, 0, :, 0].long().tolist()
    expected = np.floor(np.linspace(0, 31, 16) + 0.5).astype(int).tolist()
    assert rows == expected and rows[-1] == 31  # align_corners: last row is taken, not every 2nd


# ------------------------------------------------------------------ contextual attention


def _naive_attention(f, b, mask, tf: bool, fuse: bool, scale: float = 10.0) -> torch.Tensor:
    """Loop-by-loop contextual attention for one sample (ksize 3, rate 2, stride 1)."""
    c, h, w = b.shape[1:]

    def down(t, n):
        if tf:
            rows = np.floor(np.linspace(0, t.shape[-2] - 1, t.shape[-2] // n) + 0.5).astype(int)
            cols = np.floor(np.linspace(0, t.shape[-1] - 1, t.shape[-1] // n) + 0.5).astype(int)
            return t[..., rows, :][..., cols]
        return t[..., ::n, ::n]

    fs, bs = F.pad(down(f, 2)[0], (1, 1, 1, 1)), F.pad(down(b, 2)[0], (1, 1, 1, 1))
    ms = F.pad(down(mask, 8)[0, 0], (1, 1, 1, 1))
    hs, ws = h // 2, w // 2
    n = hs * ws
    pos = [(i // ws, i % ws) for i in range(n)]  # row-major
    scores = torch.zeros(n, n, dtype=f.dtype)  # [background patch, foreground position]
    usable = torch.zeros(n, dtype=f.dtype)
    for q, (qy, qx) in enumerate(pos):
        patch = bs[:, qy : qy + 3, qx : qx + 3]
        norm = max(float(patch.pow(2).sum().sqrt()), 1e-4)
        usable[q] = float(ms[qy : qy + 3, qx : qx + 3].sum() == 0)
        for p, (py, px) in enumerate(pos):
            scores[q, p] = (fs[:, py : py + 3, px : px + 3] * patch).sum() / norm
    if fuse:
        def diag3(s):  # sum along the diagonal: s[a-1,c-1] + s[a,c] + s[a+1,c+1]
            out = s.clone()
            out[1:, 1:] += s[:-1, :-1]
            out[:-1, :-1] += s[1:, 1:]
            return out

        scores = diag3(scores)
        colmajor = [qx * hs + qy for (qy, qx) in pos]  # the second pass flattens column-major
        perm = torch.tensor(colmajor)
        t = torch.zeros_like(scores)
        t[perm[:, None], perm[None, :]] = scores
        scores = diag3(t)[perm[:, None], perm[None, :]]
    att = torch.softmax(scores * usable[:, None] * scale, dim=0) * usable[:, None]
    raw = F.pad(b[0], (1, 1, 1, 1))
    out = torch.zeros(c, h + 2, w + 2, dtype=f.dtype)
    for p, (py, px) in enumerate(pos):
        for q, (qy, qx) in enumerate(pos):
            source = raw[:, 2 * qy : 2 * qy + 4, 2 * qx : 2 * qx + 4]
            out[:, 2 * py : 2 * py + 4, 2 * px : 2 * px + 4] += att[q, p] * source
    return (out[:, 1:-1, 1:-1] / 4)[None]


@pytest.mark.parametrize("flavour", ["pt", "tf"])
def test_contextual_attention_matches_loop_reference(flavour):
    tf = flavour == "tf"
    gen = torch.Generator().manual_seed(7)
    f = torch.randn(1, 3, 8, 8, generator=gen, dtype=torch.float64)
    mask = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    mask[..., 8:20, 12:24] = 1
    module = ContextualAttention(fuse=not tf, tf_same=tf, fuse_buffer=not tf).double()
    got = module(f, f, mask)
    want = _naive_attention(f, f, mask, tf=tf, fuse=not tf)
    assert got.shape == f.shape
    assert torch.allclose(got, want, atol=1e-10)


def test_score_fusion_equals_identity_kernel_convolution():
    """The reference fuses scores by convolving the score matrix with eye(3); we use shifted adds."""
    scores = torch.randn(35, 48, dtype=torch.float64)
    want = F.conv2d(scores[None, None], torch.eye(3, dtype=torch.float64)[None, None], padding=1)[0, 0]
    assert torch.allclose(ContextualAttention()._diagonal_sum(scores), want, atol=1e-12)


def test_patch_pasting_equals_transposed_convolution():
    """The reference pastes with conv_transpose2d(stride 2, padding 1); we use matmul + fold."""
    gen = torch.Generator().manual_seed(17)
    attention = torch.rand(1, 20, 4, 5, generator=gen, dtype=torch.float64)
    patches = torch.randn(20, 6, 4, 4, generator=gen, dtype=torch.float64)
    want = F.conv_transpose2d(attention, patches, stride=2, padding=1)
    got = ContextualAttention()._paste(attention, patches)
    assert got.shape == want.shape == (1, 6, 8, 10)
    assert torch.allclose(got, want, atol=1e-12)


def test_contextual_attention_copies_a_duplicated_background_region():
    """If the hole's features (and a margin) are a shifted copy of a background region, attention
    finds that region and pastes it: the output inside the hole reconstructs the features."""
    gen = torch.Generator().manual_seed(11)
    b = torch.randn(1, 8, 32, 48, generator=gen, dtype=torch.float64)
    hole = (slice(12, 20), slice(8, 16))  # feature coordinates
    region = (slice(8, 24), slice(4, 20))  # hole + margin, copied from 24 columns to the right
    b[..., region[0], region[1]] = b[..., region[0], 28:44].clone()
    mask = torch.zeros(1, 1, 128, 192, dtype=torch.float64)  # image resolution = 4 × features
    mask[..., 48:80, 32:64] = 1
    out = ContextualAttention(fuse=True, tf_same=False).double()(b, b, mask)
    assert torch.allclose(out[..., hole[0], hole[1]], b[..., hole[0], hole[1]], atol=1e-6)
    # and with random (uncopied) features the same hole is NOT reproduced: the test has teeth
    b2 = torch.randn(1, 8, 32, 48, generator=gen, dtype=torch.float64)
    out2 = ContextualAttention().double()(b2, b2, mask)
    assert (out2[..., hole[0], hole[1]] - b2[..., hole[0], hole[1]]).abs().max() > 0.5


def test_contextual_attention_never_pastes_from_the_hole():
    """Background patches touching the hole get zero weight. Here no usable patch (nor its 4×4
    paste source) overlaps the changed area, so making the hole's background huge changes nothing;
    without the mask the same change is visible everywhere."""
    gen = torch.Generator().manual_seed(13)
    f = torch.randn(1, 4, 16, 16, generator=gen, dtype=torch.float64)
    mask = torch.zeros(1, 1, 64, 64, dtype=torch.float64)
    mask[..., 16:48, 16:48] = 1  # features 4..12
    b_big = f.clone()
    b_big[..., 4:12, 4:12] += 1e3
    # Without score fusion: fusion adds the scores of diagonal neighbours before masking (as the
    # reference does), so a usable patch's score may include a masked neighbour's.
    module = ContextualAttention(fuse=False, fuse_buffer=False).double()
    assert torch.allclose(module(f, f, mask), module(f, b_big, mask), atol=1e-9)
    assert not torch.allclose(module(f, f, None), module(f, b_big, None), atol=1e-3)


# ------------------------------------------------------------------ discriminator


@pytest.mark.parametrize("flavour", ["pt", "tf"])
def test_discriminator_layout_and_output(flavour):
    disc = SNPatchGAN(flavour=flavour)
    assert shapes_of(disc.state_dict()) == load_manifest("deepfillv2_discriminator")
    assert sum(p.numel() for p in disc.parameters()) == 5_946_816
    disc.load_state_dict(random_state_dict("deepfillv2_discriminator", seed=3), strict=True)
    out = disc(torch.randn(2, 4, 64, 64))
    assert out.shape == (2, 256)  # 256 channels × (64/64)²


def test_spectral_norm_step_and_convergence():
    disc = SNPatchGAN()
    conv = disc.conv2.conv_sn
    with torch.no_grad():
        for block in disc.children():
            block.conv_sn.weight.mul_(5.0)  # far from normalised
        w0, u0 = conv.weight.flatten(1).clone(), conv.weight_u.clone()
        disc(torch.zeros(1, 4, 64, 64))
        # one power iteration, computed independently
        v = w0.t() @ u0
        v = v / v.norm()
        u = w0 @ v
        u = u / u.norm()
        sigma = float(u.t() @ w0 @ v)
        assert torch.allclose(conv.weight_u, u, atol=1e-6)
        assert torch.allclose(conv.weight.flatten(1), w0 / sigma, atol=1e-6)
        for _ in range(30):
            disc(torch.zeros(1, 4, 64, 64))
        for block in disc.children():
            true_sigma = float(torch.linalg.matrix_norm(block.conv_sn.weight.flatten(1), ord=2))
            # the power-iteration estimate never exceeds the true value, so σ approaches 1 from above
            assert 1.0 - 1e-5 <= true_sigma < 1.05
            assert abs(float(block.conv_sn.weight_u.norm()) - 1.0) < 1e-5
