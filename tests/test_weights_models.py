"""The weights registry and the architecture registry fit together: labels name real builders,
and each entry's key map turns its published checkpoint layout into the module's state dict."""

from __future__ import annotations

import argparse

import pytest
import torch

from facefill.models import available
from facefill.pipelines.pretrained import load_pretrained
from facefill.runtime.context import RunContext
from facefill.weights.registry import entries
from manifest_utils import random_state_dict

OFFLINE = RunContext(device="cpu", offline=True, progress=False)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))


def test_module_entries_name_registered_architectures():
    """Every `kind = "module"` entry (and view) names a registered architecture; the rest say what."""
    known = set(available())
    modules = [e for e in entries() if e.kind == "module"]
    assert len(modules) >= 15  # StyleGAN2, e4e, parsers, ArcFace, DeepFill, FID, VGG, ... (not vacuous)
    for e in entries():
        for view in (None, *e.views):
            build = e.build_for(view)
            if build.kind == "module":
                assert build.architecture in known, (e.name, view, build.architecture)
            else:
                assert build.kind in ("torchscript", "state-dict", "tensors"), (e.name, view)


def _saved(tmp_path, obj, name="ckpt.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_rosinality_checkpoint_loads_g_ema_through_the_entry_key_map(tmp_path):
    g_ema = random_state_dict("stylegan2_generator_256", seed=1)
    ckpt = {
        "g_ema": g_ema,
        "g": random_state_dict("stylegan2_generator_256", seed=2),
        "d": random_state_dict("stylegan2_discriminator_256", seed=3),
        "latent_avg": torch.randn(512),
        "args": argparse.Namespace(size=256, channel_multiplier=2),
    }
    context = OFFLINE.with_(weights={"stylegan2-ffhq-1024": str(_saved(tmp_path, ckpt))})
    generator = load_pretrained("stylegan2-ffhq-1024", context, size=256)
    for key, value in generator.state_dict().items():
        assert torch.equal(value, g_ema[key]), key  # g_ema, not g
    discriminator = load_pretrained("stylegan2-ffhq-1024", context, view="d", size=256)
    assert type(discriminator).__name__ == "Discriminator"  # the view names its own architecture
    for key, value in discriminator.state_dict().items():
        assert torch.equal(value, ckpt["d"][key]), key


def test_face_parser_checkpoint_with_loss_weight_loads(tmp_path):
    state = random_state_dict("maskfacegan_face_parser", seed=4)
    state["loss.weight"] = torch.ones(9)  # present in the published state.pt, dropped by the key map
    context = OFFLINE.with_(weights={"maskfacegan-parser": str(_saved(tmp_path, state))})
    parser = load_pretrained("maskfacegan-parser", context)
    assert not parser.training
    key = next(iter(parser.state_dict()))
    assert torch.equal(parser.state_dict()[key], state[key])
