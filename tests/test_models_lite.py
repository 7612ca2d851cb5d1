"""facefill-lite: architecture limits, the zero-init "untrained == Telea" property, shipped weights, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors import safe_open

from facefill.models.facefill_lite import FacefillLite
from facefill.models.registry import build
from facefill.pipelines.lite import LiteInpainter, load_lite_generator, shipped_weights_path, telea_batch
from facefill.pipelines.registry import get_inpainter
from facefill.runtime.context import RunContext

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = shipped_weights_path()
needs_weights = pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped facefill-lite weights not present")


pytestmark = pytest.mark.usefixtures("one_thread")


def _face_like(size: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth random image (low-frequency noise): Telea has something meaningful to extend."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def _hole(size: int = 64) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    m[size // 4 : size // 2, size // 3 : 2 * size // 3] = 1
    return m


def _tensors(img: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    return x, torch.from_numpy(mask)[None, None].float()


def test_default_architecture_is_small_and_keeps_shape() -> None:
    torch.manual_seed(0)
    net = build("facefill-lite")
    n_params = sum(p.numel() for p in net.parameters())
    # independent count: conv params = cin*cout*k*k + cout, summed over the architecture's conv list
    w, cin = net.widths, 4
    convs = [(cin, w[0])]
    for a, b in zip(w[:-1], w[1:], strict=True):
        convs += [(a, b), (b, b)]
    convs += [(w[-1], w[-1])] * (2 * len(net.dilations))
    rev = w[::-1]
    for a, b in zip(rev[:-1], rev[1:], strict=True):
        convs += [(a, b), (b, b)]
    convs.append((w[0], 3))
    assert n_params == sum(a * b * 9 + b for a, b in convs)
    assert n_params <= 8_000_000
    x, m = torch.rand(2, 3, 48, 64), (torch.rand(2, 1, 48, 64) > 0.5).float()
    out = net(x, m)
    assert out.shape == (2, 3, 48, 64)


def test_untrained_model_equals_telea_inside_and_input_outside() -> None:
    torch.manual_seed(0)
    img, mask = _face_like(), _hole()
    fill = LiteInpainter(FacefillLite().eval())
    x, m = _tensors(img, mask)
    out = fill.fill_tensors(x, m)
    composite = out * m + x * (1 - m)
    got = (composite[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    telea = cv2.inpaint(img, mask, 3, cv2.INPAINT_TELEA)  # independent classical fill
    hole = mask.astype(bool)
    np.testing.assert_array_equal(got[hole], telea[hole])
    np.testing.assert_array_equal(got[~hole], img[~hole])


def test_residual_only_changes_the_hole() -> None:
    torch.manual_seed(0)
    net = FacefillLite()
    torch.nn.init.normal_(net.head.weight, std=0.1)  # a "trained" head
    filled, m = torch.rand(1, 3, 64, 64), torch.from_numpy(_hole())[None, None].float()
    out = net(filled, m)
    outside = m.expand_as(out) == 0
    assert torch.equal(out[outside], filled[outside])
    assert (out[~outside] - filled[~outside]).abs().max() > 1e-3


def test_telea_batch_matches_opencv_per_image() -> None:
    imgs = [_face_like(seed=s) for s in (1, 2)]
    masks = [_hole(), np.rot90(_hole()).copy()]
    x = torch.cat([_tensors(i, m)[0] for i, m in zip(imgs, masks, strict=True)])
    mk = torch.cat([_tensors(i, m)[1] for i, m in zip(imgs, masks, strict=True)])
    got = (telea_batch(x, mk).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    for k in range(2):
        np.testing.assert_array_equal(got[k], cv2.inpaint(imgs[k], masks[k], 3, cv2.INPAINT_TELEA))


def test_registry_spec() -> None:
    spec = get_inpainter("facefill-lite")
    assert spec.native_size == 256
    assert spec.multiple_of % FacefillLite().multiple_of == 0


def test_export_roundtrip_through_the_loader(tmp_path: Path) -> None:
    from facefill.training.export import export_generator

    torch.manual_seed(3)
    net = FacefillLite(widths=(8, 16, 16), dilations=(1, 2))
    torch.nn.init.normal_(net.head.weight, std=0.05)
    path = export_generator(net, tmp_path / "g.safetensors", step=7)
    loaded = load_lite_generator(path)
    assert loaded.widths == (8, 16, 16) and loaded.dilations == (1, 2)
    x, m = torch.rand(1, 3, 32, 32), (torch.rand(1, 1, 32, 32) > 0.5).float()
    assert torch.equal(loaded(x, m), net.eval()(x, m))
    with safe_open(str(path), framework="pt") as fh:
        assert fh.metadata()["step"] == "7"


def test_loader_rejects_missing_file(tmp_path: Path) -> None:
    from facefill.errors import WeightsError

    with pytest.raises(WeightsError, match="no such file"):
        load_lite_generator(tmp_path / "nope.safetensors")


@needs_weights
def test_shipped_weights_are_small_trained_and_loadable() -> None:
    assert SHIPPED.stat().st_size <= 20 * 1024 * 1024
    with safe_open(str(SHIPPED), framework="pt") as fh:
        meta = fh.metadata()
    assert int(meta["step"]) > 0 and json.loads(meta["widths"])
    spec = get_inpainter("facefill-lite")
    fill = spec.load(RunContext(device="cpu"))
    img, mask = _face_like(256, seed=5), _hole(256)
    x, m = _tensors(img, mask)
    out = fill.fill_tensors(x, m)
    telea = telea_batch(x, m)
    assert out.shape == x.shape
    assert (out - telea).abs().max() > 1 / 255  # trained: the residual is not zero any more


@needs_weights
def test_cli_inpaint_with_facefill_lite_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from facefill.cli import group

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out.png"
    face, mask_file = ROOT / "examples" / "face.png", ROOT / "examples" / "mask.png"
    result = CliRunner().invoke(
        group,
        ["inpaint", str(face), "--mask", str(mask_file), "--model", "facefill-lite", "-o", str(out)],
        obj={},
    )
    assert result.exit_code == 0, result.output
    src = cv2.imread(str(face))
    got = cv2.imread(str(out))
    hole = cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE) > 127
    assert got.shape == src.shape
    # outside the (slightly feathered at most) hole the photo is untouched; inside it was filled
    far = cv2.dilate(hole.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    assert np.abs(got[far].astype(int) - src[far]).max() <= 1
    assert np.abs(got[hole].astype(int) - 255).mean() > 20  # not left white/blank
