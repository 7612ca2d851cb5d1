"""IR-SE50 ArcFace backbone and the identity-similarity helpers built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from facefill.models import build, from_checkpoint
from facefill.models.identity import IdentityEncoder, arcface_input, identity_similarity
from facefill.models.irse50 import Backbone
from manifest_utils import load_manifest, random_state_dict, shapes_of


def test_state_dict_matches_manifest_exactly():
    with torch.device("meta"):
        model = build("irse50")
    assert list(shapes_of(model.state_dict()).items()) == list(load_manifest("ir_se50_backbone_112").items())


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return from_checkpoint("irse50", random_state_dict("ir_se50_backbone_112", seed=0))


def _faces(n: int, seed: int, size: int = 112) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@torch.inference_mode()
def test_forward_shape_unit_norm_determinism_and_float64_agreement(backbone):
    x = _faces(1, 1) * 2 - 1
    emb = backbone(x)
    assert emb.shape == (1, 512)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(backbone(x), emb, rtol=0, atol=0)  # eval: dropout off
    b64 = Backbone().double().eval()
    b64.load_state_dict(backbone.state_dict())
    emb64 = b64(x.double())
    assert (emb.double() - emb64).abs().max() < 1e-5


def test_arcface_input_crops_the_reference_window():
    """Pixels outside rows 35:223, cols 32:220 of the 256 face never reach the network."""
    img = torch.full((1, 3, 256, 256), float("nan"))
    img[:, :, 35:223, 32:220] = 0.75
    out = arcface_input(img)
    assert out.shape == (1, 3, 112, 112)
    torch.testing.assert_close(out, torch.full_like(out, 0.5))  # 0.75 in [0,1] -> 0.5 in [-1,1]
    marker = torch.zeros(1, 3, 256, 256)
    marker[:, :, 35, 32] = 1.0
    assert arcface_input(marker)[0, 0, 0, 0] > -1  # first crop pixel lands in output (0, 0)


def test_arcface_input_pools_larger_faces_to_256_first():
    small = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(3))
    large = small.repeat_interleave(4, dim=2).repeat_interleave(4, dim=3)
    torch.testing.assert_close(arcface_input(large), arcface_input(small), rtol=1e-5, atol=1e-6)


def test_identity_similarity_is_cosine():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 512)), rng.standard_normal((3, 512))
    expected = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    got = identity_similarity(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(identity_similarity(torch.from_numpy(a), torch.from_numpy(3 * a)).numpy(), 1.0)


@torch.inference_mode()
def test_image_is_identical_to_itself_and_not_to_another(backbone):
    encoder = IdentityEncoder(backbone).eval()
    faces = _faces(2, 5, size=256)
    emb = encoder(faces)
    torch.testing.assert_close(identity_similarity(emb, emb), torch.ones(2), rtol=1e-5, atol=1e-5)
    assert (identity_similarity(emb, emb.flip(0)) < 1 - 1e-4).all()
    same = encoder.similarity(faces[:1], faces[:1])
    torch.testing.assert_close(same, torch.ones(1), rtol=1e-5, atol=1e-5)
