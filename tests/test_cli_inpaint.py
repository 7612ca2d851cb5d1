"""`facefill inpaint` end to end: files made here, outputs checked against independent computations."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from facefill.cli import group
from facefill.pipelines.defaults import DEFAULT_INPAINT_MODEL
from facefill.pipelines.lite import shipped_weights_path
from facefill.runtime.seed import item_seed


def write_rgb(path: Path, seed: int, size: tuple[int, int] = (40, 48), mode: str = "RGB") -> np.ndarray:
    rng = np.random.default_rng(seed)
    channels = 4 if mode == "RGBA" else 3
    pixels = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def write_mask(path: Path, box: tuple[int, int, int, int], size: tuple[int, int] = (40, 48)) -> np.ndarray:
    mask = np.zeros(size, np.uint8)
    top, bottom, left, right = box
    mask[top:bottom, left:right] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask).save(path)
    return mask > 127


def run(*args: str) -> object:
    result = CliRunner().invoke(group, list(args), obj={}, catch_exceptions=False)
    return result


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=-1)


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def summary(path: Path) -> dict:
    return json.loads(path.read_text())


def statuses(data: dict) -> dict[str, tuple[str, str]]:
    return {item["name"]: (item["status"], item["reason"]) for item in data["items"]}


def test_single_file_only_hole_changes_and_sidecar_is_right(tmp_path: Path) -> None:
    src = write_rgb(tmp_path / "a.png", 1)
    hole = write_mask(tmp_path / "m.png", (10, 22, 12, 30))
    result = run(
        "inpaint", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png")
    )
    assert result.exit_code == 0, result.output
    out = load(tmp_path / "o.png")
    assert out.shape == src.shape
    assert np.array_equal(out[~hole], src[~hole])  # exact outside the hole (PNG)
    assert changed(out, src)[hole].mean() > 0.5  # random pixels cannot survive a fill

    side = json.loads((tmp_path / "o.json").read_text())
    assert side["input_sha256"] == hashlib.sha256((tmp_path / "a.png").read_bytes()).hexdigest()
    assert side["mask_sha256"] == hashlib.sha256((tmp_path / "m.png").read_bytes()).hexdigest()
    assert side["hole_ratio"] == pytest.approx(hole.mean())
    assert side["seed"] == item_seed(0, "a.png")
    assert side["model"] == DEFAULT_INPAINT_MODEL and side["device"] == "cpu" and side["dtype"] == "float32"
    shipped = shipped_weights_path(DEFAULT_INPAINT_MODEL)
    assert side["weights_sha256"] == {DEFAULT_INPAINT_MODEL: hashlib.sha256(shipped.read_bytes()).hexdigest()}
    assert side["output"] == str(tmp_path / "o.png")
    assert side["facefill_version"] and side["command"].startswith("facefill inpaint ")
    assert set(side["timings_ms"]) == {"decode", "compute", "encode"}


def test_folder_with_mask_folder_matching_and_an_unmatched_image(tmp_path: Path) -> None:
    inp, masks = tmp_path / "in", tmp_path / "masks"
    images = {
        "sub/x.png": write_rgb(inp / "sub/x.png", 1),
        "sub/y.png": write_rgb(inp / "sub/y.png", 2),
        "z.png": write_rgb(inp / "z.png", 3),
        "w.png": write_rgb(inp / "w.png", 4),
    }
    holes = {
        "sub/x.png": write_mask(masks / "sub/x.png", (0, 8, 0, 8)),  # same relative path
        "sub/y.png": write_mask(masks / "y.png", (10, 20, 10, 20)),  # same stem, top of folder
        "z.png": write_mask(masks / "z_mask.png", (30, 38, 30, 46)),  # {stem}_mask
    }
    result = run(
        "inpaint",
        str(inp),
        "-r",
        "--mask",
        str(masks),
        "-o",
        str(tmp_path / "out"),
        "--summary-json",
        str(tmp_path / "s.json"),
    )
    assert result.exit_code == 0, result.output  # an unmatched image is reported, not a failure
    data = summary(tmp_path / "s.json")
    assert statuses(data)["w.png"] == ("skipped", "no mask")
    assert data["counts"] == {"done": 3, "skipped": 1, "failed": 0, "total": 4}
    assert "w.png" in result.output and "no mask" in result.output
    for name, hole in holes.items():
        diff = changed(load(tmp_path / "out" / name), images[name])
        assert not diff[~hole].any() and diff[hole].any(), name  # each image got its own mask
    assert not (tmp_path / "out" / "w.png").exists()


def test_existing_output_is_skipped_then_rewritten_with_overwrite(tmp_path: Path) -> None:
    write_rgb(tmp_path / "in/a.png", 1)
    write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    args = ["inpaint", str(tmp_path / "in"), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "out")]
    assert run(*args).exit_code == 0
    good = (tmp_path / "out/a.png").read_bytes()
    (tmp_path / "out/a.png").write_bytes(b"placeholder")
    result = run(*args, "--summary-json", str(tmp_path / "s.json"))
    assert result.exit_code == 0
    assert statuses(summary(tmp_path / "s.json"))["a.png"] == ("skipped", "output exists")
    assert (tmp_path / "out/a.png").read_bytes() == b"placeholder"
    assert run(*args, "--overwrite").exit_code == 0
    assert (tmp_path / "out/a.png").read_bytes() == good


def test_never_overwrites_an_input(tmp_path: Path) -> None:
    write_rgb(tmp_path / "in/a.png", 1)
    write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    before = (tmp_path / "in/a.png").read_bytes()
    result = run(
        "inpaint", str(tmp_path / "in"), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "in")
    )
    assert result.exit_code == 1
    assert "never overwrites" in result.output and "Traceback" not in result.output
    assert (tmp_path / "in/a.png").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png"]


def test_one_corrupt_file_fails_alone(tmp_path: Path) -> None:
    for i in range(3):
        write_rgb(tmp_path / f"in/ok{i}.png", i)
    (tmp_path / "in/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    result = run(
        "inpaint",
        str(tmp_path / "in"),
        "--mask",
        str(tmp_path / "m.png"),
        "-o",
        str(tmp_path / "out"),
        "--summary-json",
        str(tmp_path / "s.json"),
    )
    assert result.exit_code == 1
    data = summary(tmp_path / "s.json")
    assert data["counts"] == {"done": 3, "skipped": 0, "failed": 1, "total": 4}
    status, reason = statuses(data)["broken.png"]
    assert status == "failed" and "broken.png" in reason
    assert "broken.png" in result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["ok0.png", "ok1.png", "ok2.png"]


def test_shards_partition_the_batch(tmp_path: Path) -> None:
    names = [f"i{n}.png" for n in range(10)]
    for n, name in enumerate(names):
        write_rgb(tmp_path / "in" / name, n, size=(16, 16))
    write_mask(tmp_path / "m.png", (4, 8, 4, 8), size=(16, 16))
    done = []
    for shard in ("0/2", "1/2"):
        report = tmp_path / f"s{shard[0]}.json"
        args = [
            "inpaint",
            str(tmp_path / "in"),
            "--mask",
            str(tmp_path / "m.png"),
            "-o",
            str(tmp_path / "out"),
        ]
        assert run(*args, "--shard", shard, "--summary-json", str(report)).exit_code == 0
        done.append({i["name"] for i in summary(report)["items"] if i["status"] == "done"})
    assert done[0] | done[1] == set(names)
    assert not done[0] & done[1]
    assert done[0] and done[1]


def test_format_jpg_writes_jpeg(tmp_path: Path) -> None:
    write_rgb(tmp_path / "a.png", 1)
    write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    result = run(
        "inpaint",
        str(tmp_path / "a.png"),
        "--mask",
        str(tmp_path / "m.png"),
        "-o",
        str(tmp_path / "out"),
        "--format",
        "jpg",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "out/a.jpg"
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"
    assert Image.open(out).format == "JPEG"
    assert (tmp_path / "out/a.json").exists()


def test_alpha_and_16_bit_survive(tmp_path: Path) -> None:
    import cv2

    rgba = write_rgb(tmp_path / "in/alpha.png", 1, mode="RGBA")
    wide = np.random.default_rng(2).integers(0, 65536, (40, 48, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "in/wide.png"), wide[..., ::-1])
    hole = write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    result = run(
        "inpaint", str(tmp_path / "in"), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "out")
    )
    assert result.exit_code == 0, result.output
    out_rgba = load(tmp_path / "out/alpha.png")
    assert out_rgba.shape == rgba.shape and np.array_equal(out_rgba[..., 3], rgba[..., 3])
    out_wide = cv2.imread(str(tmp_path / "out/wide.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert out_wide.dtype == np.uint16
    assert np.array_equal(out_wide[~hole], wide[~hole])
    assert changed(out_wide, wide)[hole].any()


def test_empty_mask_copies_the_input_with_a_warning(tmp_path: Path) -> None:
    src = write_rgb(tmp_path / "a.png", 1)
    write_mask(tmp_path / "m.png", (0, 0, 0, 0))
    result = run(
        "inpaint", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png")
    )
    assert result.exit_code == 0
    assert "no hole" in result.output
    assert np.array_equal(load(tmp_path / "o.png"), src)


def facefill(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "facefill", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "args",
    [
        ["inpaint"],  # no inputs
        ["inpaint", "x.png"],  # no --mask
        ["inpaint", "{tmp}/a.png", "--mask", "{tmp}/m.png", "--shard", "2/2"],
        ["inpaint", "{tmp}/a.png", "--mask", "{tmp}/m.png", "--device", "tpu"],
        ["inpaint", "{tmp}/nothing.png", "--mask", "{tmp}/m.png"],
    ],
)
def test_usage_errors_exit_2_without_traceback(tmp_path: Path, args: list[str]) -> None:
    write_rgb(tmp_path / "a.png", 1)
    write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    proc = facefill(*[a.format(tmp=tmp_path) for a in args])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip()


def test_unknown_model_is_a_usage_error(tmp_path: Path) -> None:
    write_rgb(tmp_path / "a.png", 1)
    write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    result = run("inpaint", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"), "--model", "no-such")
    assert result.exit_code == 2
    assert "no-such" in result.output and "telea" in result.output  # names the valid choices


HEAVY_CHECK = """
import sys
from facefill.cli import main
for argv in (["--help"], ["inpaint", "--help"], ["inpaint"]):
    try:
        main(argv)
    except SystemExit:
        pass
heavy = sorted(m for m in ("torch", "cv2", "dlib") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def test_help_and_usage_errors_do_not_import_heavy_libraries() -> None:
    proc = facefill(code=HEAVY_CHECK)
    assert "HEAVY=\n" in proc.stdout or proc.stdout.rstrip().endswith("HEAVY="), proc.stdout + proc.stderr
    assert "inpaint" in proc.stdout  # the help really ran


@pytest.mark.parametrize("model", ["telea", "ns", "facefill-lite"])
@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--exemplar", "{tmp}/a.png", "takes an exemplar"),
        ("--attribute", "smiling", "takes an attribute target"),
    ],
)
def test_an_option_the_model_cannot_honour_exits_2_in_one_line(tmp_path, model, option, value, says) -> None:
    from facefill.pipelines.registry import INPAINT, models_with

    write_rgb(tmp_path / "a.png", 1)
    write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    args = ["inpaint", str(tmp_path / "a.png"), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "o")]
    result = run(*args, "--model", model, option, value.format(tmp=tmp_path))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"{option} needs a model that {says}: " in lines[0], result.output
    able = models_with(INPAINT, option.lstrip("-"))
    assert all(name in lines[0] for name in able) and (able or "none installed yet" in lines[0])
    assert not (tmp_path / "o").exists()


class _ConditionedModel:
    """Stand-in for an exemplar/attribute/stochastic model: paints the hole with the exemplar's mean
    colour plus per-item noise, and records what each call got."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, tuple | None]] = []

    def __call__(self, request):
        import torch

        self.calls.append((len(request), request.attribute))
        colour = request.exemplar.mean(dim=(2, 3), keepdim=True) if request.exemplar is not None else 0.5
        noise = 0.2 * request.randn(*request.image.shape[1:])
        paint = (colour + noise * (request.attribute is not None)).clamp(0, 1)
        return torch.where(request.mask > 0, paint, request.image)


@pytest.fixture()
def conditioned_model(monkeypatch: pytest.MonkeyPatch) -> _ConditionedModel:
    from facefill.pipelines import registry

    model = _ConditionedModel()
    caps = frozenset({"exemplar", "attribute", "stochastic"})
    spec = registry.ModelSpec("test-conditioned", "test", lambda context: model, capabilities=caps)
    monkeypatch.setitem(registry._SPECS, (registry.INPAINT, spec.name), spec)
    return model


def test_exemplars_reach_a_model_that_takes_them(tmp_path: Path, conditioned_model) -> None:
    inp, refs = tmp_path / "in", tmp_path / "refs"
    for k, colour in enumerate(((200, 10, 10), (10, 10, 200))):
        write_rgb(inp / f"p{k}.png", k)
        refs.mkdir(exist_ok=True)
        Image.fromarray(np.full((30, 20, 3), colour, np.uint8)).save(refs / f"p{k}.png")
    hole = write_mask(tmp_path / "m.png", (5, 15, 5, 15))
    args = ["inpaint", str(inp), "--mask", str(tmp_path / "m.png"), "--exemplar", str(refs)]
    result = run(*args, "-o", str(tmp_path / "out"), "--model", "test-conditioned")
    assert result.exit_code == 0, result.output
    assert run(*args, "--model", "telea", "-o", str(tmp_path / "x")).exit_code == 2  # refused by telea
    for k, colour in enumerate(((200, 10, 10), (10, 10, 200))):
        out = load(tmp_path / "out" / f"p{k}.png")
        assert np.abs(out[hole].astype(int) - colour).max() <= 1  # each item got its own exemplar
        side = json.loads((tmp_path / "out" / f"p{k}.json").read_text())
        assert side["exemplar_sha256"] == hashlib.sha256((refs / f"p{k}.png").read_bytes()).hexdigest()


def test_an_item_alone_equals_the_same_item_in_a_batch_of_8(tmp_path: Path, conditioned_model) -> None:
    for k in range(8):
        write_rgb(tmp_path / "in" / f"img{k}.png", k)
    hole = write_mask(tmp_path / "m.png", (4, 30, 6, 40))
    common = ["--mask", str(tmp_path / "m.png"), "--model", "test-conditioned", "--attribute", "smiling"]
    result = run("inpaint", str(tmp_path / "in"), *common, "-o", str(tmp_path / "batch"), "--batch-size", "8")
    assert result.exit_code == 0, result.output
    assert conditioned_model.calls == [(8, ("smiling",) * 8)]  # one model call for all 8
    for k in (0, 6):
        alone = tmp_path / "alone" / f"img{k}.png"
        result = run("inpaint", str(tmp_path / "in" / f"img{k}.png"), *common, "-o", str(alone))
        assert result.exit_code == 0, result.output
        assert np.array_equal(load(alone), load(tmp_path / "batch" / f"img{k}.png"))  # byte-identical pixels
    first, second = load(tmp_path / "batch/img0.png"), load(tmp_path / "batch/img1.png")
    assert not np.array_equal(first[hole], second[hole])  # each item draws its own noise
