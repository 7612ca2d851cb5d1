"""Wrap a torch face parser (e.g. models.bisenet.BiSeNet) as a `ParserRegionProvider` parser.

The provider hands the parser an aligned uint8 RGB crop and expects (classes, h, w) probabilities
as numpy; torch models take N×3×H×W floats in [0, 1]. This is the only glue needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def parser_from_torch(model: Any, *, device: Any = "cpu", input_size: int | None = None) -> Any:
    """A `Parser` calling `model.parse(images, input_size)` (BiSeNet's API) or softmax(model(x))."""
    import torch

    def parse(crop: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(crop)).to(device=device, dtype=torch.float32)
        x = (x / 255.0).permute(2, 0, 1)[None]
        with torch.inference_mode():
            if hasattr(model, "parse"):
                probs = model.parse(x) if input_size is None else model.parse(x, input_size)
            else:
                out = model(x)
                probs = torch.softmax(out[0] if isinstance(out, (tuple, list)) else out, dim=1)
        return probs[0].float().cpu().numpy()

    return parse
