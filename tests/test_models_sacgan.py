"""SAC-GAN generator and discriminator: manifest layouts (strict, ordered), block semantics, dtypes."""

from __future__ import annotations

import copy

import pytest
import torch

from facefill.models import build, from_checkpoint, load_strict
from facefill.models.sacgan import PARTS, SACGANGenerator, flatten_sacgan_checkpoint
from facefill.models.sacgan_discriminator import SACGANDiscriminator
from facefill.models.sacgan_mapper import CrossAttention
from manifest_utils import load_manifest, shapes_of

TINY = {"img_size": 32, "style_dim": 8, "num_domains": 2, "max_conv_dim": 16, "base_dim": 8}


def _tiny(seed: int = 0) -> SACGANGenerator:
    torch.manual_seed(seed)
    net = SACGANGenerator(**TINY).eval()
    with torch.no_grad():  # a non-zero γ so the cross attention takes part
        net.spatial_mapper.CrossAtt.gamma.fill_(0.7)
    return net


def test_generator_and_discriminator_state_dicts_match_manifests_in_order():
    with torch.device("meta"):
        generator, discriminator = build("sacgan-generator"), build("sacgan-discriminator")
    assert list(shapes_of(generator.state_dict()).items()) == list(load_manifest("sacgan_generator").items())
    assert list(shapes_of(discriminator.state_dict()).items()) == list(
        load_manifest("sacgan_discriminator").items()
    )
    counts = {part: sum(p.numel() for p in getattr(generator, part).parameters()) for part in PARTS}
    # spec §2.2: encoder 16.55 M, decoder 34.66 M, mapper 7.49 M, discriminator 20.74 M parameters
    assert [round(counts[p] / 1e6, 2) for p in PARTS] == [16.55, 34.66, 7.49]
    assert round(sum(p.numel() for p in discriminator.parameters()) / 1e6, 2) == 20.74


def _nets_ema_checkpoint() -> dict[str, dict[str, torch.Tensor]]:
    """The `*_nets_ema.ckpt` layout (meta tensors): DataParallel-wrapped parts plus the loss helpers."""
    manifest = load_manifest("sacgan_generator")
    checkpoint = {
        part: {
            f"module.{k.removeprefix(part + '.')}": torch.empty(shape, device="meta")
            for k, shape in manifest.items()
            if k.startswith(part + ".")
        }
        for part in PARTS
    }
    checkpoint["resnet18"] = {"model.fc.weight": torch.empty(1000, 512, device="meta")}
    return checkpoint


def test_original_checkpoint_layout_loads_strictly_and_a_missing_key_fails():
    checkpoint = _nets_ema_checkpoint()
    assert len(checkpoint["inpaint_encoder"]) == 44 and len(checkpoint["inpaint_decoder"]) == 89
    assert len(checkpoint["spatial_mapper"]) == 31  # spec §2.9 tensor counts
    with torch.device("meta"):
        model = SACGANGenerator()
    flat = flatten_sacgan_checkpoint(checkpoint)
    load_strict(model, flat)
    flat.pop("inpaint_decoder.attmaps.4.weight")
    with pytest.raises(Exception, match="missing"):
        load_strict(model, flat)


def test_tiny_checkpoint_round_trips_through_from_checkpoint():
    state = _tiny().state_dict()
    model = from_checkpoint("sacgan-generator", state, **TINY)
    torch.testing.assert_close(model.spatial_mapper.CrossAtt.gamma, state["spatial_mapper.CrossAtt.gamma"])


def _inputs(n: int = 2, size: int = 32, dtype=torch.float32):
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(n, 3, size, size, generator=gen, dtype=dtype) * 2 - 1
    mask = torch.zeros(n, 1, size, size, dtype=dtype)
    mask[:, :, 8:24, 6:20] = 1
    return image, mask, torch.tensor([0, 1][:n])


def test_float32_matches_float64():
    net = _tiny()
    image, mask, label = _inputs()
    out32 = net(image, mask, label)
    out64 = copy.deepcopy(net).double()(image.double(), mask.double(), label)
    assert out32.shape == (2, 3, 32, 32)
    torch.testing.assert_close(out32.double(), out64, atol=1e-5, rtol=1e-5)


def test_hole_pixels_never_reach_the_encoder():
    net = _tiny()
    image, mask, label = _inputs()
    other = image * (1 - mask) + torch.rand_like(image) * mask
    torch.testing.assert_close(net(image, mask, label), net(other, mask, label), atol=0, rtol=0)


def test_label_changes_the_output_and_a_one_hot_equals_the_index():
    net = _tiny()
    image, mask, _ = _inputs()
    a, b = net(image, mask, torch.tensor([0, 0])), net(image, mask, torch.tensor([1, 1]))
    assert (a - b).abs().max() > 1e-4
    torch.testing.assert_close(net(image, mask, torch.eye(2)[[0, 0]]), a)


def test_style_pyramid_sizes_and_the_unused_level_three():
    net = _tiny()
    image, mask, label = _inputs()
    features, skips = net.encode(image, mask)
    styles = net.spatial_mapper(features, label)
    assert [s.shape[-1] for s in styles] == [4, 4, 8, 16, 32]  # g, g, 2g, 4g, 8g with g = 32 / 8
    assert [s.shape[-1] for s in skips] == [16, 8, 4] and features.shape[1:] == (16, 4, 4)
    base = net.decode(features, skips, styles)
    changed = list(styles)
    changed[3] = torch.randn_like(styles[3])
    torch.testing.assert_close(net.decode(features, skips, changed), base, atol=0, rtol=0)  # never read
    changed[4] = torch.randn_like(styles[4])
    assert (net.decode(features, skips, changed) - base).abs().max() > 1e-4


def test_cross_attention_against_an_explicit_sum():
    torch.manual_seed(0)
    att = CrossAttention(style_dim=16, feature_dim=8).double()
    with torch.no_grad():
        att.gamma.fill_(0.5)
    style, features = (
        torch.randn(2, 16, 3, 3, dtype=torch.float64),
        torch.randn(2, 8, 3, 3, dtype=torch.float64),
    )
    q = att.f_conv_att(att.f_conv_2(att.f_conv_1(features))).flatten(2)  # N × 2 × positions
    k, v = att.s_conv_att(style).flatten(2), att.s_conv_val(style).flatten(2)
    expected = torch.empty_like(style.flatten(2))
    for n in range(2):
        for i in range(9):  # output position i attends over style positions j
            weights = torch.softmax(torch.stack([q[n, :, i] @ k[n, :, j] for j in range(9)]), 0)
            expected[n, :, i] = sum(weights[j] * v[n, :, j] for j in range(9))
    expected = 0.5 * expected.reshape(style.shape) + style
    torch.testing.assert_close(att(style, features), expected)


def test_decoder_ignores_shortcut_weights_as_released():
    net = _tiny()
    image, mask, label = _inputs()
    before = net(image, mask, label)
    with torch.no_grad():
        for block in net.inpaint_decoder.decode:
            if hasattr(block, "conv1x1"):
                block.conv1x1.weight.normal_()
    torch.testing.assert_close(net(image, mask, label), before, atol=0, rtol=0)


def test_discriminator_returns_the_logit_of_each_images_domain():
    torch.manual_seed(0)
    disc = SACGANDiscriminator(img_size=32, num_domains=2, max_conv_dim=16, base_dim=8).eval()
    image = torch.randn(3, 3, 32, 32)
    label = torch.tensor([1, 0, 1])
    logits = disc.main(image).reshape(3, -1)
    assert logits.shape == (3, 3)  # num_domains + 1 outputs, the last never indexed
    torch.testing.assert_close(disc(image, label), logits[torch.arange(3), label])
