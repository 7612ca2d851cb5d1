"""Inpaint requests: per-item generators, capability checks, conditioning that follows its items."""

from __future__ import annotations

import pytest
import torch

from facefill.errors import UsageError
from facefill.pipelines import registry
from facefill.pipelines.inpaint import InpaintPipeline
from facefill.pipelines.registry import INPAINT, ModelSpec, get_model, models_with, require_capabilities
from facefill.pipelines.requests import InpaintRequest
from facefill.runtime.seed import item_generator

torch.set_num_threads(1)


class NoiseModel:
    """A stochastic stand-in: fills the hole with noise drawn per item from the request's generators."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []
        self.requests: list[InpaintRequest] = []

    def __call__(self, request: InpaintRequest) -> torch.Tensor:
        self.batch_sizes.append(len(request))
        self.requests.append(request)
        noise = request.randn(*request.image.shape[1:]).sigmoid()
        return request.image * (1 - request.mask) + noise * request.mask


@pytest.fixture()
def noise_model(monkeypatch: pytest.MonkeyPatch):
    model = NoiseModel()

    def register(name: str, **fields) -> str:
        spec = ModelSpec(
            name, "test noise", lambda context: model, capabilities=frozenset({"stochastic"}), **fields
        )
        monkeypatch.setitem(registry._SPECS, (INPAINT, name), spec)
        return name

    return register, model


def _batch(n: int, h: int = 40, w: int = 52) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(5))
    masks = torch.zeros(n, 1, h, w)
    for k in range(n):
        masks[k, :, 3 + k : 20 + k, 10 : 30 + k] = 1  # a different hole per item
    return images, masks


@pytest.mark.parametrize("fields", [{}, {"native_size": 32}], ids=["full-size", "native-crop"])
def test_an_item_alone_equals_the_same_item_in_a_batch_of_8(noise_model, fields) -> None:
    register, model = noise_model
    pipeline = InpaintPipeline(register("test-noise", **fields))
    images, masks = _batch(8)
    names = [f"img{k}.png" for k in range(8)]
    batch = pipeline.run(InpaintRequest(images, masks, generators=tuple(item_generator(0, n) for n in names)))
    assert model.batch_sizes == [8]  # one model call for all 8, crops included
    for k in (0, 5):
        alone = pipeline.run(
            InpaintRequest(images[k : k + 1], masks[k : k + 1], generators=(item_generator(0, names[k]),))
        )
        assert torch.equal(alone[0], batch[k])  # byte-identical
    hole = masks[0, 0] > 0
    assert not torch.equal(batch[0][:, hole][:, :50], batch[1][:, hole][:, :50])  # items draw their own noise
    other_seed = pipeline.run(
        InpaintRequest(images[:1], masks[:1], generators=(item_generator(1, names[0]),))
    )
    assert not torch.equal(other_seed[0], batch[0])  # and the seed matters


def test_the_pipeline_leaves_the_global_rng_alone(noise_model) -> None:
    register, _ = noise_model
    pipeline = InpaintPipeline(register("test-noise"))
    images, masks = _batch(2)
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    pipeline.run(InpaintRequest(images, masks))  # no generators given: per-index ones from the context seed
    assert torch.equal(torch.rand(4), expected)


def test_select_keeps_conditioning_with_its_items() -> None:
    images, masks = _batch(3)
    exemplar = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 3, 4, 4)
    gens = tuple(torch.Generator().manual_seed(k) for k in range(3))
    request = InpaintRequest(images, masks, exemplar=exemplar, attribute=("a", None, "c"), generators=gens)
    picked = request.select([2, 0])
    assert torch.equal(picked.image, images[[2, 0]]) and torch.equal(picked.mask, masks[[2, 0]])
    assert picked.exemplar[:, 0, 0, 0].tolist() == [2.0, 0.0]
    assert picked.attribute == ("c", "a") and picked.generators == (gens[2], gens[0])
    assert request.conditioning == {"exemplar", "attribute"}
    assert picked.with_pixels(images[:2], masks[:2]).attribute == ("c", "a")
    with pytest.raises(ValueError, match="attribute"):
        InpaintRequest(images, masks, attribute=("a",))


def test_randn_draws_item_i_from_generator_i_only() -> None:
    images, masks = _batch(2)
    gens = (torch.Generator().manual_seed(7), torch.Generator().manual_seed(8))
    noise = InpaintRequest(images, masks, generators=gens).randn(2, 3)
    assert torch.equal(noise[1], torch.randn(2, 3, generator=torch.Generator().manual_seed(8)))


def test_capability_check_names_the_registered_models_that_have_it(monkeypatch) -> None:
    telea = get_model(INPAINT, "telea")
    with pytest.raises(UsageError) as caught:
        require_capabilities(telea, INPAINT, {"exemplar": "--exemplar"})
    able = ", ".join(models_with(INPAINT, "exemplar")) or "none installed yet (sacgan will)"
    assert str(caught.value) == f"--exemplar needs a model that takes an exemplar: {able}"
    spec = ModelSpec("test-ref", "x", lambda c: None, capabilities=frozenset({"exemplar", "attribute"}))
    monkeypatch.setitem(registry._SPECS, (INPAINT, "test-ref"), spec)
    assert "test-ref" in models_with(INPAINT, "exemplar") and "telea" not in models_with(INPAINT, "exemplar")
    with pytest.raises(UsageError) as caught:
        require_capabilities(telea, INPAINT, {"attribute": "--attribute"})
    assert str(caught.value).startswith("--attribute needs a model that takes an attribute target: ")
    assert "test-ref" in str(caught.value) and "\n" not in str(caught.value)
    require_capabilities(spec, INPAINT, {"exemplar": "--exemplar", "attribute": "--attribute"})  # no error
    with pytest.raises(UsageError, match="exemplar"):  # the pipeline refuses it too
        InpaintPipeline("ns").run(InpaintRequest(*_batch(1), exemplar=torch.zeros(1, 3, 8, 8)))
    with pytest.raises(ValueError, match="unknown capabilities"):
        ModelSpec("bad", "x", lambda c: None, capabilities=frozenset({"telepathy"}))
