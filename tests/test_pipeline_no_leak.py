"""No model ever sees hole pixels: with 100 % and 99.9 % masks the fill cannot depend on them.

Every registered inpainter runs through the pipeline (DeepFillv2 and LaMa on stand-in weights,
handed over as `--weights NAME=PATH` does). Two originals that differ only inside the hole must
give byte-identical outputs; with a full mask any two originals must.
"""

from __future__ import annotations

import pytest
import torch

from facefill.models import build
from facefill.pipelines.inpaint import InpaintPipeline
from facefill.pipelines.registry import INPAINT, model_names
from facefill.runtime.context import RunContext
from facefill.training.export import export_generator
from manifest_utils import random_state_dict

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
H, W = 40, 50  # 2000 pixels: 99.9 % leaves 2 known pixels


class _IdentityLama(torch.nn.Module):
    """Stands in for big-lama.pt and returns its input: any hole pixel it is given shows in the output."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return image


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("weights")
    files = {}
    for name in ("deepfillv2-celebahq", "deepfillv2-places2"):
        state = random_state_dict("deepfillv2_generator_pt", seed=1)
        state.pop("stage2.contextual_attention.fuse_weight", None)
        files[name] = str(folder / f"{name}.pth")
        torch.save({"G": state, "n_iter": 0}, files[name])
    files["lama-big"] = str(folder / "big-lama.pt")
    torch.jit.save(torch.jit.script(_IdentityLama()), files["lama-big"])
    for name, arch, config in (  # small exports: the architecture config travels in the file
        ("sacgan", "sacgan-generator", {"img_size": 128, "style_dim": 8, "max_conv_dim": 16, "base_dim": 8}),
        ("spl", "spl-generator", {"residual_blocks": 1, "dense_blocks": 2, "prior_channels": 16, "width": 8}),
    ):
        torch.manual_seed(0)
        module = build(arch, **config)
        files[name] = str(export_generator(module, folder / f"{name}.safetensors", 0, arch, config))
    return files


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FACEFILL_WEIGHTS_DIR", raising=False)


def _mask(kept: int) -> torch.Tensor:
    mask = torch.ones(1, 1, H, W)
    if kept:
        mask[0, 0, 17, 21] = 0  # the known pixels: away from the border, so the crop sees them
        mask[0, 0, 30, 40] = 0
    return mask


def _original(seed: int) -> torch.Tensor:
    return torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", sorted(model_names(INPAINT)))
@pytest.mark.parametrize("kept", [0, 2], ids=["mask100", "mask99.9"])
def test_the_fill_depends_only_on_known_pixels(name: str, kept: int, weights) -> None:
    pipeline = InpaintPipeline(name, RunContext(device="cpu", weights=weights, offline=True))
    mask = _mask(kept)
    first = _original(1)
    swapped = torch.where(mask > 0, _original(2), first)  # same known pixels, other hole content
    assert (first - swapped).abs().mean() > 0.2  # the hole contents really differ
    out_first = pipeline(first, mask)
    out_swapped = pipeline(swapped, mask)
    assert torch.equal(out_first, out_swapped)
    if kept:  # and the known pixels are kept bit for bit
        known = mask.expand_as(first) == 0
        assert torch.equal(out_first[known], first[known])
