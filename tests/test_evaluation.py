"""`facefill eval`: metrics against independent references, pairs, and the written report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from facefill.cli import main
from facefill.errors import FacefillError
from facefill.evaluation import pairs as pairs_mod
from facefill.evaluation.metrics import l1, psnr, ssim
from facefill.evaluation.report import LABEL_H, TILE

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("shape", [(32, 32, 3), (41, 57, 3), (64, 48)])
@pytest.mark.parametrize("noise", [3.0, 25.0])
def test_psnr_ssim_agree_with_scikit_image(shape, noise):
    rng = np.random.default_rng(len(shape) * 100 + int(noise))
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)
    channel = -1 if len(shape) == 3 else None
    ref_ssim = structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=channel,
    )
    assert ssim(a, b) == pytest.approx(ref_ssim, abs=1e-4)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4)


def test_metrics_of_identical_images():
    a = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    assert psnr(a, a) == float("inf")
    assert ssim(a, a) == pytest.approx(1.0)
    assert l1(a, a) == 0.0
    assert l1(np.zeros_like(a), np.full_like(a, 255)) == pytest.approx(1.0)


def test_lpips_is_zero_on_identical_and_symmetric():
    import torch

    from facefill.evaluation.scorers import TensorPairScorer
    from facefill.models.lpips import LPIPS

    torch.manual_seed(0)
    model = LPIPS().eval()
    with torch.no_grad():  # random trunk; lin weights must be non-negative as in LPIPS
        for lin in model.lins:
            lin.model[1].weight.abs_()
    scorer = TensorPairScorer("lpips", lambda a, b: model(a, b, normalize=True))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    y = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert scorer(x, x, "k") == pytest.approx(0.0, abs=1e-7)
    assert scorer(x, y, "k") > 0
    assert scorer(x, y, "k") == pytest.approx(scorer(y, x, "k"), rel=1e-5)


def test_identity_distance_same_person_zero_different_person_above_threshold():
    from facefill.faces.embedding import SAME_PERSON_THRESHOLD, face_embedding, identity_distance

    astronaut = np.asarray(Image.open(DATA / "astronaut.jpg").convert("RGB"))
    hopper = np.asarray(Image.open(DATA / "grace_hopper.jpg").convert("RGB"))
    ea, eh = face_embedding(astronaut), face_embedding(hopper)
    assert ea is not None and eh is not None and ea.shape == (128,)
    assert identity_distance(ea, face_embedding(astronaut.copy())) == pytest.approx(0.0, abs=1e-9)
    assert identity_distance(ea, eh) > SAME_PERSON_THRESHOLD


def test_bin_labels_follow_nvidia_bins():
    assert pairs_mod.bin_label(0.05) == "1-10%"
    assert pairs_mod.bin_label(0.10) == "1-10%"
    assert pairs_mod.bin_label(0.1001) == "10-20%"
    assert pairs_mod.bin_label(0.55) == "50-60%"
    assert pairs_mod.bin_label(0.61) == ">60%"


def _dataset(root: Path, n_images: int = 5, n_masks: int = 12) -> tuple[Path, Path]:
    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    yy, xx = np.mgrid[0:48, 0:48]
    for i in range(n_images):
        base = np.stack([xx * 5, yy * 5, (xx + yy) * 2 + i * 20], -1)
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(images / f"img{i}.png")
    for j in range(n_masks):  # 96×96 masks (halved to 48×48 by eval) with growing holes on even pixels
        mask = np.zeros((96, 96), np.uint8)
        side = 8 + j * 4
        mask[10 : 10 + side, 12 : 12 + side] = 255
        Image.fromarray(mask).save(masks / f"m{j:02d}.png")
    return images, masks


def test_make_pairs_is_seeded_and_ratio_is_measured_at_image_size(tmp_path):
    images, masks = _dataset(tmp_path)
    first = pairs_mod.make_pairs(images, masks, 8, seed=5)
    assert first == pairs_mod.make_pairs(images, masks, 8, seed=5)
    assert first != pairs_mod.make_pairs(images, masks, 8, seed=6)
    for pair in first:
        mask = np.asarray(Image.open(masks / pair.mask).resize((48, 48), Image.Resampling.NEAREST)) > 127
        assert pair.hole_ratio == pytest.approx(mask.mean(), abs=1e-6)
        assert pair.bin == pairs_mod.bin_label(pair.hole_ratio)
    pairs_mod.save_pairs(first, tmp_path / "p.json", seed=5)
    assert pairs_mod.load_pairs(tmp_path / "p.json") == first


def test_per_bin_pairs_fill_each_bin_evenly(tmp_path):
    images, masks = _dataset(tmp_path, n_masks=20)
    got = pairs_mod.make_pairs(images, masks, 6, seed=0, per_bin=True)
    labels = [p.bin for p in got]
    # The synthetic masks span 0.7 % .. ~95 % holes, so every NVIDIA bin gets one pair.
    assert sorted(labels) == sorted(pairs_mod.bin_order()[:-1])


def test_eval_cli_writes_csv_plots_sheet_and_html(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    images, masks = _dataset(tmp_path)
    out = tmp_path / "report"
    args = [
        "eval",
        "--images",
        str(images),
        "--masks",
        str(masks),
        "--make-pairs",
        "4",
        "--seed",
        "1",
        "--model",
        "telea",
        "--model",
        "ns",
        "-o",
        str(out),
        "--html",
        "--no-identity",
        "--sheet-pairs",
        "3",
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 8 and {r["model"] for r in rows} == {"telea", "ns"}
    pairs = json.loads((out / "pairs.json").read_text())["pairs"]
    for row in rows:  # each row's PSNR is the PSNR of that pair (recomputed from the pair's files)
        assert float(row["hole_ratio"]) == pytest.approx(pairs[int(row["pair"])]["hole_ratio"], abs=1e-6)
    for metric in ("psnr", "ssim", "l1"):
        with Image.open(out / f"plot_{metric}.png") as plot:
            assert plot.size == (640, 400)
    with Image.open(out / "contact_sheet.png") as sheet:
        columns = 2 + 2 + 1  # input, mask, two models, ground truth
        assert sheet.size == (TILE * columns, (TILE + LABEL_H) * 3)
    page = (out / "index.html").read_text()
    for name in ("results.csv", "plot_psnr.png", "contact_sheet.png"):
        assert name in page and (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert any("LPIPS skipped" in note for note in summary["notes"])  # no weights here: skipped, not faked
    assert "lpips" not in rows[0]


def test_eval_requires_exactly_one_pair_source(tmp_path):
    images, masks = _dataset(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "eval",
                "--images",
                str(images),
                "--masks",
                str(masks),
                "--model",
                "telea",
                "-o",
                str(tmp_path / "r"),
            ]
        )
    assert exit_info.value.code == 2


def test_eval_uses_lpips_arcface_and_fid_when_their_weights_are_present(tmp_path, monkeypatch):
    """The deep-metric path end to end, with stand-in checkpoints given as local overrides."""
    import torch

    from facefill.evaluation.runner import EvalOptions, evaluate
    from facefill.models import build
    from facefill.runtime.context import RunContext

    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    # VGG16 trunk weights in torchvision's `features.N` layout, without building the 100 M-parameter head.
    trunk = {k: v for k, v in build("lpips-vgg").state_dict().items() if k.startswith("net.slice")}
    vgg = {"features." + k.split(".", 2)[2]: v for k, v in trunk.items()}
    lin = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate((64, 128, 256, 512, 512))}
    files = {
        "vgg16-imagenet": vgg,
        "lpips-vgg-lin": lin,
        "fid-inception": build("fid-inception").state_dict(),
        "arcface-ir-se50": build("irse50").state_dict(),
    }
    overrides = {}
    for name, state in files.items():
        torch.save(state, tmp_path / f"{name}.pth")
        overrides[name] = str(tmp_path / f"{name}.pth")
    context = RunContext(device="cpu", weights=overrides)
    images, masks = _dataset(tmp_path)
    pairs = pairs_mod.make_pairs(images, masks, 3, seed=0)
    opts = EvalOptions(models=["telea"], identity=True, image_size=32)
    result = evaluate(pairs, images, masks, opts, context=context)
    assert not [n for n in result.notes if "LPIPS" in n or "ArcFace" in n or "FID" in n], result.notes
    assert len(result.rows) == 3
    for row in result.rows:
        assert row["lpips"] >= 0 and -1 <= row["id_cos_arcface"] <= 1
    assert result.fid["telea"] is not None and result.fid["telea"] >= -1e-6


@pytest.mark.parametrize(("n1", "n2", "dim"), [(20, 30, 64), (12, 12, 5), (40, 9, 32)])
def test_fid_from_features_equals_the_covariance_route(n1, n2, dim):
    from scipy import linalg

    from facefill.evaluation.metrics import feature_statistics, frechet_distance, frechet_distance_of_features

    rng = np.random.default_rng(n1 + n2 + dim)
    f1 = rng.normal(size=(n1, dim))
    f2 = rng.normal(loc=0.3, scale=1.5, size=(n2, dim))
    (mu1, s1), (mu2, s2) = feature_statistics(f1), feature_statistics(f2)
    # pytorch-fid's route: scipy's general matrix square root of the product.
    expected = (
        (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2)).real
    )
    assert frechet_distance_of_features(f1, f2) == pytest.approx(expected, rel=1e-7)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-7)
    assert frechet_distance_of_features(f1, f1) == pytest.approx(0.0, abs=1e-8)


def test_align_option_scores_the_aligned_face_crop(tmp_path):
    from facefill.evaluation.runner import EvalOptions, load_pair

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    photo = np.asarray(Image.open(DATA / "astronaut.jpg").convert("RGB"))
    Image.fromarray(photo).save(images / "astronaut.png")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(images / "blank.png")
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    Image.fromarray(mask).save(masks / "m.png")
    opts = EvalOptions(models=["telea"], align=True, image_size=128)
    crop, crop_mask = load_pair(pairs_mod.Pair("astronaut.png", "m.png", 0.25, "20-30%"), images, masks, opts)
    assert crop.shape == (128, 128, 3) and crop_mask.shape == (128, 128)
    assert crop_mask.mean() == pytest.approx(0.25)
    # The aligned crop is the face, not a squashed copy of the whole photo.
    squashed = np.asarray(Image.fromarray(photo).resize((128, 128), Image.Resampling.BILINEAR))
    assert np.abs(crop.astype(float) - squashed).mean() > 20
    with pytest.raises(FacefillError):
        load_pair(pairs_mod.Pair("blank.png", "m.png", 0.25, "20-30%"), images, masks, opts)
