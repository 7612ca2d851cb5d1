"""MaskFaceGAN BranchedTiny attribute classifier: keys, branch wiring, pre-processing, precision."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from facefill.errors import ModelError
from facefill.models import build, load_strict
from facefill.models.attribute_classifier import ATTRIBUTES, attribute_index
from manifest_utils import load_manifest, random_state_dict, shapes_of

torch.set_num_threads(1)
MANIFEST = "maskfacegan_attribute_classifier"

# Spec edit.md §1.4, copied as text: "index name" pairs.
SPEC_ATTRIBUTES = """
 0 blurry 1 sideburns 2 wearing_earrings 3 bald 4 goatee 5 mustache 6 5_o_clock_shadow 7 arched_eyebrows
 8 no_beard 9 heavy_makeup 10 male 11 wearing_lipstick 12 black_hair 13 high_cheekbones 14 smiling
 15 mouth_slightly_open 16 oval_face 17 bushy_eyebrows 18 attractive 19 young 20 gray_hair 21 brown_hair
 22 blond_hair 23 pale_skin 24 chubby 25 double_chin 26 big_nose 27 bags_under_eyes 28 wearing_necklace
 29 wearing_necktie 30 rosy_cheeks 31 bangs 32 wavy_hair 33 straight_hair 34 wearing_hat 35 big_lips
 36 narrow_eyes 37 pointy_nose 38 receding_hairline 39 eyeglasses
"""

# Spec edit.md §3.5 branch wiring, "children <- parent" per level (trunk = level 0 with one branch).
SPEC_WIRING = [
    "0,1<-0",
    "0,1<-0; 2<-1",
    "0-3<-0; 4-8<-1; 9<-2",
    "0<-0; 1,2,3<-1; 4,5<-2; 6<-3; 7,8,9<-4; 10,11<-5; 12,13,14<-6; 15<-7; 16<-8; 17<-9",
    "0<-0; 1<-1; 2,3<-2; 4-7<-3; 8,9<-4; 10<-5; 11<-6; 12,13,14<-7; 15,16<-8; 17,18,19<-9; 20,21<-10;"
    " 22,23,24<-11; 25<-12; 26,27<-13; 28<-14; 29<-15; 30,31<-16; 32<-17",
    "0<-0; 1,2<-1; 3,4<-2; 5<-3; 6<-4; 7<-5; 8<-6; 9,10,11<-7; 12,13,14<-8; 15<-9; 16<-10; 17<-11;"
    " 18<-12; 19<-13; 20<-14; 21<-15; 22<-16; 23<-17; 24<-18; 25<-19; 26<-20; 27<-21; 28<-22; 29<-23;"
    " 30<-24; 31<-25; 32<-26; 33<-27; 34<-28; 35,36<-29; 37<-30; 38<-31; 39<-32",
]
LEVELS = [("conv_layers", "01-06"), ("conv_layers", "06-11"), ("conv_layers", "11-12"),
          ("conv_layers", "12-13"), ("fc_layers", "13-14"), ("fc_layers", "14-15"), ("fc_layers", "15-16")]


def _parse_level(text: str) -> dict[int, int]:
    child_to_parent: dict[int, int] = {}
    for part in text.split(";"):
        children, parent = part.split("<-")
        for item in children.split(","):
            lo, _, hi = item.strip().partition("-")
            for c in range(int(lo), int(hi or lo) + 1):
                child_to_parent[c] = int(parent)
    assert sorted(child_to_parent) == list(range(len(child_to_parent)))
    return child_to_parent


def _expected_descendants() -> dict[tuple[int, int], set[int]]:
    """(level, branch) -> set of final logits that depend on it, from the spec wiring."""
    parents = [{0: 0}] + [_parse_level(t) for t in SPEC_WIRING]  # level 0 = trunk
    out: dict[tuple[int, int], set[int]] = {}
    for logit in range(40):
        branch = logit
        for level in range(len(parents) - 1, -1, -1):
            out.setdefault((level, branch), set()).add(logit)
            branch = parents[level][branch]
    return out


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12))


def _random_weights(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random tensors shaped like the model's state_dict; the normalisation buffers stay real."""
    sd = random_state_dict(shapes_of(model.state_dict()), seed=seed)
    sd["celeba_mean"], sd["celeba_std"] = model.celeba_mean.clone(), model.celeba_std.clone()
    return sd


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    model = build("maskfacegan-classifier")
    sd = random_state_dict(MANIFEST, seed=2)  # exactly the checkpoint's keys and shapes
    sd["celeba_mean"], sd["celeba_std"] = model.celeba_mean.clone(), model.celeba_std.clone()
    load_strict(model, sd)
    return model.eval()


def _tiny(seed: int = 3, img_size: int = 32) -> torch.nn.Module:
    """Same tree at a small input size (spatial 1×1 after the convs): cheap for wiring tests."""
    model = build("maskfacegan-classifier", img_size=img_size)
    load_strict(model, _random_weights(model, seed))
    return model.eval()


def test_state_dict_matches_manifest_exactly() -> None:
    model = build("maskfacegan-classifier")
    assert list(shapes_of(model.state_dict()).items()) == list(load_manifest(MANIFEST).items())


def test_attribute_order_is_maskfacegans() -> None:
    tokens = SPEC_ATTRIBUTES.split()
    spec = {int(tokens[i]): tokens[i + 1] for i in range(0, len(tokens), 2)}
    assert tuple(spec[i] for i in range(40)) == ATTRIBUTES
    assert attribute_index("Mouth-Slightly-Open") == 15
    with pytest.raises(ModelError, match="unknown attribute 'smile'"):
        attribute_index("smile")


def test_celeba_normalisation_buffers_and_224_logits(net: torch.nn.Module) -> None:
    fresh = build("maskfacegan-classifier")
    torch.testing.assert_close(fresh.celeba_mean.flatten(), torch.tensor([0.5061, 0.4254, 0.3828]))
    torch.testing.assert_close(fresh.celeba_std.flatten(), torch.tensor([0.2661, 0.2453, 0.2413]))
    mean_image = net.celeba_mean.expand(1, 3, 224, 224)
    assert net.normalize(mean_image).abs().max() < 1e-6
    with torch.no_grad():
        logits = net(torch.rand(2, 3, 224, 224))
    assert logits.shape == (2, 40) and torch.isfinite(logits).all()


def test_area_resize_to_224(net: torch.nn.Module) -> None:
    small = torch.rand(1, 3, 224, 224)
    big = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # 2×2 blocks: area-exact
    with torch.no_grad():
        torch.testing.assert_close(net(big), net(small), atol=1e-5, rtol=1e-5)


def test_branch_wiring_matches_spec() -> None:
    model = _tiny()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        base = model(x)
    expected = _expected_descendants()
    for level, (group, name) in enumerate(LEVELS):
        for b, branch in enumerate(getattr(model, group)[name]):
            handle = branch.register_forward_hook(lambda _m, _i, out: out + 1.0)
            with torch.no_grad():
                changed = set(torch.nonzero((model(x) - base).abs()[0] > 1e-6).flatten().tolist())
            handle.remove()
            assert changed == expected[(level, b)], f"{name}[{b}]"


def test_logits_for_selects_in_given_order() -> None:
    model = _tiny()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        full = model(x)
        picked = model.logits_for(x, ["eyeglasses", "blurry", "male"])
    torch.testing.assert_close(picked, full[:, [39, 0, 10]])


def test_batch_items_are_independent_in_eval() -> None:
    model = _tiny()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[1:2], model(x[1:2]))


def test_float32_agrees_with_float64() -> None:
    model = _tiny(seed=4, img_size=64)
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        assert _rel_err(model(x.float()), copy.deepcopy(model).double()(x)) < 1e-5


def test_conv_blocks_apply_relu_before_batchnorm(net: torch.nn.Module) -> None:
    first = net.conv_layers["01-06"][0]
    kinds = [type(m).__name__ for m in first]
    assert kinds[:4] == ["Conv2d", "ReLU", "BatchNorm2d", "Conv2d"]
    assert re.fullmatch(r"(CRB){2}M(CRB){2}M(CRB){2}", "".join(k[0] for k in kinds))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(net: torch.nn.Module) -> None:
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        cpu = net(x)
        gpu = copy.deepcopy(net).cuda()(x.cuda()).cpu()
    assert _rel_err(gpu, cpu) < 1e-3
