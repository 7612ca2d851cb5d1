"""SAC-GAN and SPL inference adapters: the exemplar path, mask polarity at the edge, capabilities."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from facefill.errors import UsageError
from facefill.models.sacgan import SACGANGenerator
from facefill.models.spl import SPLGenerator
from facefill.pipelines.inpaint import InpaintPipeline
from facefill.pipelines.registry import INPAINT, get_inpainter, models_with, require_capabilities
from facefill.pipelines.requests import InpaintRequest
from facefill.pipelines.sacgan import SACGANInpainter, class_codes, sacgan_fill
from facefill.pipelines.spl import spl_fill
from facefill.runtime.context import RunContext
from facefill.training.export import export_generator

torch.set_num_threads(1)
DOMAINS = ("mouth_closed", "mouth_open")
TINY_SAC = {"img_size": 32, "style_dim": 8, "max_conv_dim": 16, "base_dim": 8, "domains": DOMAINS}
NATIVE_SAC = {**TINY_SAC, "img_size": 128}  # the pipeline runs sacgan at its native 128²
TINY_SPL = {
    "residual_blocks": 1,
    "dense_blocks": 2,
    "dense_layers": 2,
    "dense_growth": 8,
    "prior_channels": 32,
    "width": 8,
}


def _generator(config=TINY_SAC, seed: int = 0) -> SACGANGenerator:
    torch.manual_seed(seed)
    net = SACGANGenerator(**config).eval()
    with torch.no_grad():
        net.spatial_mapper.CrossAtt.gamma.fill_(0.5)
    return net


def _batch(size: int = 32, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, size, size, generator=gen)
    exemplar = torch.rand(2, 3, size, size, generator=gen)
    mask = torch.zeros(2, 1, size, size)
    mask[0, :, size // 2 :, size // 4 : 3 * size // 4] = 1  # a lower-face hole
    mask[1, :, 4:20, 2:14] = 1
    return image, mask, exemplar


def _encode_by_hand(net: SACGANGenerator, x: torch.Tensor, m: torch.Tensor):
    """The encoder written out: from_rgb(cat[x·(1−m), ones, m]) → down blocks (skips) → bottleneck."""
    enc = net.inpaint_encoder
    h = enc.from_rgb(torch.cat([x * (1 - m), torch.ones_like(m), m], dim=1))
    skips = []
    for block in enc.encode:
        h = block(h)
        skips.append(h)
    for block in enc.bottleneck:
        h = block(h)
    return h, skips


@torch.no_grad()
def test_exemplar_path_composes_exactly_as_stated():
    net = _generator()
    image, mask, exemplar = _batch()
    label = torch.tensor([1, 0])  # the exemplars' classes
    x, ref = image * 2 - 1, exemplar * 2 - 1
    f_ref, _ = _encode_by_hand(net, ref, torch.zeros_like(mask))  # exemplar with an all-zero mask
    s_ref = net.spatial_mapper(f_ref, F.one_hot(label, 2).float())  # mapper(F_ref, exemplar's label)
    f_src, skips = _encode_by_hand(net, x, mask)  # the masked source's F and skips
    out = (net.inpaint_decoder(f_src, s_ref, skips) + 1) / 2
    expected = out.clamp(0, 1) * mask + image * (1 - mask)
    got = sacgan_fill(net, image, mask, label, exemplar)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    # the exemplar matters, and it is the whole exemplar (also what lies under the source's hole)
    attribute_path = sacgan_fill(net, image, mask, label)
    assert (got - attribute_path).abs().max() > 1e-4
    other = exemplar.clone()
    other[mask.expand_as(exemplar) > 0] = 0.5
    assert (sacgan_fill(net, image, mask, label, other) - got).abs().max() > 1e-4


@torch.no_grad()
def test_mask_polarity_white_is_the_hole_at_the_edge():
    net = _generator()
    image, mask, _ = _batch()
    seen = {}
    net.inpaint_encoder.from_rgb.register_forward_hook(lambda mod, args, out: seen.update(x=args[0]))
    got = sacgan_fill(net, image, mask * 255 / 255, torch.tensor([0, 1]))
    encoder_input = seen["x"]
    torch.testing.assert_close(encoder_input[:, 4:5], mask)  # the mask plane: 1 = hole, not inverted
    torch.testing.assert_close(encoder_input[:, 3:4], torch.ones_like(mask))
    assert float(encoder_input[:, :3][mask.expand(-1, 3, -1, -1) > 0].abs().max()) == 0  # holes hidden
    keep = mask.expand_as(image) == 0
    assert torch.equal(got[keep], image[keep]) and (got[~keep] - image[~keep]).abs().max() > 1e-3


def test_class_codes_one_hot_and_neutral_mix():
    codes = class_codes(["mouth_open", None], DOMAINS, torch.zeros(1))
    torch.testing.assert_close(codes, torch.tensor([[0.0, 1.0], [0.5, 0.5]]))
    with pytest.raises(UsageError, match="mouth_closed, mouth_open"):
        class_codes(["smile"], DOMAINS, torch.zeros(1))


@torch.no_grad()
def test_inpainter_labels_the_exemplar_unless_the_class_is_given():
    net = _generator()
    image, mask, exemplar = _batch()
    calls = []

    def labeler(ex):
        calls.append(ex.shape[0])
        return ["mouth_open", "mouth_closed"]

    fill = SACGANInpainter(net, exemplar_labeler=labeler)
    measured = fill(InpaintRequest(image, mask, exemplar=exemplar))
    torch.testing.assert_close(measured, sacgan_fill(net, image, mask, torch.tensor([1, 0]), exemplar))
    given = fill(InpaintRequest(image, mask, exemplar=exemplar, attribute=("mouth_closed", "mouth_closed")))
    torch.testing.assert_close(given, sacgan_fill(net, image, mask, torch.tensor([0, 0]), exemplar))
    assert calls == [2]  # the labeler ran only when no class was given


def test_sacgan_takes_exemplar_and_attribute_and_others_refuse():
    spec = get_inpainter("sacgan")
    require_capabilities(spec, INPAINT, {"exemplar": "--exemplar", "attribute": "--attribute"})
    assert models_with(INPAINT, "exemplar") == ["sacgan"]
    with pytest.raises(UsageError, match="--exemplar needs a model that takes an exemplar: sacgan"):
        require_capabilities(get_inpainter("spl"), INPAINT, {"exemplar": "--exemplar"})


@pytest.fixture
def weights(tmp_path, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    sac = export_generator(
        _generator(NATIVE_SAC), tmp_path / "sacgan.safetensors", 0, "sacgan-generator", NATIVE_SAC
    )
    torch.manual_seed(0)
    spl = export_generator(
        SPLGenerator(**TINY_SPL), tmp_path / "spl.safetensors", 0, "spl-generator", TINY_SPL
    )
    return {"sacgan": str(sac), "spl": str(spl)}


def test_pipeline_runs_sacgan_with_an_exported_file_and_changes_only_hole_pixels(weights):
    context = RunContext(device="cpu", weights=weights, offline=True)
    pipeline = InpaintPipeline("sacgan", context)
    image, mask, exemplar = _batch(size=48)
    for conditioning in ({"attribute": ("mouth_open",) * 2}, {"exemplar": exemplar, "attribute": DOMAINS}):
        out = pipeline.run(InpaintRequest(image, mask, **conditioning))
        keep = mask.expand_as(image) == 0
        assert torch.equal(out[keep], image[keep]) and (out[~keep] - image[~keep]).abs().max() > 1e-3
    assert pipeline.model.domains == DOMAINS  # the class names travel in the export
    with pytest.raises(UsageError, match="knows the classes"):
        pipeline.run(InpaintRequest(image, mask, attribute=("smiling",) * 2))


@torch.no_grad()
def test_spl_fill_composites_and_the_pipeline_loads_an_export(weights):
    torch.manual_seed(0)
    net = SPLGenerator(**TINY_SPL).eval()
    image, mask, _ = _batch(size=32)
    raw, _ = net(image * (1 - mask), mask)
    torch.testing.assert_close(spl_fill(net, image, mask), raw * mask + image * (1 - mask))
    pipeline = InpaintPipeline("spl", RunContext(device="cpu", weights=weights, offline=True))
    out = pipeline.run(InpaintRequest(image, mask))
    keep = mask.expand_as(image) == 0
    assert torch.equal(out[keep], image[keep])
