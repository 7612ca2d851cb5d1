"""facefill-lite v2: the FFC model (global receptive field, untrained == Telea, warm start == v1,
export round trip), its region-hole data and its recipe (feature matching, learning, exact resume)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facefill.errors import UsageError
from facefill.models.facefill_lite_v2 import FacefillLiteV2
from facefill.models.registry import build, from_checkpoint
from facefill.training.dataset import MaskSampler
from facefill.training.recipe import build_recipe
from facefill.training.recipes.lite_v2 import LiteV2Recipe, RegionMaskBatches, region_hole
from facefill.training.trainer import TrainConfig, Trainer

TINY = {"widths": (8, 16, 32), "dilations": (1, 2), "blocks": 1, "critic_widths": (8, 16, 16, 16)}


pytestmark = pytest.mark.usefixtures("one_thread")


def test_default_model_fits_the_size_budget_and_untrained_is_the_prior():
    model = build("facefill-lite-v2")
    params = sum(p.numel() for p in model.parameters())
    assert params * 4 <= 15e6  # float32 weights <= 15 MB
    filled, mask = torch.rand(1, 3, 64, 64), (torch.rand(1, 1, 64, 64) > 0.5).float()
    assert torch.equal(model(filled, mask), filled.clamp(0, 1))  # zero head: Telea passes through


def _wake(model: torch.nn.Module) -> None:
    """Random weights in the zero-initialised layers (head, each FFC block's second layer)."""
    for name, tensor in model.named_parameters():
        if name.endswith("weight") and not tensor.any():
            torch.nn.init.normal_(tensor, std=0.1)


def test_receptive_field_covers_the_whole_image():
    """A hole pixel in one corner depends on the far corner's input (FFC: global in one block)."""
    torch.manual_seed(0)
    model = FacefillLiteV2((8, 16, 32), dilations=(1,), blocks=1).eval()
    _wake(model)
    filled = torch.rand(1, 3, 128, 128, requires_grad=True)
    out = model(filled, torch.ones(1, 1, 128, 128))
    out[0, :, 0, 0].sum().backward()
    assert filled.grad[0, :, -4:, -4:].abs().sum() > 0
    # v1-style local convolutions at this depth would see only a few pixels around (0, 0)
    without = FacefillLiteV2((8, 16, 32), dilations=(1,), blocks=0).eval()
    without.load_state_dict(model.state_dict(), strict=False)
    filled.grad = None
    without(filled, torch.ones(1, 1, 128, 128))[0, :, 0, 0].sum().backward()
    assert filled.grad[0, :, -4:, -4:].abs().sum() == 0  # the control: no FFC, no far-corner influence


def test_warm_start_from_v1_computes_exactly_what_v1_computes(tmp_path: Path):
    """init=<v1 export>: every v1 tensor is copied and the new FFC blocks start as the identity."""
    from facefill.models.facefill_lite import FacefillLite
    from facefill.training.export import export_generator

    torch.manual_seed(1)
    v1 = FacefillLite((8, 16, 32), dilations=(1, 2)).eval()
    _wake(v1)
    path = export_generator(v1, tmp_path / "v1.safetensors", step=1, arch="facefill-lite",
                            config={"widths": [8, 16, 32], "dilations": [1, 2]})
    v2 = LiteV2Recipe(**{**TINY, "init": str(path)}).build_generator().eval()
    x, m = torch.rand(2, 3, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
    with torch.no_grad():
        assert torch.equal(v2(x, m), v1(x, m))
        assert not torch.equal(v2(x, m), x)  # v1 is not the identity: the check has teeth
    with pytest.raises(UsageError, match="init="):
        LiteV2Recipe(widths=(8, 16, 32), dilations=(1, 2, 4), init=str(path)).build_generator()


def test_export_round_trips_through_the_registry(tmp_path: Path):
    from facefill.weights.safe_load import load_safetensors, safetensors_metadata

    recipe = LiteV2Recipe(**TINY)
    model = recipe.build_generator()
    torch.nn.init.normal_(model.head.weight, std=0.1)
    path = recipe.export(model, tmp_path / "g.safetensors", step=7)
    meta = safetensors_metadata(path)
    assert meta["arch"] == "facefill-lite-v2" and meta["step"] == "7"
    config = {k: json.loads(meta[k]) for k in ("widths", "dilations", "blocks")}
    loaded = from_checkpoint("facefill-lite-v2", load_safetensors(path), **config)
    x, m = torch.rand(2, 3, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
    with torch.no_grad():
        assert torch.allclose(loaded(x, m), model.eval()(x, m), atol=1e-6)


def _landmarks(size: int) -> np.ndarray:
    """A plausible 68-point face (the astronaut's, found by dlib) scaled into a size² frame."""
    from faces_data import astronaut_face

    face = astronaut_face()
    pts = face.landmarks - np.array(face.box[:2])
    return (pts * (0.8 * size / max(face.width, face.height)) + 0.1 * size).astype(np.float32)


def test_region_holes_lie_on_the_face_and_are_seeded():
    pytest.importorskip("dlib")
    from facefill.faces.regions import draw_region, landmark_polygons

    size = 64
    pts = _landmarks(size)
    face = draw_region((size, size), landmark_polygons(pts)["face"])
    for seed in range(6):
        a = region_hole(pts, size, np.random.default_rng(seed))
        assert np.array_equal(a, region_hole(pts, size, np.random.default_rng(seed)))
        assert 0 < a.mean() < 0.6
        assert (a * face).sum() >= 0.5 * a.sum()  # mostly on the face (dilation spills a little)


def _batches(size: int = 32, share: float = 1.0, landmarks: np.ndarray | None = None) -> RegionMaskBatches:
    import cv2

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (4, 4, 4, 3), dtype=np.uint8)  # smooth images: learnable fills
    faces = np.stack([cv2.resize(s, (size, size), interpolation=cv2.INTER_CUBIC) for s in small])
    if landmarks is None:
        landmarks = np.repeat(_landmarks(size)[None], 4, axis=0)
    return RegionMaskBatches(faces, landmarks, MaskSampler("box"), 2, region_share=share, seed=1)


def test_batches_mix_region_holes_and_fall_back_without_landmarks():
    pytest.importorskip("dlib")
    region = _batches(share=1.0)
    b = region[3]
    assert np.array_equal(b["mask"], region[3]["mask"]) and np.array_equal(b["image"], region[3]["image"])
    hole = b["image"] * (1 - b["mask"])
    assert np.allclose(b["filled"] * (1 - b["mask"]), hole, atol=1 / 255 + 1e-6)  # Telea keeps known pixels
    none = _batches(share=1.0, landmarks=np.full((4, 68, 2), np.nan, np.float32))
    box = none[3]["mask"][0, 0]
    ys, xs = np.nonzero(box)  # the "box" sampler's rectangle: no landmarks, no region hole
    assert box[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all()


def _trainer(tmp_path: Path, steps: int, run: str, lr: float | None = None) -> Trainer:
    pytest.importorskip("dlib")
    config = TrainConfig(
        steps=steps, adv_start=1, ckpt_every=1000, ckpt_minutes=1e9, sample_every=1000, log_every=1, seed=3,
        lr=lr,
    )
    return Trainer(config, _batches(share=0.5), tmp_path / run, recipe=LiteV2Recipe(**TINY))


def test_recipe_terms_include_feature_matching_and_training_lowers_the_loss(tmp_path: Path):
    assert isinstance(build_recipe("facefill-lite-v2"), LiteV2Recipe)
    trainer = _trainer(tmp_path, steps=40, run="learn", lr=3e-3)
    batch = trainer.batches[0]
    first = trainer.train_step(batch)
    assert {"l1", "ssim", "fm", "g_adv", "d"} <= set(first) and first["fm"] > 0
    for _ in range(12):
        last = trainer.train_step(batch)
    assert last["l1"] < 0.8 * first["l1"]
    assert last["d"] != 0.0  # the critic is being trained (adv_start = 1)


def _digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode() + v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def test_resume_reproduces_an_uninterrupted_run(tmp_path: Path):
    straight = _trainer(tmp_path, steps=4, run="straight")
    straight.run(progress=False, num_workers=0)
    first = _trainer(tmp_path, steps=2, run="split")
    first.run(progress=False, num_workers=0)
    resumed = _trainer(tmp_path, steps=4, run="split")
    resumed.load(tmp_path / "split" / "checkpoints" / "last.pt")
    assert resumed.step == 2
    resumed.run(progress=False, num_workers=0)
    for part in ("g", "ema", "d"):
        assert _digest(getattr(resumed, part)) == _digest(getattr(straight, part)), part


def test_default_warm_start_is_the_shipped_v1():
    from facefill.pipelines.lite import load_lite_generator

    v2 = LiteV2Recipe(init="facefill-lite").build_generator().eval()
    x, m = torch.rand(1, 3, 64, 64), (torch.rand(1, 1, 64, 64) > 0.5).float()
    with torch.no_grad():
        assert torch.equal(v2(x, m), load_lite_generator()(x, m))
