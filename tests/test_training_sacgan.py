"""SAC-GAN / SPL training: labelled batches, the class recipe, losses, learning steps, exact resume."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from facefill.models import from_checkpoint
from facefill.pipelines.sacgan_classes import (
    CLASSES,
    MouthMeasure,
    mouth_class,
    mouth_measure,
    otsu_threshold,
)
from facefill.training.dataset import MaskSampler
from facefill.training.losses import r1_penalty
from facefill.training.recipes.sacgan import SACGANRecipe
from facefill.training.recipes.sacgan_data import LabelledFaceBatches, face_oval_mask
from facefill.training.recipes.spl import SPLRecipe
from facefill.training.trainer import TrainConfig, Trainer

TINY_SAC = {
    "img_size": 32,
    "style_dim": 8,
    "max_conv_dim": 16,
    "base_dim": 8,
    "domains": ("a", "b"),
    "w_per": 0,
}
TINY_SPL = {"residual_blocks": 1, "dense_blocks": 1, "dense_layers": 1, "prior_channels": 8, "width": 8}


pytestmark = pytest.mark.usefixtures("one_thread")


def _landmarks(size: int) -> np.ndarray:
    """A plausible 68-point face (eyes, nose, an open mouth) scaled to `size`."""
    rng = np.random.default_rng(0)
    pts = rng.uniform(0.3, 0.7, (68, 2))
    pts[0:17] = np.stack([np.linspace(0.15, 0.85, 17), 0.5 + 0.35 * np.sin(np.linspace(0, np.pi, 17))], 1)
    pts[36:42], pts[42:48] = (
        [0.35, 0.4] + rng.normal(0, 0.02, (6, 2)),
        [0.65, 0.4] + rng.normal(0, 0.02, (6, 2)),
    )
    mouth = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    pts[48:60] = np.stack([0.5 + 0.12 * np.cos(mouth), 0.75 + 0.05 * np.sin(mouth)], 1)
    pts[60:68] = np.stack([0.5 + 0.08 * np.cos(mouth[::1][:8]), 0.75 + 0.03 * np.sin(mouth[:8])], 1)
    return pts * size


def _batches(size: int = 32, seed: int = 1) -> LabelledFaceBatches:
    labels = np.array([0, 0, 0, 1, 1, 1])
    faces = np.stack(
        [np.full((size, size, 3), 40 + 150 * c, np.uint8) for c in labels]
    )  # class in the pixels
    faces[:, : size // 2] += np.arange(6, dtype=np.uint8)[:, None, None, None]  # and which face it is
    marks = [_landmarks(size) if i % 2 == 0 else None for i in range(6)]
    return LabelledFaceBatches(faces, labels, marks, MaskSampler("freeform"), batch_size=4, seed=seed)


def test_labelled_batches_are_deterministic_balanced_and_exemplars_match_their_class():
    batches = _batches()
    a, b = batches[3], batches[3]
    for key in ("image", "mask", "label", "exemplar", "label_ref"):
        np.testing.assert_array_equal(a[key], b[key])
    labels, refs = [], []
    for step in range(60):
        batch = batches[step]
        assert batch["mask"].shape == (4, 1, 32, 32) and batch["mask"].sum() > 0
        # the class is in the pixel values (40 / 190): each image and exemplar belongs to its label
        np.testing.assert_array_equal((batch["image"][:, 0, -1, 0] > 0.5).astype(int), batch["label"])
        np.testing.assert_array_equal((batch["exemplar"][:, 0, -1, 0] > 0.5).astype(int), batch["label_ref"])
        labels += list(batch["label"])
        refs += list(batch["label_ref"])
    assert 0.35 < np.mean(labels) < 0.65 and 0.35 < np.mean(refs) < 0.65  # class-balanced


def test_face_oval_preset_matches_sacgan_face_mask_geometry():
    mask = face_oval_mask(128)
    ys, xs = np.nonzero(mask)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (24, 107, 25, 122)  # spec §2.6 bbox
    assert 0.36 < mask.mean() < 0.43  # the released face_mask.png covers 42.6 %


def test_mouth_class_recipe_on_known_geometry():
    pts = _landmarks(100)
    iod = np.linalg.norm(pts[42:48].mean(0) - pts[36:42].mean(0))
    gap = np.mean([np.linalg.norm(pts[a] - pts[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
    measure = mouth_measure(pts)
    assert measure.gap == pytest.approx(gap / iod)
    assert measure.width == pytest.approx(np.linalg.norm(pts[54] - pts[48]) / iod)
    assert (
        mouth_class(MouthMeasure(0.01, 1.0)) == CLASSES[0]
        and mouth_class(MouthMeasure(0.3, 1.0)) == CLASSES[1]
    )
    assert mouth_class(MouthMeasure(0.08, 1.0)) is None and mouth_class(MouthMeasure(0.1, 1), strict=False)
    values = np.concatenate([np.random.default_rng(0).normal(0.02, 0.01, 200), np.full(100, 0.2)])
    threshold = otsu_threshold(values)  # splits the two groups (a few tail values aside)
    assert (values[:200] < threshold).mean() > 0.95 and (values[200:] >= threshold).all()


def test_r1_penalty_of_a_linear_critic():
    w = torch.randn(3, 4, 4, dtype=torch.float64)
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    logits = (x * w).sum(dim=(1, 2, 3))
    assert float(r1_penalty(logits, x)) == pytest.approx(0.5 * float(w.pow(2).sum()))


def _trainer(tmp_path: Path, recipe, batches, steps: int, run: str = "run") -> Trainer:
    config = TrainConfig(
        steps=steps, adv_start=0, ckpt_every=1000, ckpt_minutes=1e9, sample_every=1000, log_every=1, seed=3
    )
    return Trainer(config, batches, tmp_path / run, recipe=recipe)


def test_sacgan_recipe_learns_on_a_repeated_batch(tmp_path: Path):
    trainer = _trainer(tmp_path, SACGANRecipe(**TINY_SAC), _batches(), steps=20)
    trainer.lr = 3e-3
    for group in trainer.opt_g.param_groups:
        group["lr"] = 3e-3
    batch = trainer.batches[0]
    first = trainer.train_step(batch)
    for _ in range(7):
        last = trainer.train_step(batch)
    assert set(first) >= {"pixel", "sty", "g_adv", "d"} and first["d"] > 0
    assert last["pixel"] < 0.8 * first["pixel"]


def _hash(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode() + v.detach().numpy().tobytes())
    return h.hexdigest()


def test_sacgan_resume_reproduces_an_uninterrupted_run_and_exports_its_classes(tmp_path: Path):
    straight = _trainer(tmp_path, SACGANRecipe(**TINY_SAC), _batches(), 3, "straight")
    straight.run(progress=False, num_workers=0)
    _trainer(tmp_path, SACGANRecipe(**TINY_SAC), _batches(), 1, "split").run(progress=False, num_workers=0)
    resumed = _trainer(tmp_path, SACGANRecipe(**TINY_SAC), _batches(), 3, "split")
    resumed.load(tmp_path / "split" / "checkpoints" / "last.pt")
    resumed.run(progress=False, num_workers=0)
    for part in ("g", "ema", "d"):
        assert _hash(getattr(resumed, part)) == _hash(getattr(straight, part)), part
    from safetensors.torch import load_file

    from facefill.weights.safe_load import safetensors_metadata

    export = tmp_path / "split" / "ema_generator.safetensors"
    meta = safetensors_metadata(export)
    assert meta["arch"] == "sacgan-generator" and '"a", "b"' in meta["domains"]
    config = {k: v for k, v in TINY_SAC.items() if k != "w_per"}
    model = from_checkpoint("sacgan-generator", load_file(str(export)), **config)
    assert model.domains == ("a", "b")


def test_spl_recipe_step_uses_the_raw_prediction_and_exports(tmp_path: Path):
    from facefill.training.dataset import InpaintBatches

    faces = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    batches = InpaintBatches(faces, MaskSampler("freeform"), batch_size=2, seed=1)
    trainer = _trainer(tmp_path, SPLRecipe(**TINY_SPL), batches, steps=2)
    terms = trainer.train_step(trainer.batches[0])
    assert set(terms) >= {"l1", "g_adv", "d"} and "prior" not in terms  # no teacher: no distillation
    assert 0 < terms["d"] < 10
    trainer.save()
    assert (tmp_path / "run" / "ema_generator.safetensors").is_file()


def test_train_option_values_reach_the_recipe_and_unknown_ones_are_refused():
    from facefill.cli.train import _recipe_options
    from facefill.errors import UsageError
    from facefill.training.recipe import build_recipe

    options = _recipe_options(("img_size=64", "style_dim=32", "note=plain text"))
    assert options == {"img_size": 64, "style_dim": 32, "note": "plain text"}
    options.pop("note")
    recipe = build_recipe("sacgan", **options)
    assert (recipe.config["img_size"], recipe.config["style_dim"]) == (64, 32)
    with pytest.raises(UsageError, match="no such option.*img_size"):
        build_recipe("sacgan", bogus=1)


def test_init_continues_an_export_with_its_architecture_and_counts_its_steps(tmp_path: Path):
    from facefill.errors import UsageError, WeightsError
    from facefill.training.export import export_generator
    from facefill.weights.safe_load import safetensors_metadata

    source = SACGANRecipe(**TINY_SAC)
    trained = source.build_generator()
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(torch.randn_like(p))  # not what a fresh build would give
    earlier = source.export(trained, tmp_path / "earlier.safetensors", step=7)
    recipe = SACGANRecipe(init=str(earlier), w_per=0)  # no architecture options: they come from the file
    assert recipe.config == {**source.config, "domains": ["a", "b"]} and recipe.init_step == 7
    trainer = _trainer(tmp_path, recipe, _batches(), steps=2)
    assert _hash(trainer.g) == _hash(trained) == _hash(trainer.ema)  # generator and EMA start there
    trainer.run(progress=False, num_workers=0)
    assert safetensors_metadata(tmp_path / "run" / "ema_generator.safetensors")["step"] == "9"
    with pytest.raises(UsageError, match="its style_dim is 8, not 16; leave style_dim out"):
        SACGANRecipe(init=str(earlier), style_dim=16)
    other = export_generator(trained, tmp_path / "lite.safetensors", arch="facefill-lite", config={})
    with pytest.raises(WeightsError, match="not 'sacgan-generator'"):
        SACGANRecipe(init=str(other))


def test_the_shipped_sacgan_is_a_valid_init(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = SACGANRecipe(init="sacgan", w_per=0)
    assert recipe.config["domains"] == list(CLASSES) and recipe.init_step > 0
    generator = recipe.build_generator()
    assert generator.domains == CLASSES and generator.img_size == recipe.config["img_size"]


def test_hole_mix_options_pick_the_regions_and_refuse_unknown_ones():
    from facefill.errors import UsageError
    from facefill.faces.regions import draw_region, landmark_polygons

    faces = np.full((4, 64, 64, 3), 128, np.uint8)
    recipe = SACGANRecipe(**TINY_SAC, region_share=1, regions=("mouth",))
    batches = LabelledFaceBatches(
        faces, np.array([0, 0, 1, 1]), [_landmarks(64)] * 4, MaskSampler("freeform"), batch_size=4,
        flip=False, preset_share=0, **recipe.holes,
    )  # fmt: skip
    mouth = draw_region((64, 64), landmark_polygons(_landmarks(64))["mouth"]) > 0
    for step in range(5):
        for hole in batches[step]["mask"][:, 0] > 0.5:
            assert hole[mouth].all() and hole.mean() < 4 * mouth.mean()  # the dilated mouth, nothing else
    with pytest.raises(UsageError, match="regions are eyes"):
        SACGANRecipe(**TINY_SAC, regions=("mouth", "chin"))


def test_fresh_networks_get_the_originals_he_init_and_an_init_keeps_its_weights(tmp_path: Path):
    torch.manual_seed(0)
    recipe = SACGANRecipe(**{**TINY_SAC, "max_conv_dim": 64, "base_dim": 32})
    for net in (recipe.build_generator(), recipe.build_discriminator()):
        for layer in net.modules():
            if isinstance(layer, torch.nn.Conv2d) and layer.weight.numel() > 4000:
                fan_in = layer.weight[0].numel()
                assert layer.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.15)
                assert layer.bias is None or not layer.bias.any()
    from safetensors.torch import load_file

    export = recipe.export(recipe.build_generator(), tmp_path / "g.safetensors", step=1)
    saved = from_checkpoint("sacgan-generator", load_file(str(export)), **recipe.config)
    warm = SACGANRecipe(init=str(export), w_per=0).build_generator()
    assert _hash(warm) == _hash(saved)  # loaded, not re-initialised


def test_local_critic_learns_which_class_a_real_face_shows_and_off_keeps_the_original_critic():
    from facefill.errors import UsageError
    from facefill.models.sacgan_discriminator import SACGANDiscriminator
    from facefill.training.recipes.sacgan_critics import SACGANCritics

    assert isinstance(SACGANRecipe(**TINY_SAC).build_discriminator(), SACGANDiscriminator)  # off: as released
    with pytest.raises(UsageError, match="keep --w-adv above 0"):  # on, but it would never learn
        SACGANRecipe(**TINY_SAC, w_local=1, w_adv=0).build_discriminator()
    torch.manual_seed(0)
    recipe = SACGANRecipe(**TINY_SAC, w_fm=1, w_local=1)
    generator, critics = recipe.build_generator(), recipe.build_discriminator()
    assert isinstance(critics, SACGANCritics)
    opt = torch.optim.Adam(critics.parameters(), lr=3e-3, betas=(0.0, 0.99))
    batches = _batches()
    for step in range(60):
        batch = {k: torch.from_numpy(np.asarray(v)) for k, v in batches[step].items() if k != "step"}
        pred, terms = recipe.generator_step(generator, batch)
        assert terms["fm"] > 0  # the reconstruction is matched on the local critic's activations
        critics.requires_grad_(True)  # as the trainer does for its critic step (the FM term froze it)
        loss = recipe.critic_loss(critics, pred, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    batch = {k: torch.from_numpy(np.asarray(v)) for k, v in batches[1000].items() if k != "step"}
    real, own = batch["image"] * 2 - 1, batch["label"]
    with torch.no_grad():
        _, right = critics(real, own, batch["mask"])
        _, wrong = critics(real, 1 - own, batch["mask"])
    assert (right.mean(dim=(1, 2, 3)) > wrong.mean(dim=(1, 2, 3))).all()  # the class in the hole is read
