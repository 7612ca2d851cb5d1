"""InpaintPipeline: compositing, pad-to-multiple, batched native-size crops, 16-bit precision, feathering."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from facefill.pipelines import registry
from facefill.pipelines.crops import MaskBoxCrop
from facefill.pipelines.inpaint import InpaintPipeline
from facefill.pipelines.registry import INPAINT, InpainterSpec
from facefill.pipelines.requests import InpaintRequest
from facefill.pipelines.sizing import pad_to_multiple, square_box

torch.set_num_threads(1)


def random_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.float32) / 255.0


def box_mask(h: int, w: int, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    mask = np.zeros((h, w), np.float32)
    mask[top:bottom, left:right] = 1.0
    return mask


class ConstantModel:
    """A fake network: records the shapes it is given and paints the hole with one value."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, request: InpaintRequest) -> torch.Tensor:
        image, mask = request.image, request.mask
        self.shapes.append(tuple(image.shape))
        assert set(torch.unique(mask).tolist()) <= {0.0, 1.0}
        assert not bool(image[mask.expand_as(image) > 0].any())  # the hole arrives zeroed
        return torch.full_like(image, self.value)


@pytest.fixture()
def fake_model(monkeypatch: pytest.MonkeyPatch):
    """Register a fake inpainter under a test name; returns (register(**spec_fields), model)."""
    model = ConstantModel(0.25)

    def register(name: str, **fields) -> str:
        monkeypatch.setitem(
            registry._SPECS,
            (INPAINT, name),
            InpainterSpec(name=name, description="test", load=lambda ctx: model, **fields),
        )
        return name

    return register, model


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_classical_changes_only_the_hole(method: str) -> None:
    image = random_image(37, 45)
    mask = box_mask(37, 45, 10, 20, 5, 30)
    out = InpaintPipeline(method)(image, mask)
    assert out.shape == image.shape and out.dtype == np.float32
    keep = mask == 0
    assert np.array_equal(out[keep], image[keep])
    assert np.abs(out[~keep] - image[~keep]).mean() > 0.05  # random noise cannot be reproduced


def test_tensor_batch_in_tensor_out() -> None:
    images = torch.from_numpy(np.stack([random_image(24, 32, s) for s in range(3)])).permute(0, 3, 1, 2)
    masks = torch.zeros(3, 1, 24, 32)
    masks[0, :, 2:6, 2:6] = 1
    masks[2, :, 10:20, 10:30] = 1
    out = InpaintPipeline("telea")(images, masks)
    assert out.shape == images.shape
    assert torch.equal(out[1], images[1])  # no hole in item 1
    assert torch.equal(out[masks.expand_as(out) == 0], images[masks.expand_as(images) == 0])


def test_pad_to_multiple_then_crop_back(fake_model) -> None:
    register, model = fake_model
    name = register("test-pad8", multiple_of=8)
    image = random_image(21, 30)
    mask = box_mask(21, 30, 3, 9, 4, 12)
    out = InpaintPipeline(name)(image, mask)
    assert model.shapes == [(1, 3, 24, 32)]
    assert out.shape == image.shape
    assert np.allclose(out[mask == 1], 0.25)
    assert np.array_equal(out[mask == 0], image[mask == 0])


def test_reflect_padding_mirrors_the_border() -> None:
    x = torch.arange(12, dtype=torch.float32).reshape(1, 1, 3, 4)
    padded, size = pad_to_multiple(x, 4)
    assert size == (3, 4) and padded.shape == (1, 1, 4, 4)
    assert torch.equal(padded[0, 0, 3], x[0, 0, 1])  # row 3 mirrors row 1 (reflect, not repeat)


def test_native_size_model_runs_on_a_square_crop(fake_model) -> None:
    register, model = fake_model
    name = register("test-native32", native_size=32)
    image = random_image(120, 90)
    mask = box_mask(120, 90, 50, 60, 40, 55)
    out = InpaintPipeline(name)(image, mask)
    assert model.shapes == [(1, 3, 32, 32)]
    assert out.shape == image.shape
    assert np.allclose(out[mask == 1], 0.25, atol=1e-5)
    assert np.array_equal(out[mask == 0], image[mask == 0])


@pytest.mark.parametrize(
    ("bbox", "margin", "hw"),
    [((50, 60, 40, 55), 10, (120, 90)), ((0, 5, 0, 5), 128, (120, 90)), ((100, 120, 80, 90), 20, (120, 90))],
)
def test_square_box_contains_the_hole_and_stays_inside(bbox, margin, hw) -> None:
    y0, y1, x0, x1 = square_box(bbox, margin, *hw)
    assert 0 <= y0 <= bbox[0] and bbox[1] <= y1 <= hw[0]
    assert 0 <= x0 <= bbox[2] and bbox[3] <= x1 <= hw[1]
    side = max(bbox[1] - bbox[0], bbox[3] - bbox[2]) + 2 * margin
    assert y1 - y0 == min(side, hw[0]) and x1 - x0 == min(side, hw[1])


def test_sixteen_bit_values_keep_their_precision() -> None:
    value = 25829.0 / 65535.0  # half-way between two 8-bit levels: an 8-bit detour would move it
    image = np.full((20, 20, 3), value, np.float32)
    mask = box_mask(20, 20, 5, 15, 5, 15)
    out = InpaintPipeline("telea")(image, mask)
    assert np.abs(out - value).max() < 3.0 / 65535.0  # 16-bit precision (Telea rounds by a few units)
    assert abs(round(value * 255) / 255 - value) > 1e-3  # so the check above catches any 8-bit detour


def test_empty_mask_returns_the_input_and_warns() -> None:
    image = random_image(10, 12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = InpaintPipeline("telea")(image, np.zeros((10, 12), np.float32))
    assert np.array_equal(out, image)
    assert any("no hole" in str(w.message) for w in caught)


def test_feather_blends_only_near_the_hole(fake_model) -> None:
    register, _ = fake_model
    name = register("test-feather")
    image = np.zeros((30, 30, 3), np.float32)
    mask = box_mask(30, 30, 10, 20, 10, 20)
    out = InpaintPipeline(name, feather=4)(image, mask)
    assert np.allclose(out[10:20, 10:20], 0.25)  # hole fully replaced
    # one pixel left of the hole: distance 1, weight 1 - 1/(4+1) = 0.8
    assert out[15, 9, 0] == pytest.approx(0.25 * 0.8, abs=1e-6)
    assert np.all(out[:, :5] == 0) and np.all(out[:5] == 0)  # beyond 4 px: untouched
    assert 0 < out[15, 6, 0] < out[15, 8, 0] < out[15, 9, 0]  # monotone ramp


def test_mask_box_crop_sends_all_images_in_one_call_like_one_by_one() -> None:
    images = torch.rand(3, 3, 70, 90, generator=torch.Generator().manual_seed(1))
    masks = torch.zeros(3, 1, 70, 90)
    masks[0, :, 5:20, 5:30] = 1
    masks[2, :, 40:66, 50:88] = 1  # item 1 has no hole: it is not sent

    calls: list[int] = []

    def fill(request: InpaintRequest) -> torch.Tensor:  # a position-dependent "model"
        calls.append(len(request))
        ramp = torch.linspace(0, 1, request.image.shape[-1]).view(1, 1, 1, -1)
        return (request.image * 0.5 + ramp * request.mask).clamp(0, 1)

    strategy = MaskBoxCrop(margin=8)
    batched = strategy(InpaintRequest(images, masks), fill, 32)
    assert calls == [2]
    singles = [strategy(InpaintRequest(images[n : n + 1], masks[n : n + 1]), fill, 32) for n in range(3)]
    one_by_one = torch.cat(singles)
    assert torch.equal(batched, one_by_one)
    assert torch.equal(batched[1], images[1])


def test_unknown_model_is_a_model_error() -> None:
    from facefill.errors import ModelError

    with pytest.raises(ModelError, match="choose one of"):
        InpaintPipeline("no-such-model")
