"""Inpainter adapters for the published networks: DeepFillv2 (nipponjo files) and LaMa (TorchScript).

Weights are tiny stand-ins written to tmp_path and handed over the way `--weights NAME=PATH` does
(a RunContext's `weights`), so the real loading code path runs without any download.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from facefill.errors import WeightsError
from facefill.pipelines import deepfill, lama
from facefill.runtime.context import RunContext
from manifest_utils import random_state_dict

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FACEFILL_OFFLINE", "1")
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FACEFILL_WEIGHTS_DIR", raising=False)


def _image_and_mask(n: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, h, w, generator=gen)
    mask = torch.zeros(n, 1, h, w)
    mask[..., h // 4 : h // 2 + 3, w // 3 : w // 3 + w // 4] = 1
    return image, mask


def _deepfill_file(tmp_path, flavour: str, *, with_fuse: bool = False) -> str:
    state = random_state_dict(f"deepfillv2_generator_{flavour}", seed=1)
    if not with_fuse:
        state.pop("stage2.contextual_attention.fuse_weight", None)
    path = tmp_path / f"states_{flavour}_celebahq.pth"
    torch.save({"G": state, "n_iter": 0}, path)  # the layout of nipponjo's files
    return str(path)


def _load_deepfill(tmp_path, flavour: str = "pt"):
    name = "deepfillv2-celebahq" if flavour == "pt" else "deepfillv2-celebahq-tf"
    ctx = RunContext(device="cpu", weights={name: _deepfill_file(tmp_path, flavour)})
    return deepfill.CELEBAHQ_SPEC.load(ctx)


def test_specs_declare_padding_and_weights():
    assert deepfill.CELEBAHQ_SPEC.name == "deepfillv2-celebahq"
    assert deepfill.PLACES2_SPEC.weights == ("deepfillv2-places2", "deepfillv2-places2-tf")
    assert deepfill.CELEBAHQ_SPEC.multiple_of == 8 and lama.LAMA_SPEC.multiple_of == 8
    assert lama.LAMA_SPEC.weights == ("lama-big",)


@pytest.mark.parametrize("flavour", ["pt", "tf"])
def test_deepfill_pads_crops_and_only_changes_the_hole(tmp_path, flavour):
    fill = _load_deepfill(tmp_path, flavour)
    assert fill.flavour == flavour
    image, mask = _image_and_mask(1, 45, 62)  # neither a multiple of 8
    out = fill.run(image, mask)
    assert out["inpainted"].shape == image.shape
    keep = mask.expand_as(image) == 0
    assert torch.equal(out["inpainted"][keep], image[keep])  # known pixels bit-exact
    assert (out["inpainted"] - image)[~keep].abs().max() > 1e-3  # the hole was really filled
    assert out["inpainted"].min() >= 0 and out["inpainted"].max() <= 1
    # Padding is reflect to the next multiple of 8 on bottom/right, then crop: same as doing it by hand.
    padded_image = F.pad(image, (0, 2, 0, 3), mode="reflect")
    padded_mask = F.pad(mask, (0, 2, 0, 3), mode="reflect")
    by_hand = fill.run(padded_image, padded_mask)["stage2"][..., :45, :62]
    assert torch.allclose(out["stage2"], by_hand, atol=1e-6)


def test_deepfill_follows_the_published_input_contract(tmp_path):
    """G gets concat(x·(1−m), ones, ones·m) with x in [-1,1], and the composite uses stage 2."""
    fill = _load_deepfill(tmp_path, "pt")
    image, mask = _image_and_mask(1, 32, 40, seed=3)
    seen = {}

    def spy(module, args):
        seen["x"], seen["mask"] = args

    handle = fill.generator.register_forward_pre_hook(spy)
    fuzzy = mask * 0.8  # anything above 0.5 is a hole
    out = fill.run(image, fuzzy)
    handle.remove()
    x, m = seen["x"], seen["mask"]
    assert torch.equal(m, mask)
    assert torch.allclose(x[:, :3], (image * 2 - 1) * (1 - mask), atol=1e-6)
    assert torch.equal(x[:, 3:4], torch.ones_like(mask)) and torch.equal(x[:, 4:5], mask)
    with torch.no_grad():
        _, stage2 = fill.generator(x, m)
    expected = image * (1 - mask) + ((stage2 + 1) / 2) * mask
    assert torch.allclose(out["inpainted"], expected, atol=1e-6)


def test_deepfill_batch_equals_single_images(tmp_path):
    """Each sample's own mask decides which background patches attention may use."""
    fill = _load_deepfill(tmp_path, "pt")
    image, mask = _image_and_mask(2, 48, 48, seed=5)
    mask[1] = 0
    mask[1, :, 4:20, 24:44] = 1  # a different hole for the second image
    batch = fill.run(image, mask)["inpainted"]
    for i in range(2):
        single = fill.run(image[i : i + 1], mask[i : i + 1])["inpainted"]
        assert torch.allclose(batch[i : i + 1], single, atol=1e-5)


def test_deepfill_falls_back_to_the_other_flavour_given_in_the_context(tmp_path):
    """`--weights NAME=PATH` reaches the loader only through the run context."""
    ctx = RunContext(device="cpu", weights={"deepfillv2-places2-tf": _deepfill_file(tmp_path, "tf")})
    fill = deepfill.PLACES2_SPEC.load(ctx)  # pt file absent: falls back to the tf one
    assert fill.flavour == "tf" and fill.weights_name == "deepfillv2-places2-tf"


def test_deepfill_accepts_the_fuse_buffer_too(tmp_path):
    ctx = RunContext(
        device="cpu", weights={"deepfillv2-celebahq": _deepfill_file(tmp_path, "pt", with_fuse=True)}
    )
    fill = deepfill.CELEBAHQ_SPEC.load(ctx)
    buffer = fill.generator.stage2.contextual_attention.fuse_weight
    assert torch.equal(buffer, torch.eye(3).view(1, 1, 3, 3))


def test_deepfill_missing_weights_say_where_to_get_them(tmp_path):
    with pytest.raises(WeightsError) as info:
        deepfill.PLACES2_SPEC.load(RunContext(device="cpu"))
    message = str(info.value)
    assert "states_pt_places2.pth" in message and "facefill weights import deepfillv2-places2" in message
    assert "\n" not in message


def test_deepfill_foreign_checkpoint_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"G": {"encoder.weight": torch.zeros(2)}}, path)
    with pytest.raises(WeightsError, match="not a DeepFillv2"):
        deepfill.CELEBAHQ_SPEC.load(RunContext(device="cpu", weights={"deepfillv2-celebahq": str(path)}))


# ------------------------------------------------------------------ LaMa


class _ContractCheckingLama(torch.nn.Module):
    """Stands in for big-lama.pt: refuses anything but the IOPaint call contract, paints holes 2.0."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if image.shape[2] % 8 != 0 or image.shape[3] % 8 != 0:
            raise RuntimeError("size must be a multiple of 8")
        if mask.shape[1] != 1 or image.shape[1] != 3:
            raise RuntimeError("expected N×3×H×W image and N×1×H×W mask")
        if bool(image.min() < 0.0) or bool(image.max() > 1.0):
            raise RuntimeError("image must be in [0,1]")
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise RuntimeError("mask must be binary")
        return image * (1.0 - mask) + 2.0 * mask  # out of range on purpose: the adapter clamps


def _lama_file(tmp_path) -> str:
    path = tmp_path / "big-lama.pt"
    torch.jit.save(torch.jit.script(_ContractCheckingLama()), str(path))
    return str(path)


def test_lama_pads_binarises_and_crops(tmp_path):
    fill = lama.LAMA_SPEC.load(RunContext(device="cpu", weights={"lama-big": _lama_file(tmp_path)}))
    image, mask = _image_and_mask(2, 30, 42, seed=7)
    soft = mask * 0.3  # IOPaint: any mask value > 0 is a hole
    out = fill.run(image, soft)
    assert out.shape == image.shape
    keep = mask.expand_as(image) == 0
    assert torch.equal(out[keep], image[keep])
    assert torch.equal(out[~keep], torch.ones_like(out[~keep]))  # 2.0 clamped to 1


def test_lama_scripted_module_really_checks_the_contract(tmp_path):
    """The stand-in raises on a wrong call, so the test above would notice a broken adapter."""
    module = torch.jit.load(_lama_file(tmp_path))
    image, mask = _image_and_mask(1, 30, 42)
    with pytest.raises(torch.jit.Error, match="multiple of 8"):
        module(image, mask)
    with pytest.raises(torch.jit.Error, match="binary"):
        module(image[..., :24, :40], mask[..., :24, :40] * 0.3)


def test_lama_rejects_a_file_that_is_not_torchscript(tmp_path):
    path = tmp_path / "big-lama.pt"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(WeightsError, match="TorchScript"):
        lama.LAMA_SPEC.load(RunContext(device="cpu", weights={"lama-big": str(path)}))
