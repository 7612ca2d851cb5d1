"""synthesize-discrete pipeline: test.py's formula against an independent computation, blending,
batch independence, direction files and accessory geometry (tiny random generators)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facefill.errors import UsageError
from facefill.models import build
from facefill.pipelines.discrete import DiscreteNetworks, DiscretePipeline, DiscreteRequest
from facefill.pipelines.discrete.accessories import EYES, accessory_region, accessory_template, blend_weights
from facefill.pipelines.discrete.directions import layer_directions, read_direction

SIZE = 64


class FixedEncoder(torch.nn.Module):
    """Stands in for e4e: returns preset codes (+ latent_avg, like pSp)."""

    def __init__(self, codes: torch.Tensor):
        super().__init__()
        self.codes = codes

    def encode(self, x: torch.Tensor, latent_avg: torch.Tensor | None) -> torch.Tensor:
        assert x.shape[-2:] == (256, 256) and x.min() >= -1 and x.max() <= 1  # e4e input convention
        return self.codes[: x.shape[0]] + (0 if latent_avg is None else latent_avg)


class FixedFusion(torch.nn.Module):
    """Stands in for the fusion net: a preset offset; records what it was given."""

    image_size = 256

    def __init__(self, offset: torch.Tensor):
        super().__init__()
        self.offset, self.seen = offset, {}

    def forward(self, face, template, canonical):
        self.seen = {"face": face.shape, "template": template.shape, "canonical": canonical.shape}
        return self.offset[: face.shape[0]]


class FakeUnsup3d(torch.nn.Module):
    def forward(self, faces):
        assert faces.shape[-2:] == (64, 64)
        maps = torch.rand(faces.shape[0], 3, 128, 128)
        return {k: maps for k in ("depth", "normal", "albedo", "shading", "image")}


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return build("stylegan2-generator", size=SIZE).eval()


@pytest.fixture(scope="module")
def small_generator():
    """16 px: refinement back-propagates through the generator several times."""
    torch.manual_seed(0)
    return build("stylegan2-generator", size=16).eval()


def _faces(n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def _gens(n: int, base: int = 10) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(base + i) for i in range(n)]


@torch.no_grad()
def test_formula_matches_sdgan_test_py_independently(generator):
    n, rows = 2, generator.n_latent
    gen = torch.Generator().manual_seed(2)
    codes = torch.randn(n, rows, 512, generator=gen)
    offset = torch.randn(n, rows, 512, generator=gen) * 0.1
    direction = torch.randn(1, 512, generator=gen) * 7  # (1,512): made unit length
    mean = generator.mean_latent(64, generator=torch.Generator().manual_seed(3))
    nets = DiscreteNetworks(
        generator,
        FixedEncoder(codes),
        None,
        FixedFusion(offset),
        FakeUnsup3d(),
        truncation=0.5,
        mean_latent=mean,
    )
    pipe = DiscretePipeline(nets, {"glasses": direction})
    result = pipe(DiscreteRequest(_faces(n), "glasses", strength=2.5, generators=_gens(n)))
    # independent: rosinality's own truncation inside Generator.forward, as infer_face calls it
    noise = [
        torch.cat(m) for m in zip(*[generator.make_noise(1, generator=g) for g in _gens(n)], strict=True)
    ]
    unit = direction / direction.norm()
    predict, _ = generator(
        [codes + 2.5 * unit[:, None] + offset],
        truncation=0.5,
        truncation_latent=mean,
        input_is_latent=True,
        noise=noise,
    )
    origins, _ = generator([codes], truncation=0.5, truncation_latent=mean, input_is_latent=True, noise=noise)
    torch.testing.assert_close(result.generated, ((predict + 1) / 2).clamp(0, 1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(result.reconstruction, ((origins + 1) / 2).clamp(0, 1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(result.edited_codes, codes + 2.5 * unit[:, None] + offset)
    assert nets.fusion.seen == {
        "face": (n, 3, 256, 256),
        "template": (n, 3, 256, 256),
        "canonical": (n, 9, 128, 128),
    }


@torch.no_grad()
def test_blend_keeps_input_outside_the_region_and_generated_inside(generator):
    codes = torch.randn(2, generator.n_latent, 512, generator=torch.Generator().manual_seed(4))
    pipe = DiscretePipeline(DiscreteNetworks(generator, FixedEncoder(codes)), {"mask": torch.randn(512)})
    faces = _faces(2)
    result = pipe(DiscreteRequest(faces, "mask", generators=_gens(2)))
    w = result.weights
    outside, inside = w == 0, w == 1
    assert outside.any() and inside.any()
    assert torch.equal(
        result.edited.expand_as(faces)[outside.expand_as(faces)], faces[outside.expand_as(faces)]
    )
    torch.testing.assert_close(
        result.edited[inside.expand_as(faces)], result.generated[inside.expand_as(faces)]
    )


@torch.no_grad()
def test_zero_strength_without_offset_reproduces_the_inversion(generator):
    codes = torch.randn(1, generator.n_latent, 512, generator=torch.Generator().manual_seed(5))
    pipe = DiscretePipeline(DiscreteNetworks(generator, FixedEncoder(codes)), {"glasses": torch.randn(512)})
    result = pipe(DiscreteRequest(_faces(1), "glasses", strength=0.0, generators=_gens(1)))
    torch.testing.assert_close(result.generated, result.reconstruction, rtol=0, atol=0)


@pytest.mark.parametrize(("steps", "tol"), [(0, 1e-5), (3, 3e-3)])
def test_item_alone_equals_item_in_a_batch(small_generator, steps, tol):
    """Per-item noise and per-item losses; with refinement, Adam's normalised steps amplify float
    rounding of batched vs single convolutions, hence the looser bound."""
    g = small_generator
    mean = g.mean_latent(64, generator=torch.Generator().manual_seed(6))
    pipe = DiscretePipeline(
        DiscreteNetworks(g, truncation=0.5, mean_latent=mean), {"sunglasses": torch.randn(1, 512)}
    )
    faces = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    batch = pipe(DiscreteRequest(faces, "sunglasses", refine_steps=steps, generators=_gens(3)))
    alone = pipe(DiscreteRequest(faces[2:], "sunglasses", refine_steps=steps, generators=_gens(3)[2:]))
    torch.testing.assert_close(alone.edited, batch.edited[2:], rtol=0, atol=tol)
    assert not torch.allclose(batch.edited[0], batch.edited[1])  # different items, different noise
    if steps:
        assert not torch.allclose(
            batch.codes[0], mean.expand_as(batch.codes[0])
        )  # refinement moved the codes


def test_refinement_lowers_reconstruction_error(small_generator):
    generator = small_generator
    mean = generator.mean_latent(64, generator=torch.Generator().manual_seed(8))
    nets = DiscreteNetworks(generator, truncation=1.0, mean_latent=mean)
    pipe = DiscretePipeline(nets, {"glasses": torch.randn(512)})
    with torch.no_grad():
        target_codes = torch.randn(1, generator.n_latent, 512, generator=torch.Generator().manual_seed(9))
        noise = generator.make_noise(1, generator=_gens(1)[0])
        faces = ((generator([target_codes], input_is_latent=True, noise=noise)[0] + 1) / 2).clamp(0, 1)
    errors = [
        (pipe(DiscreteRequest(faces, "glasses", refine_steps=k, generators=_gens(1))).reconstruction - faces)
        .square()
        .mean()
        for k in (0, 15)
    ]
    assert errors[1] < errors[0] * 0.9


# ---------------------------------------------------------------- directions


@pytest.mark.parametrize("suffix", [".npy", ".pt", ".safetensors"])
def test_direction_files_load_safely(tmp_path, suffix):
    d = torch.randn(1, 512)
    path = tmp_path / f"d{suffix}"
    if suffix == ".npy":
        np.save(path, d.numpy())
    elif suffix == ".pt":
        torch.save(d, path)
    else:
        from safetensors.torch import save_file

        save_file({"direction": d}, str(path))
    torch.testing.assert_close(read_direction(path), d)


def test_pickled_object_directions_are_refused(tmp_path):
    path = tmp_path / "evil.npy"
    np.save(path, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(UsageError, match="npy"):
        read_direction(path)


def test_layer_directions_shapes():
    w = torch.randn(512) * 3
    rows = layer_directions(w, 14)
    assert rows.shape == (14, 512)
    torch.testing.assert_close(rows.norm(dim=1), torch.ones(14))
    plus = torch.randn(18, 512)
    assert torch.equal(layer_directions(plus[None], 18), plus)  # W+ directions are used as given
    with pytest.raises(UsageError, match="14"):
        layer_directions(plus, 14)
    with pytest.raises(UsageError, match="zero"):
        layer_directions(torch.zeros(512), 14)


# ---------------------------------------------------------------- accessory geometry


def test_regions_sit_on_the_aligned_features():
    size = 256
    glasses, mask = accessory_region("glasses", size), accessory_region("mask", size)
    for cx, cy in EYES:
        assert glasses[int(cy * size), int(cx * size)] == 1
    assert mask[int(0.75 * size), size // 2] == 1  # mouth
    assert glasses[int(0.75 * size), size // 2] == 0 and mask[int(0.473 * size), int(0.381 * size)] == 0
    weights = blend_weights("glasses", size)
    assert torch.all(weights >= glasses - 1e-6) and weights.max() == 1 and weights[0, 0] == 0
    lens = accessory_template("sunglasses", size)
    frame = accessory_template("glasses", size)
    centre = (int(EYES[0][1] * size), int(EYES[0][0] * size))
    assert lens[:, centre[0], centre[1]].max() < 0.1 and frame[:, centre[0], centre[1]].max() == 0
    assert (frame.sum(0) > 0).float().mean() < (lens.sum(0) > 0).float().mean()  # a thin frame
