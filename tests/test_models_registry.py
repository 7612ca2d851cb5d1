"""The architecture registry: strict loading reports every key and shape problem readably."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from facefill.errors import ModelError, WeightsError
from facefill.models import available, build, load_strict


class _Tiny(nn.Module):
    optional_state_keys = ("extra",)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.register_buffer("extra", torch.eye(2))


def test_strict_load_lists_missing_unexpected_and_shape_problems():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))
    state = dict(model.state_dict())
    del state["1.bias"]
    state["0.weight"] = torch.zeros(4, 3, 5, 5)
    state["surplus"] = torch.zeros(1)
    with pytest.raises(WeightsError) as info:
        load_strict(model, state, "my.pt")
    text = str(info.value)
    assert "my.pt" in text and "1 missing: 1.bias" in text and "1 unexpected: surplus" in text
    assert "0.weight: checkpoint (4, 3, 5, 5) vs model (4, 3, 3, 3)" in text
    assert "\n" not in text


def test_optional_keys_may_be_absent_but_other_keys_may_not():
    model = _Tiny()
    source = _Tiny()
    state = {k: v for k, v in source.state_dict().items() if k != "extra"}
    load_strict(model, state)
    assert torch.equal(model.conv.weight, source.conv.weight)
    del state["conv.bias"]
    with pytest.raises(WeightsError, match="conv.bias"):
        load_strict(model, state)


def test_unknown_architecture_names_the_known_ones():
    with pytest.raises(ModelError) as info:
        build("no-such-net")
    assert "stylegan2-generator" in str(info.value)
    assert "stylegan2-generator" in available()
