"""Identity embeddings with the IR-SE50 ArcFace backbone, preprocessed like pSp/e4e's ID loss.

Used to measure whether an edit kept the person: cosine similarity of embeddings of the input and
the result. Preprocessing (e4e `IDLoss.extract_feats`): a 256x256 face in [-1,1] is cropped to
rows 35:223, cols 32:220 (188x188) and adaptive-average-pooled to 112x112.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.irse50 import Backbone

ID_CROP_ROWS = (35, 223)
ID_CROP_COLS = (32, 220)
ID_SOURCE_SIZE = 256
ID_INPUT_SIZE = 112


def arcface_input(images: torch.Tensor) -> torch.Tensor:
    """[0,1] N×3×H×W aligned faces -> the 112×112 [-1,1] crop the ID loss feeds to ArcFace.

    Faces of another size are first average-pooled to 256×256, as pSp pools generator output.
    """
    x = images * 2 - 1
    if x.shape[-2:] != (ID_SOURCE_SIZE, ID_SOURCE_SIZE):
        x = F.adaptive_avg_pool2d(x, (ID_SOURCE_SIZE, ID_SOURCE_SIZE))
    x = x[:, :, ID_CROP_ROWS[0] : ID_CROP_ROWS[1], ID_CROP_COLS[0] : ID_CROP_COLS[1]]
    return F.adaptive_avg_pool2d(x, (ID_INPUT_SIZE, ID_INPUT_SIZE))


def identity_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of identity embeddings (N, D) x (N, D) -> (N,), 1 = same direction."""
    return F.cosine_similarity(a, b, dim=1, eps=1e-12)


class IdentityEncoder(nn.Module):
    """ArcFace backbone plus its preprocessing: [0,1] aligned faces -> unit 512-d embeddings."""

    def __init__(self, backbone: Backbone | None = None):
        super().__init__()
        self.backbone = backbone if backbone is not None else Backbone(112, 50, "ir_se", drop_ratio=0.6)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(arcface_input(images))

    def similarity(self, images_a: torch.Tensor, images_b: torch.Tensor) -> torch.Tensor:
        """Per-image identity similarity of two aligned batches in [0,1]; e4e's ID loss is 1 - this."""
        return identity_similarity(self(images_a), self(images_b))
