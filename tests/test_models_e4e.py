"""e4e Encoder4Editing: manifest compatibility, checkpoint layouts, FPN routing, preprocessing."""

from __future__ import annotations

import pytest
import torch

from facefill.errors import WeightsError
from facefill.models import build, load_strict
from facefill.models.e4e import Encoder4Editing, prepare_e4e_input, split_e4e_checkpoint
from manifest_utils import load_manifest, random_state_dict, shapes_of


def _meta_tensors(manifest: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    return {k: torch.empty(v, device="meta") for k, v in manifest.items()}


def _loaded(stylegan_size: int, manifest: dict[str, list[int]], seed: int = 0) -> Encoder4Editing:
    """Build without random init (meta -> empty) and load random manifest-shaped weights strictly."""
    with torch.device("meta"):
        model = Encoder4Editing(50, "ir_se", stylegan_size=stylegan_size)
    model = model.to_empty(device="cpu")
    load_strict(model, random_state_dict(manifest, seed=seed))
    return model.eval()


@pytest.mark.parametrize("name", ["e4e_encoder4editing_1024", "maskfacegan_e4e_encoder"])
def test_state_dict_matches_manifest_exactly(name):
    with torch.device("meta"):
        model = build("e4e-encoder", stylegan_size=1024)
    assert list(shapes_of(model.state_dict()).items()) == list(load_manifest(name).items())
    assert model.style_count == 18


@pytest.mark.slow
@torch.inference_mode()
def test_full_encoder_loads_manifest_weights_and_runs():
    model = _loaded(1024, load_manifest("e4e_encoder4editing_1024"))
    # 64x64 keeps this cheap; every head still reduces its feature map to 1x1.
    out = model(torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    assert out.shape == (1, 18, 512) and torch.isfinite(out).all()


@pytest.fixture(scope="module")
def small() -> Encoder4Editing:
    """stylegan_size=32 -> 8 styles: coarse (0-2), middle (3-6) and one fine head (7)."""
    with torch.device("meta"):
        manifest = shapes_of(Encoder4Editing(stylegan_size=32).state_dict())
    return _loaded(32, manifest, seed=1)


def _images(n: int, seed: int, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@torch.inference_mode()
def test_float32_matches_float64(small):
    x = _images(2, 2)
    out32 = small(x)
    assert out32.shape == (2, 8, 512)
    small64 = Encoder4Editing(stylegan_size=32).double().eval()
    small64.load_state_dict(small.state_dict())
    out64 = small64(x.double())
    assert ((out32.double() - out64).abs().max() / out64.abs().max()) < 1e-5


@torch.inference_mode()
def test_fpn_levels_feed_the_right_styles(small):
    """Coarse styles read c3 only, middle ones p2 (= c3 + latlayer1(c2)), fine ones p1 (+ latlayer2(c1))."""
    x = _images(1, 3)
    base = small(x)
    saved1, saved2 = small.latlayer1.bias.clone(), small.latlayer2.bias.clone()
    try:
        small.latlayer2.bias.add_(1.0)
        fine_changed = (small(x) - base).abs().amax(-1)[0] > 0
        small.latlayer2.bias.copy_(saved2)
        small.latlayer1.bias.add_(1.0)
        middle_changed = (small(x) - base).abs().amax(-1)[0] > 0
    finally:
        small.latlayer1.bias.copy_(saved1)
        small.latlayer2.bias.copy_(saved2)
    assert fine_changed.tolist() == [False] * 7 + [True]
    assert middle_changed.tolist() == [False] * 3 + [True] * 5


@torch.inference_mode()
def test_rows_are_w0_plus_deltas(small):
    """With every delta head silenced (zero linear layer) all rows equal w0."""
    x = _images(1, 4)
    heads = [small.styles[i].linear for i in range(1, 8)]
    saved = [(head.weight.clone(), head.bias.clone()) for head in heads]
    try:
        for head in heads:
            head.weight.zero_()
            head.bias.zero_()
        out = small(x)
    finally:
        for head, (w, b) in zip(heads, saved, strict=True):
            head.weight.copy_(w)
            head.bias.copy_(b)
    torch.testing.assert_close(out, out[:, :1].expand_as(out), rtol=0, atol=0)
    assert (small(x) - out).abs().max() > 0


@torch.inference_mode()
def test_encode_adds_latent_avg(small, monkeypatch):
    x = _images(2, 5)
    codes = small(x)
    monkeypatch.setattr(small, "forward", lambda _x: codes)  # encode = forward + latent_avg
    avg = torch.randn(8, 512)
    torch.testing.assert_close(small.encode(x, avg), codes + avg.unsqueeze(0))
    torch.testing.assert_close(small.encode(x, avg[0]), codes + avg[0])
    torch.testing.assert_close(small.encode(x, avg.unsqueeze(0)), codes + avg.unsqueeze(0))
    torch.testing.assert_close(small.encode(x, None), codes)


def test_prepare_input_is_normalised_area_resize():
    img = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(6))
    out = prepare_e4e_input(img)
    expected = (img * 2 - 1).reshape(1, 3, 256, 2, 256, 2).mean((3, 5))
    assert out.shape == (1, 3, 256, 256)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    same = torch.rand(1, 3, 256, 256)
    torch.testing.assert_close(prepare_e4e_input(same), same * 2 - 1)


def test_split_official_checkpoint_layout():
    ckpt = {
        "state_dict": _meta_tensors(load_manifest("e4e_checkpoint_state_dict_1024")),
        "latent_avg": torch.zeros(18, 512),
        "opts": {"stylegan_size": 1024, "encoder_type": "Encoder4Editing"},
    }
    encoder, decoder, latent_avg = split_e4e_checkpoint(ckpt)
    assert list(shapes_of(encoder).items()) == list(load_manifest("e4e_encoder4editing_1024").items())
    assert list(shapes_of(decoder).items()) == list(load_manifest("stylegan2_generator_1024").items())
    assert latent_avg.shape == (18, 512)
    with torch.device("meta"):
        model = Encoder4Editing(stylegan_size=1024)
    model.load_state_dict(encoder, strict=True, assign=True)


def test_split_maskfacegan_and_bare_layouts():
    enc = _meta_tensors(load_manifest("maskfacegan_e4e_encoder"))
    encoder, decoder, latent_avg = split_e4e_checkpoint(
        {"options": None, "encoder_state_dict": enc, "latent_avg": torch.ones(18, 512)}
    )
    assert list(encoder) == list(enc) and decoder is None
    torch.testing.assert_close(latent_avg, torch.ones(18, 512))
    encoder, decoder, latent_avg = split_e4e_checkpoint(enc)
    assert list(encoder) == list(enc) and decoder is None and latent_avg is None
    with pytest.raises(WeightsError, match="not an e4e checkpoint"):
        split_e4e_checkpoint({"g_ema": {}})
    with pytest.raises(WeightsError, match="encoder"):
        split_e4e_checkpoint({"state_dict": {"decoder.style.1.weight": torch.zeros(1)}})
