"""BiSeNet face parser (zllrunning layout) and the ResNet backbones it shares with the DeepLab parser."""

from __future__ import annotations

import copy

import pytest
import torch

from facefill.errors import WeightsError
from facefill.models import build, from_checkpoint, load_strict
from facefill.models.bisenet import (
    BISENET_CLASSES,
    BISENET_REGION_GROUPS,
    BISENET_TO_MASKFACEGAN,
    group_probabilities,
)
from manifest_utils import load_manifest, random_state_dict, shapes_of

torch.set_num_threads(1)
MANIFEST = "bisenet_face_parsing_19"

# Spec edit.md §3.3, written out independently of the module.
SPEC_LABELS = (
    "0 background, 1 skin, 2 l_brow, 3 r_brow, 4 l_eye, 5 r_eye, 6 eye_g, 7 l_ear, 8 r_ear, 9 ear_r, "
    "10 nose, 11 mouth, 12 u_lip, 13 l_lip, 14 neck, 15 neck_l, 16 cloth, 17 hair, 18 hat"
)


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12))


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    model = build("bisenet")
    load_strict(model, random_state_dict(MANIFEST, seed=1))
    return model.eval()


def test_state_dict_matches_manifest_exactly() -> None:
    model = build("bisenet")
    assert list(shapes_of(model.state_dict()).items()) == list(load_manifest(MANIFEST).items())


def test_strict_load_copies_every_tensor(net: torch.nn.Module) -> None:
    sd = random_state_dict(MANIFEST, seed=1)
    own = net.state_dict()
    assert all(torch.equal(own[k], v) for k, v in sd.items())


def test_wrong_checkpoint_is_rejected_readably() -> None:
    sd = random_state_dict(MANIFEST, seed=1)
    sd["conv_out.conv_out.weight"] = torch.zeros(18, 256, 1, 1)
    del sd["cp.arm16.bn_atten.bias"]
    with pytest.raises(WeightsError, match="1 missing.*1 shape"):
        from_checkpoint("bisenet", sd)


def test_class_names_follow_the_spec_order() -> None:
    expected = tuple(item.split(" ")[1] for item in SPEC_LABELS.split(", "))
    assert expected == BISENET_CLASSES
    assert [int(item.split(" ")[0]) for item in SPEC_LABELS.split(", ")] == list(range(19))


@pytest.mark.parametrize("groups", [BISENET_REGION_GROUPS, BISENET_TO_MASKFACEGAN])
def test_region_groups_partition_all_19_classes(groups: dict[str, tuple[int, ...]]) -> None:
    members = [i for idx in groups.values() for i in idx]
    assert sorted(members) == list(range(19))  # every class once, none twice


def test_region_groups_put_classes_where_their_names_say() -> None:
    named = {name: {BISENET_CLASSES[i] for i in idx} for name, idx in BISENET_REGION_GROUPS.items()}
    assert named["brows"] == {"l_brow", "r_brow"}
    assert named["lips"] == {"u_lip", "l_lip"}
    assert named["glasses"] == {"eye_g"}
    assert named["ears"] == {"l_ear", "r_ear"}
    assert {BISENET_CLASSES[i] for i in BISENET_TO_MASKFACEGAN["mouth"]} == {"mouth", "u_lip", "l_lip"}


@pytest.mark.parametrize("size", [(64, 64), (64, 96)])
def test_logits_come_back_at_input_size(net: torch.nn.Module, size: tuple[int, int]) -> None:
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        out, out16, out32 = net(x, return_aux=True)
        plain = net(x)
    assert out.shape == out16.shape == out32.shape == (2, 19, *size)
    assert torch.equal(plain, out)
    with torch.no_grad():
        feat8, head16, _ = net.cp(x)
        coarse = net.conv_out(net.ffm(feat8, head16))
    assert coarse.shape[-2:] == (size[0] // 8, size[1] // 8)
    up = torch.nn.functional.interpolate
    torch.testing.assert_close(out, up(coarse, size=size, mode="bilinear", align_corners=True))
    assert not torch.allclose(out, up(coarse, size=size, mode="bilinear", align_corners=False))


def test_parse_gives_probabilities_at_image_size(net: torch.nn.Module) -> None:
    images = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        probs = net.parse(images, input_size=64)
    assert probs.shape == (1, 19, 40, 56)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(1, 40, 56), atol=1e-5, rtol=0)
    groups = group_probabilities(probs)
    torch.testing.assert_close(sum(groups.values()), torch.ones(1, 1, 40, 56), atol=1e-5, rtol=0)


def test_parse_normalises_with_imagenet_statistics(net: torch.nn.Module) -> None:
    images = torch.rand(1, 3, 64, 64)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = torch.softmax(net((images - mean) / std), dim=1)
        torch.testing.assert_close(net.parse(images, input_size=64), expected)


def test_float32_agrees_with_float64(net: torch.nn.Module) -> None:
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    net64 = copy.deepcopy(net).double()
    with torch.no_grad():
        assert _rel_err(net(x.float()), net64(x)) < 1e-5


def test_resnet50_dilation_follows_torchvision() -> None:
    model = build("resnet50", include_top=False, replace_stride_with_dilation=(False, True, True))
    assert [b.conv2.dilation for b in model.layer3] == [(1, 1)] + [(2, 2)] * 5
    assert [b.conv2.dilation for b in model.layer4] == [(2, 2), (4, 4), (4, 4)]
    assert model.layer4[0].downsample[0].stride == (1, 1)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 2048, 8, 8)


def test_resnet_classifiers_have_torchvision_heads() -> None:
    r18, r50 = build("resnet18"), build("resnet50")
    sd18, sd50 = r18.state_dict(), r50.state_dict()
    assert sd18["fc.weight"].shape == (1000, 512) and sd50["fc.weight"].shape == (1000, 2048)
    assert len(sd18) == 122 and len(sd50) == 320  # torchvision resnet18 / resnet50 key counts
    with torch.no_grad():
        assert r18.eval()(torch.randn(2, 3, 64, 64)).shape == (2, 1000)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(net: torch.nn.Module) -> None:
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        cpu = net(x)
        gpu = copy.deepcopy(net).cuda()(x.cuda()).cpu()
    assert _rel_err(gpu, cpu) < 1e-3
