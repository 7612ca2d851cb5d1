"""The weights registry and the architecture registry fit together: labels name real builders,
and each entry's key map turns its published checkpoint layout into the module's state dict."""

from __future__ import annotations

import argparse

import pytest
import torch

from facefill.models import available, from_checkpoint
from facefill.weights import config
from facefill.weights.registry import entries
from manifest_utils import random_state_dict

# Entries facefill loads as torch modules today (the rest are TorchScript, tensors, or belong to
# models still to come: SAC-GAN, SD-GAN, AlexNet-LPIPS).
MODULE_ENTRIES = {
    "stylegan2-ffhq-1024",
    "stylegan2-ffhq-1024-ema",
    "e4e-ffhq",
    "maskfacegan-e4e",
    "bisenet-faceparse",
    "arcface-ir-se50",
    "deepfillv2-celebahq",
    "deepfillv2-places2",
    "deepfillv2-celebahq-tf",
    "deepfillv2-places2-tf",
    "fid-inception",
    "vgg16-imagenet",
    "resnet18-imagenet",
    "maskfacegan-classifier",
    "maskfacegan-parser",
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEFILL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config.reset()
    yield
    config.reset()


def test_module_entries_name_registered_architectures():
    known = set(available())
    by_name = {e.name: e for e in entries()}
    assert set(by_name) >= MODULE_ENTRIES
    for name in MODULE_ENTRIES:
        assert by_name[name].architecture in known, (name, by_name[name].architecture)


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
    config.set_overrides({"stylegan2-ffhq-1024": _saved(tmp_path, ckpt)})
    generator = from_checkpoint("stylegan2-generator", "stylegan2-ffhq-1024", size=256)
    for key, value in generator.state_dict().items():
        assert torch.equal(value, g_ema[key]), key  # g_ema, not g


def test_face_parser_checkpoint_with_loss_weight_loads(tmp_path):
    state = random_state_dict("maskfacegan_face_parser", seed=4)
    state["loss.weight"] = torch.ones(9)  # present in the published state.pt, dropped by the key map
    config.set_overrides({"maskfacegan-parser": _saved(tmp_path, state)})
    parser = from_checkpoint("maskfacegan-parser", "maskfacegan-parser")
    key = next(iter(parser.state_dict()))
    assert torch.equal(parser.state_dict()[key], state[key])
