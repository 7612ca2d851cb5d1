"""MaskFaceGAN 9-class DeepLabV3-ResNet50 face parser: keys, checkpoint cleaning, conventions."""

from __future__ import annotations

import copy

import pytest
import torch

from facefill.errors import WeightsError
from facefill.models import build, from_checkpoint, load_strict
from facefill.models.deeplab_parser import PARSER_CLASSES, clean_checkpoint
from manifest_utils import load_manifest, random_state_dict, shapes_of

torch.set_num_threads(1)
MANIFEST = "maskfacegan_face_parser"
SIZE = 64  # the network is fully convolutional; tests run it small


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12))


@pytest.fixture(scope="module")
def parser() -> torch.nn.Module:
    model = build("maskfacegan-parser", input_size=SIZE)
    load_strict(model, random_state_dict(MANIFEST, seed=5))
    return model.eval()


def test_state_dict_matches_manifest_exactly() -> None:
    model = build("maskfacegan-parser")
    assert list(shapes_of(model.state_dict()).items()) == list(load_manifest(MANIFEST).items())


def test_real_checkpoint_layout_loads_after_dropping_loss_weight() -> None:
    raw = random_state_dict(MANIFEST, seed=5)
    raw["loss.weight"] = torch.ones(9)  # what MaskFaceGAN's state.pt also holds
    with pytest.raises(WeightsError, match="1 unexpected: loss.weight"):
        from_checkpoint("maskfacegan-parser", raw)
    model = from_checkpoint("maskfacegan-parser", clean_checkpoint(raw))
    assert not model.training
    assert torch.equal(model.state_dict()["model.classifier.4.bias"], raw["model.classifier.4.bias"])


def test_class_order_is_maskfacegans() -> None:
    assert PARSER_CLASSES == ("background", "mouth", "eyebrows", "eyes", "hair", "nose", "skin", "ears",
                              "belowface")


def test_head_follows_torchvision_deeplabv3() -> None:
    model = build("maskfacegan-parser")
    aspp = model.model.classifier[0]
    assert [aspp.convs[i][0].dilation for i in (1, 2, 3)] == [(12, 12), (24, 24), (36, 36)]
    assert [aspp.convs[i][0].padding for i in (1, 2, 3)] == [(12, 12), (24, 24), (36, 36)]
    assert type(aspp.project[3]).__name__ == "Dropout" and aspp.project[3].p == 0.5
    assert model.model.classifier[4].out_channels == 9 and model.model.classifier[4].bias is not None


@pytest.mark.parametrize("size", [(SIZE, SIZE), (48, 80)])
def test_logits_at_input_size_and_deterministic_in_eval(parser: torch.nn.Module, size: tuple) -> None:
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        a, b = parser(x), parser(x)
    assert a.shape == (1, 9, *size)
    assert torch.equal(a, b)  # dropout inactive in eval


def test_probabilities_sum_to_one_and_use_2x_minus_1(parser: torch.nn.Module) -> None:
    images = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        probs = parser.probabilities(images)
        expected = torch.softmax(parser(images * 2 - 1), dim=1)
        up = parser.probabilities(images, output_size=2 * SIZE)
    assert probs.shape == (2, 9, SIZE, SIZE) and up.shape == (2, 9, 2 * SIZE, 2 * SIZE)
    torch.testing.assert_close(probs, expected)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(2, SIZE, SIZE), atol=1e-5, rtol=0)
    torch.testing.assert_close(up.sum(dim=1), torch.ones(2, 2 * SIZE, 2 * SIZE), atol=1e-5, rtol=0)


def test_larger_inputs_are_area_resized(parser: torch.nn.Module) -> None:
    small = torch.rand(1, 3, SIZE, SIZE)
    big = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # 2×2 blocks: area-exact
    with torch.no_grad():
        torch.testing.assert_close(parser.probabilities(big), parser.probabilities(small))


def test_region_mask_sums_named_classes_once(parser: torch.nn.Module) -> None:
    images = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        probs = parser.probabilities(images)
        mask = parser.region_mask(images, ["skin", "mouth", "skin"])
    torch.testing.assert_close(mask, probs[:, 6:7] + probs[:, 1:2])


def test_float32_agrees_with_float64(parser: torch.nn.Module) -> None:
    x = torch.randn(1, 3, SIZE, SIZE, dtype=torch.float64)
    with torch.no_grad():
        assert _rel_err(parser(x.float()), copy.deepcopy(parser).double()(x)) < 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(parser: torch.nn.Module) -> None:
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        cpu = parser.probabilities(x)
        gpu = copy.deepcopy(parser).cuda().probabilities(x.cuda()).cpu()
    assert (gpu - cpu).abs().max() < 1e-3
