"""`facefill train` building blocks: data sources, masks, losses, a learning step, exact resume, DDP."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from facefill.training.dataset import (
    LFW_CROP_BOX,
    InpaintBatches,
    MaskSampler,
    build_face_cache,
    freeform_mask,
    is_benchmark_mask,
    lfw_face_crop,
    list_images,
    load_mask_bank,
)
from facefill.training.losses import d_hinge, feature_matching, g_hinge, hole_l1, perceptual, ssim
from facefill.training.recipes.lite import LiteRecipe
from facefill.training.trainer import TrainConfig, Trainer

TINY = {"widths": (8, 16, 16), "dilations": (1, 2)}


pytestmark = pytest.mark.usefixtures("one_thread")


def _write_faces(folder: Path, n: int, size: int = 40, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        small = rng.integers(0, 256, (5, 5, 3), dtype=np.uint8)
        img = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
        paths.append(folder / f"face_{i:02d}.png")
        cv2.imwrite(str(paths[-1]), img)
    return paths


def _tiny_trainer(
    tmp_path: Path, steps: int, run: str = "run", w_adv: float = 0.01, val=None, **cfg
) -> Trainer:
    faces = np.stack(
        [
            cv2.resize(np.random.default_rng(i).integers(0, 256, (4, 4, 3), dtype=np.uint8), (32, 32))
            for i in range(6)
        ]
    )
    batches = InpaintBatches(faces, MaskSampler("freeform"), batch_size=2, seed=1)
    settings = {
        "adv_start": 0,
        "ckpt_every": 1000,
        "ckpt_minutes": 1e9,
        "sample_every": 1000,
        "log_every": 1,
        "seed": 4,
        **cfg,
    }
    config = TrainConfig(steps=steps, **settings)
    recipe = LiteRecipe(**TINY, w_adv=w_adv)
    return Trainer(config, batches, tmp_path / run, recipe=recipe, val_batches=val)


# --------------------------------------------------------------------------------------- data
def test_list_images_folder_flist_and_l2m_layouts(tmp_path: Path) -> None:
    flat = _write_faces(tmp_path / "flat", 3)
    assert list_images(tmp_path / "flat") == flat
    flist = tmp_path / "lists" / "train.flist"
    flist.parent.mkdir()
    flist.write_text("\n".join(os.path.relpath(p, flist.parent) for p in flat[:2]) + "\n")
    assert list_images(flist) == flat[:2]
    # L2M-GAN: ROOT/train/<class>/* and ROOT/<class>/train|test/*
    a = _write_faces(tmp_path / "l2m" / "train" / "female", 2)
    b = _write_faces(tmp_path / "l2m" / "train" / "male", 1, seed=1)
    assert list_images(tmp_path / "l2m", "train") == a + b
    c = _write_faces(tmp_path / "l2m2" / "female" / "test", 2)
    _write_faces(tmp_path / "l2m2" / "female" / "train", 1)
    assert list_images(tmp_path / "l2m2", "test") == c


def test_list_images_errors_are_usage_errors(tmp_path: Path) -> None:
    from facefill.errors import UsageError

    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no images"):
        list_images(tmp_path / "empty")
    bad = tmp_path / "x.flist"
    bad.write_text("missing.png\n")
    with pytest.raises(UsageError, match="do not exist"):
        list_images(bad)


def test_lfw_face_crop_is_the_central_box_resized() -> None:
    img = np.zeros((250, 250, 3), np.uint8)
    left, top, right, bottom = LFW_CROP_BOX
    img[top:bottom, left:right] = 200  # the box is uniform, everything else black
    out = lfw_face_crop(img)
    assert out.shape == (256, 256, 3)
    assert np.all(out == 200)


def test_face_cache_roundtrip(tmp_path: Path) -> None:
    paths = _write_faces(tmp_path / "f", 3, size=40)
    cache = build_face_cache(paths, tmp_path / "cache", size=32)
    assert cache.shape == (3, 32, 32, 3)
    expect = cv2.resize(
        cv2.cvtColor(cv2.imread(str(paths[1])), cv2.COLOR_BGR2RGB), (32, 32), interpolation=cv2.INTER_AREA
    )
    np.testing.assert_array_equal(cache[1], expect)
    again = build_face_cache(paths, tmp_path / "cache", size=32)  # second call reads the cache
    np.testing.assert_array_equal(again, cache)


def test_mask_bank_skips_benchmark_masks(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for idx in (0, 2, 4, 20, 22):  # 0 and 20 are reserved for benchmarks
        m = np.zeros((16, 16), np.uint8)
        m[: idx // 2 + 1] = 255
        cv2.imwrite(str(folder / f"{idx:05d}.png"), m)
    assert [i for i in (0, 2, 4, 20, 22) if is_benchmark_mask(i)] == [0, 20]
    bank = load_mask_bank(folder, 8)
    assert bank.shape == (3, 8, 8)
    rows = sorted(int(b[:, 0].sum()) for b in bank)  # hole rows after 16->8 nearest resize
    assert rows == [1, 2, 6]  # files 2, 4, 22 (2, 3, 12 rows at 16 px)


def test_freeform_masks_are_seeded_and_nonempty() -> None:
    a = freeform_mask(np.random.default_rng(5), 64)
    b = freeform_mask(np.random.default_rng(5), 64)
    c = freeform_mask(np.random.default_rng(6), 64)
    np.testing.assert_array_equal(a, b)
    assert a.any() and not np.array_equal(a, c)
    assert set(np.unique(a)) <= {0, 1}


def test_batches_are_deterministic_and_telea_filled() -> None:
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 3), dtype=np.uint8)
    batches = InpaintBatches(faces, MaskSampler("box"), batch_size=3, crop=32, seed=9)
    one, two, other = batches[5], batches[5], batches[6]
    for k in ("image", "mask", "filled"):
        np.testing.assert_array_equal(one[k], two[k])
    assert not np.array_equal(one["image"], other["image"])
    assert one["image"].shape == (3, 3, 32, 32) and one["mask"].shape == (3, 1, 32, 32)
    img = (one["image"][0].transpose(1, 2, 0) * 255).round().astype(np.uint8)
    mask = one["mask"][0, 0].astype(np.uint8)
    telea = cv2.inpaint(img, mask, 3, cv2.INPAINT_TELEA)
    np.testing.assert_array_equal((one["filled"][0].transpose(1, 2, 0) * 255).round().astype(np.uint8), telea)


# ------------------------------------------------------------------------------------- losses
def test_ssim_matches_skimage() -> None:
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    x = rng.random((24, 24, 3))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    ref = structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1, data_range=1.0
    )
    to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None]  # noqa: E731
    assert float(ssim(to_t(x), to_t(y))) == pytest.approx(ref, abs=1e-6)


def test_hole_l1_and_hinge_values() -> None:
    out, tgt = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    tgt[..., 0, 0] = 0.25
    assert float(hole_l1(out, tgt, mask)) == pytest.approx(0.25)
    assert float(d_hinge(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0]))) == pytest.approx(0.25 + 0.5)
    assert float(g_hinge(torch.tensor([1.0, 3.0]))) == -2.0


# ----------------------------------------------------------------------------------- training
def test_training_steps_reduce_loss_on_a_repeated_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = _tiny_trainer(tmp_path, steps=30, lr=3e-3, w_adv=0.0)
    batch = trainer.batches[0]
    first = trainer.train_step(batch)["loss"]
    for _ in range(25):
        last = trainer.train_step(batch)["loss"]
    assert last < 0.8 * first
    ema_head = trainer.ema.head.weight
    assert ema_head.abs().sum() > 0  # the EMA followed the generator away from zero-init


def _weights_hash(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode() + v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def test_resume_reproduces_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = _tiny_trainer(tmp_path, steps=6, run="straight")
    straight.run(progress=False, num_workers=0)
    first = _tiny_trainer(tmp_path, steps=3, run="split")
    first.run(progress=False, num_workers=0)  # saves checkpoints/last.pt at step 3 (the end)
    resumed = _tiny_trainer(tmp_path, steps=6, run="split")
    resumed.load(tmp_path / "split" / "checkpoints" / "last.pt")
    assert resumed.step == 3
    resumed.run(progress=False, num_workers=0)
    assert resumed.step == 6
    for part in ("g", "ema", "d"):
        assert _weights_hash(getattr(resumed, part)) == _weights_hash(getattr(straight, part)), part
    log = (tmp_path / "split" / "loss_log.csv").read_text().splitlines()
    assert log[0].startswith("step,") and [r.split(",")[0] for r in log[1:]] == [str(i) for i in range(1, 7)]
    assert (tmp_path / "split" / "ema_generator.safetensors").is_file()


class _SignalAt:
    """Batches that send this process SIGTERM when batch `at` is fetched (a `timeout` mid-run)."""

    def __init__(self, batches, at: int) -> None:
        self.batches, self.at = batches, at

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, step: int):
        if step == self.at:
            os.kill(os.getpid(), signal.SIGTERM)
        return self.batches[step]


def test_sigterm_checkpoints_after_the_step_and_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    straight = _tiny_trainer(tmp_path, steps=6, run="straight")
    straight.run(progress=False, num_workers=0)
    cut = _tiny_trainer(tmp_path, steps=6, run="cut")
    cut.batches = _SignalAt(cut.batches, at=2)
    cut.run(progress=False, num_workers=0)  # the signal arrives while batch 2 is fetched
    assert cut.stopped == "SIGTERM" and cut.step == 3  # step 2 finished, then it stopped
    assert torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)["step"] == 3
    assert signal.getsignal(signal.SIGTERM) is before  # the handler was put back
    resumed = _tiny_trainer(tmp_path, steps=6, run="cut")
    resumed.load(tmp_path / "cut" / "checkpoints" / "last.pt")
    resumed.run(progress=False, num_workers=0)
    assert resumed.stopped is None and resumed.step == 6
    for part in ("g", "ema", "d"):
        assert _weights_hash(getattr(resumed, part)) == _weights_hash(getattr(straight, part)), part


class _GroupSignalAt(_SignalAt):
    """`timeout` / Ctrl-C: SIGTERM to the whole process group, sent from a data-loader worker."""

    def __getitem__(self, step: int):
        if step == self.at:
            os.killpg(os.getpgid(0), signal.SIGTERM)
        return self.batches[step]


def test_a_signal_to_the_process_group_spares_the_loader_workers_and_checkpoints(tmp_path: Path) -> None:
    """With --workers, `timeout` signals the workers too: they must not die before the checkpoint."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_training import _GroupSignalAt, _tiny_trainer
        trainer = _tiny_trainer(Path({str(tmp_path)!r}), steps=50)
        trainer.batches = _GroupSignalAt(trainer.batches, at=4)
        trainer.run(progress=False, num_workers=1)
        print("stopped", trainer.stopped, trainer.step)
    """)
    done = subprocess.run(  # its own session: the signal reaches nothing of this test run
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, start_new_session=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    stopped, step = done.stdout.splitlines()[-1].split()[1:3]
    assert stopped == "SIGTERM" and 1 <= int(step) < 50  # stopped early, after a whole step
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert saved == int(step)


def test_sample_grid_layout(tmp_path: Path) -> None:
    trainer = _tiny_trainer(tmp_path, steps=1)
    path = trainer.write_samples(trainer.batches[0], n=2)
    grid = cv2.imread(str(path))
    assert grid.shape == (2 * 32, 4 * 32, 3)  # rows: samples; columns: input | mask | output | target
    target = (trainer.batches[0]["image"][1].transpose(1, 2, 0) * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(cv2.cvtColor(grid[32:, 96:], cv2.COLOR_BGR2RGB), target)


DDP_SCRIPT = textwrap.dedent(
    """
    import hashlib, os, sys
    from pathlib import Path
    import torch
    from facefill.training.launch import TrainRun, build_trainer, close_distributed, init_distributed
    from facefill.training.recipe import DataSpec
    from facefill.training.trainer import TrainConfig

    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    torch.set_num_threads(1)
    rank, world, device = init_distributed("cpu")
    run = TrainRun(
        data=DataSpec(data=data, size=32, batch_size=2, seed=0, cache_dir=out / "cache"),
        config=TrainConfig(steps=3, lr=1e-3, lr_d=1e-3, ema=0.9, adv_start=0, seed=0, ckpt_every=1000,
                           ckpt_minutes=1e9, sample_every=1000, log_every=1),
        out=out / "run",
        recipe_options={"widths": (8, 16), "dilations": (1,)},
        loss_weights={"adv": 0.01},
        workers=0,
    )
    trainer = build_trainer(run, rank, device)
    trainer.run(progress=False, num_workers=0)
    h = hashlib.sha256()
    g = trainer.g.module
    for k, v in sorted(g.state_dict().items()):
        h.update(k.encode() + v.numpy().tobytes())
    first = trainer.batches[0]["image"].tobytes()
    line = " ".join([h.hexdigest(), hashlib.sha256(first).hexdigest(), str(world)])
    (out / f"rank{rank}.txt").write_text(line)
    close_distributed()
    """
)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_stay_in_sync(tmp_path: Path) -> None:
    _write_faces(tmp_path / "faces", 4, size=32)
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(tmp_path / "faces"),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[:3000] + "\n...\n" + proc.stderr[-1500:]
    r0, r1 = ((tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1))
    assert r0[2] == r1[2] == "2"
    assert r0[1] != r1[1]  # each rank trained on its own batches ...
    assert r0[0] == r1[0]  # ... yet DDP kept the generators identical
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()  # rank 0 wrote the checkpoint


def test_cli_train_runs_resumes_and_guards_the_run_folder(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from facefill.cli import group

    _write_faces(tmp_path / "faces", 3, size=32)
    base = [
        "train",
        "--data",
        str(tmp_path / "faces"),
        "--masks",
        "box",
        "--size",
        "32",
        "--batch-size",
        "2",
        "--out",
        str(tmp_path / "run"),
        "--workers",
        "0",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--threads",
        "1",
        "--log-every",
        "1",
    ]
    runner = CliRunner()
    first = runner.invoke(group, ["-q", *base, "--steps", "2"], obj={})
    assert first.exit_code == 0, first.output
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 2
    again = runner.invoke(group, ["-q", *base, "--steps", "3"], obj={})
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = runner.invoke(group, ["-q", *base, "--steps", "3", "--resume"], obj={})
    assert resumed.exit_code == 0, resumed.output
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["step"] == 3
    rows = (tmp_path / "run" / "loss_log.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["1", "2", "3"]  # the resumed run appended to the same log


def test_validation_at_step_zero_is_the_first_training_loss_on_that_batch(tmp_path: Path) -> None:
    # two independent paths: the validation pass (EMA, no grad) and the optimiser's first step (the
    # trained generator, which the EMA equals before any update) on the same batch must agree
    probe = _tiny_trainer(tmp_path, steps=1, run="probe", w_adv=0.0)
    trainer = _tiny_trainer(tmp_path, steps=2, w_adv=0.0, val=[probe.batches[0]], val_batches=1)
    trainer.run(progress=False, num_workers=0)
    val = list(csv.DictReader((tmp_path / "run" / "val_log.csv").open()))
    train = list(csv.DictReader((tmp_path / "run" / "loss_log.csv").open()))
    assert [row["step"] for row in val] == ["0", "2"]  # step 0 and the final checkpoint
    assert float(val[0]["val_loss"]) == pytest.approx(float(train[0]["loss"]), rel=1e-4)
    terms = [k for k in train[0] if k not in ("step", "elapsed_s", "loss", "g_adv", "d")]
    assert terms
    for k in terms:
        assert float(val[0][f"val_{k}"]) == pytest.approx(float(train[0][k]), rel=1e-4)


def test_cli_val_data_logs_held_out_loss_and_checks_the_folder(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from facefill.cli import group

    _write_faces(tmp_path / "faces", 3, size=32)
    _write_faces(tmp_path / "held_out", 2, size=32, seed=9)
    base = ["train", "--data", str(tmp_path / "faces"), "--masks", "box", "--size", "32", "--batch-size", "2"]
    base += ["--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--threads", "1", "--steps", "2"]
    runner = CliRunner()
    missing = runner.invoke(group, ["-q", *base, "--out", str(tmp_path / "a"), "--val-data", "nope/"], obj={})
    assert missing.exit_code == 2 and "nope/" in missing.output
    alone = runner.invoke(group, ["-q", *base, "--out", str(tmp_path / "c"), "--val-batches", "2"], obj={})
    assert alone.exit_code == 2 and "--val-batches needs --val-data" in alone.output
    ok = runner.invoke(
        group, ["-q", *base, "--out", str(tmp_path / "b"), "--val-data", str(tmp_path / "held_out")], obj={}
    )
    assert ok.exit_code == 0, ok.output
    rows = list(csv.DictReader((tmp_path / "b" / "val_log.csv").open()))
    assert [r["step"] for r in rows] == ["0", "2"]
    assert all(np.isfinite(float(r["val_loss"])) and float(r["val_loss"]) > 0 for r in rows)


# ------------------------------------------------------------------------------------ recipes
def test_feature_matching_and_perceptual_hooks() -> None:
    real = [torch.zeros(1, 2, 2, 2), torch.ones(1, 1, 4, 4)]
    fake = [torch.full((1, 2, 2, 2), 0.5), torch.ones(1, 1, 4, 4) * 3]
    assert float(feature_matching(real, fake)) == pytest.approx(0.5 + 2.0)
    assert float(feature_matching(real, fake, weights=(2.0, 0.0))) == pytest.approx(1.0)
    # the extractor sees both images; gradients reach only the output
    out = torch.zeros(1, 3, 4, 4, requires_grad=True)
    loss = perceptual(lambda x: [x, x.mean(dim=1, keepdim=True)], out, torch.ones(1, 3, 4, 4))
    loss.backward()
    assert float(loss.detach()) == pytest.approx(2.0) and out.grad is not None and out.grad.abs().sum() > 0


def test_recipe_registry_and_weight_overrides() -> None:
    from facefill.errors import UsageError
    from facefill.training.recipe import build_recipe, recipe_names

    assert "facefill-lite" in recipe_names()
    with pytest.raises(UsageError, match="known recipes: .*facefill-lite"):
        build_recipe("no-such-model")
    recipe = build_recipe("facefill-lite", **TINY)
    recipe.set_weight("ssim", 0.25, option="--w-ssim")
    assert recipe.loss_weights == {"l1": 1.0, "ssim": 0.25, "adv": 0.001}
    with pytest.raises(UsageError, match="no 'perceptual' loss term"):
        recipe.set_weight("perceptual", 1.0, option="--w-perceptual")


def test_lite_recipe_terms_are_the_documented_losses(tmp_path: Path) -> None:
    recipe = LiteRecipe(**TINY)
    batches = _tiny_trainer(tmp_path, steps=1).batches
    batch = recipe.to_device(batches[0], torch.device("cpu"))
    generator = recipe.build_generator()
    pred, terms = recipe.generator_step(generator, batch)
    # the untrained generator is the Telea fill (zero-initialised head): the composite is known exactly
    image, mask, filled = batch["image"], batch["mask"], batch["filled"]
    expected = filled.clamp(0, 1) * mask + image * (1 - mask)
    torch.testing.assert_close(pred.composite, expected)
    assert float(terms["l1"].detach()) == pytest.approx(float(hole_l1(expected, image, mask)))
    assert float(terms["ssim"].detach()) == pytest.approx(1 - float(ssim(expected, image)))
    assert recipe.critic_inputs(batch)[0] is mask


def test_a_recipe_without_discriminator_trains_without_adversarial_updates(tmp_path: Path) -> None:
    class NoCritic(LiteRecipe):
        def build_discriminator(self):
            return None

    faces = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    batches = InpaintBatches(faces, MaskSampler("box"), batch_size=2, seed=0)
    config = TrainConfig(steps=2, adv_start=0, ckpt_every=1, sample_every=1000, log_every=1)
    trainer = Trainer(config, batches, tmp_path / "run", recipe=NoCritic(**TINY, w_adv=1.0))
    trainer.run(progress=False, num_workers=0)
    assert trainer.d is None and trainer.step == 2
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert state["discriminator"] == {} and state["recipe"]["name"] == "facefill-lite"
    rows = (tmp_path / "run" / "loss_log.csv").read_text().splitlines()
    assert rows[0].split(",")[-1] == "d" and all(float(r.split(",")[-1]) == 0.0 for r in rows[1:])


def test_cli_train_refuses_an_unknown_recipe_listing_the_known(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from facefill.cli import group

    _write_faces(tmp_path / "faces", 2, size=32)
    base = ["train", "--data", str(tmp_path / "faces"), "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(group, ["-q", *base, "--recipe", "nope"], obj={})
    assert result.exit_code == 2 and "facefill-lite" in result.output
    assert not (tmp_path / "run").exists()


def test_labelled_images_read_both_l2m_layouts(tmp_path: Path) -> None:
    from facefill.training.dataset import list_labelled_images

    a = _write_faces(tmp_path / "l2m" / "train" / "female", 2)
    b = _write_faces(tmp_path / "l2m" / "train" / "male", 1, seed=1)
    assert list_labelled_images(tmp_path / "l2m") == [(p, "female") for p in a] + [(b[0], "male")]
    c = _write_faces(tmp_path / "l2m2" / "smile" / "test", 2)
    _write_faces(tmp_path / "l2m2" / "smile" / "train", 1)
    pairs = list_labelled_images(tmp_path / "l2m2", "test")
    assert pairs == [(p, "smile") for p in c]
    assert [p for p, _ in pairs] == list_images(tmp_path / "l2m2", "test")


def test_resume_refuses_a_checkpoint_of_another_recipe(tmp_path: Path) -> None:
    from facefill.errors import UsageError

    class Other(LiteRecipe):
        name = "other-lite"

    first = _tiny_trainer(tmp_path, steps=1)
    first.run(progress=False, num_workers=0)
    other = Trainer(TrainConfig(steps=2), first.batches, tmp_path / "run2", recipe=Other(**TINY))
    with pytest.raises(UsageError, match="--recipe facefill-lite"):
        other.load(tmp_path / "run" / "checkpoints" / "last.pt")
