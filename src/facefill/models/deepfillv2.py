"""DeepFillv2 generator (gated-conv coarse-to-fine network with contextual attention).

Checkpoint-compatible with nipponjo/deepfillv2-pytorch in both of its flavours (specs/inpaint.md §6):
  * "pt" — `model/networks.py` (nested names `stage1.*`, `stage2.*`; 85 entries incl. the optional
    `stage2.contextual_attention.fuse_weight` buffer), used by `states_pt_{celebahq,places2}.pth`;
  * "tf" — `model/networks_tf.py` (flat TF-graph names `conv1`, `xconv*`, `pmconv*`, `allconv*`;
    84 entries), used by the converted official weights `states_tf_{celebahq,places2}.pth`.
Both hold the same 4 052 478 parameters in the same order; they differ in padding and resampling.

Forward: input N×5×H×W = [masked image in [-1,1] (holes 0), ones, mask] and the mask N×1×H×W
(1 = hole; H, W multiples of 8). Returns (stage1, stage2), both tanh outputs in [-1,1]. The
refinement stage sees the coarse result pasted into the hole of the masked image.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from facefill.errors import WeightsError
from facefill.models.contextual_attention import ContextualAttention
from facefill.models.deepfillv2_blocks import GatedConv2d, GatedDownBlock, GatedUpBlock, GatedUpConv2d
from facefill.models.registry import load_strict, register

FLAVOURS = ("pt", "tf")
PT_MARKER_KEY = "stage1.conv1.conv.weight"
TF_MARKER_KEY = "conv1.conv.weight"
FUSE_WEIGHT_KEY = "stage2.contextual_attention.fuse_weight"


def _run(layers: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    for layer in layers:
        x = layer(x)
    return x


class _TwoStageForward(nn.Module):
    """Shared coarse-to-fine forward; subclasses say which layers form each part."""

    def coarse_layers(self) -> list[nn.Module]:
        raise NotImplementedError

    def conv_branch_layers(self) -> list[nn.Module]:
        raise NotImplementedError

    def attention_layers(self) -> tuple[list[nn.Module], ContextualAttention, list[nn.Module]]:
        raise NotImplementedError

    def merge_layers(self) -> list[nn.Module]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stage1 = torch.tanh(_run(self.coarse_layers(), x))
        xnow = stage1 * mask + x[:, 0:3] * (1.0 - mask)
        hallucinated = _run(self.conv_branch_layers(), xnow)
        before, attention, after = self.attention_layers()
        attended = _run(before, xnow)
        attended = _run(after, attention(attended, attended, mask))
        merged = torch.cat([hallucinated, attended], dim=1)
        stage2 = torch.tanh(_run(self.merge_layers(), merged))
        return stage1, stage2


# ---------------------------------------------------------------------------------------------
# "pt" flavour: networks.py names


class CoarseNet(nn.Module):
    """Stage 1 of the `networks.py` flavour (module names as in the checkpoint)."""

    def __init__(self, cnum_in: int, cnum: int) -> None:
        super().__init__()
        c = cnum
        self.conv1 = GatedConv2d(cnum_in, c // 2, 5)
        self.down_block1 = GatedDownBlock(c // 2, c)
        self.down_block2 = GatedDownBlock(c, 2 * c)
        self.conv_bn1 = GatedConv2d(2 * c, 2 * c, 3)
        self.conv_bn2 = GatedConv2d(2 * c, 2 * c, 3, dilation=2)
        self.conv_bn3 = GatedConv2d(2 * c, 2 * c, 3, dilation=4)
        self.conv_bn4 = GatedConv2d(2 * c, 2 * c, 3, dilation=8)
        self.conv_bn5 = GatedConv2d(2 * c, 2 * c, 3, dilation=16)
        self.conv_bn6 = GatedConv2d(2 * c, 2 * c, 3)
        self.conv_bn7 = GatedConv2d(2 * c, 2 * c, 3)
        self.up_block1 = GatedUpBlock(2 * c, c)
        self.up_block2 = GatedUpBlock(c, c // 4, hidden=c // 2)
        self.conv_to_rgb = GatedConv2d(c // 4, 3, 3, activation=None)

    def layers(self) -> list[nn.Module]:
        return list(self.children())


class RefineNet(nn.Module):
    """Stage 2 of the `networks.py` flavour: conv branch, attention branch, merge."""

    def __init__(self, cnum: int) -> None:
        super().__init__()
        c = cnum
        self.conv_conv1 = GatedConv2d(3, c // 2, 5)
        self.conv_down_block1 = GatedDownBlock(c // 2, c, hidden=c // 2)
        self.conv_down_block2 = GatedDownBlock(c, 2 * c, hidden=c)
        self.conv_conv_bn1 = GatedConv2d(2 * c, 2 * c, 3)
        self.conv_conv_bn2 = GatedConv2d(2 * c, 2 * c, 3, dilation=2)
        self.conv_conv_bn3 = GatedConv2d(2 * c, 2 * c, 3, dilation=4)
        self.conv_conv_bn4 = GatedConv2d(2 * c, 2 * c, 3, dilation=8)
        self.conv_conv_bn5 = GatedConv2d(2 * c, 2 * c, 3, dilation=16)

        self.ca_conv1 = GatedConv2d(3, c // 2, 5)
        self.ca_down_block1 = GatedDownBlock(c // 2, c, hidden=c // 2)
        self.ca_down_block2 = GatedDownBlock(c, 2 * c)
        self.ca_conv_bn1 = GatedConv2d(2 * c, 2 * c, 3, activation="relu")
        self.contextual_attention = ContextualAttention(rate=2, fuse=True, tf_same=False, fuse_buffer=True)
        self.ca_conv_bn4 = GatedConv2d(2 * c, 2 * c, 3)
        self.ca_conv_bn5 = GatedConv2d(2 * c, 2 * c, 3)

        self.conv_bn6 = GatedConv2d(4 * c, 2 * c, 3)
        self.conv_bn7 = GatedConv2d(2 * c, 2 * c, 3)
        self.up_block1 = GatedUpBlock(2 * c, c)
        self.up_block2 = GatedUpBlock(c, c // 4, hidden=c // 2)
        self.conv_to_rgb = GatedConv2d(c // 4, 3, 3, activation=None)


class DeepFillV2PT(_TwoStageForward):
    """DeepFillv2 generator, nipponjo `networks.py` flavour (fine-tuned `states_pt_*` files)."""

    flavour = "pt"
    # Keys a checkpoint may lack (the published fine-tuned files predate this buffer).
    optional_state_keys: tuple[str, ...] = (FUSE_WEIGHT_KEY,)

    def __init__(self, cnum_in: int = 5, cnum: int = 48) -> None:
        super().__init__()
        self.stage1 = CoarseNet(cnum_in, cnum)
        self.stage2 = RefineNet(cnum)

    def coarse_layers(self) -> list[nn.Module]:
        return self.stage1.layers()

    def conv_branch_layers(self) -> list[nn.Module]:
        s = self.stage2
        return [s.conv_conv1, s.conv_down_block1, s.conv_down_block2, s.conv_conv_bn1, s.conv_conv_bn2,
                s.conv_conv_bn3, s.conv_conv_bn4, s.conv_conv_bn5]  # fmt: skip

    def attention_layers(self) -> tuple[list[nn.Module], ContextualAttention, list[nn.Module]]:
        s = self.stage2
        before = [s.ca_conv1, s.ca_down_block1, s.ca_down_block2, s.ca_conv_bn1]
        return before, s.contextual_attention, [s.ca_conv_bn4, s.ca_conv_bn5]

    def merge_layers(self) -> list[nn.Module]:
        s = self.stage2
        return [s.conv_bn6, s.conv_bn7, s.up_block1, s.up_block2, s.conv_to_rgb]


# ---------------------------------------------------------------------------------------------
# "tf" flavour: networks_tf.py names, TF "SAME" padding


class DeepFillV2TF(_TwoStageForward):
    """DeepFillv2 generator, nipponjo `networks_tf.py` flavour (converted official TF weights)."""

    flavour = "tf"

    def __init__(self, cnum_in: int = 5, cnum: int = 48) -> None:
        super().__init__()
        c = cnum

        def g(cin: int, cout: int, k: int = 3, **kw: Any) -> GatedConv2d:
            return GatedConv2d(cin, cout, k, tf_same=True, **kw)

        def up(cin: int, cout: int) -> GatedUpConv2d:
            return GatedUpConv2d(cin, cout, tf_same=True)

        # stage 1
        self.conv1 = g(cnum_in, c // 2, 5)
        self.conv2_downsample = g(c // 2, c, stride=2)
        self.conv3 = g(c, c)
        self.conv4_downsample = g(c, 2 * c, stride=2)
        self.conv5 = g(2 * c, 2 * c)
        self.conv6 = g(2 * c, 2 * c)
        self.conv7_atrous = g(2 * c, 2 * c, dilation=2)
        self.conv8_atrous = g(2 * c, 2 * c, dilation=4)
        self.conv9_atrous = g(2 * c, 2 * c, dilation=8)
        self.conv10_atrous = g(2 * c, 2 * c, dilation=16)
        self.conv11 = g(2 * c, 2 * c)
        self.conv12 = g(2 * c, 2 * c)
        self.conv13_upsample = up(2 * c, c)
        self.conv14 = g(c, c)
        self.conv15_upsample = up(c, c // 2)
        self.conv16 = g(c // 2, c // 4)
        self.conv17 = g(c // 4, 3, activation=None)
        # stage 2, conv branch
        self.xconv1 = g(3, c // 2, 5)
        self.xconv2_downsample = g(c // 2, c // 2, stride=2)
        self.xconv3 = g(c // 2, c)
        self.xconv4_downsample = g(c, c, stride=2)
        self.xconv5 = g(c, 2 * c)
        self.xconv6 = g(2 * c, 2 * c)
        self.xconv7_atrous = g(2 * c, 2 * c, dilation=2)
        self.xconv8_atrous = g(2 * c, 2 * c, dilation=4)
        self.xconv9_atrous = g(2 * c, 2 * c, dilation=8)
        self.xconv10_atrous = g(2 * c, 2 * c, dilation=16)
        # stage 2, attention branch
        self.pmconv1 = g(3, c // 2, 5)
        self.pmconv2_downsample = g(c // 2, c // 2, stride=2)
        self.pmconv3 = g(c // 2, c)
        self.pmconv4_downsample = g(c, 2 * c, stride=2)
        self.pmconv5 = g(2 * c, 2 * c)
        self.pmconv6 = g(2 * c, 2 * c, activation="relu")
        self.contextual_attention = ContextualAttention(rate=2, fuse=False, tf_same=True, fuse_buffer=False)
        self.pmconv9 = g(2 * c, 2 * c)
        self.pmconv10 = g(2 * c, 2 * c)
        # merge
        self.allconv11 = g(4 * c, 2 * c)
        self.allconv12 = g(2 * c, 2 * c)
        self.allconv13_upsample = up(2 * c, c)
        self.allconv14 = g(c, c)
        self.allconv15_upsample = up(c, c // 2)
        self.allconv16 = g(c // 2, c // 4)
        self.allconv17 = g(c // 4, 3, activation=None)

    def _named(self, *names: str) -> list[nn.Module]:
        return [getattr(self, name) for name in names]

    def coarse_layers(self) -> list[nn.Module]:
        return self._named(
            "conv1", "conv2_downsample", "conv3", "conv4_downsample", "conv5", "conv6", "conv7_atrous",
            "conv8_atrous", "conv9_atrous", "conv10_atrous", "conv11", "conv12", "conv13_upsample",
            "conv14", "conv15_upsample", "conv16", "conv17",
        )  # fmt: skip

    def conv_branch_layers(self) -> list[nn.Module]:
        return self._named(
            "xconv1", "xconv2_downsample", "xconv3", "xconv4_downsample", "xconv5", "xconv6",
            "xconv7_atrous", "xconv8_atrous", "xconv9_atrous", "xconv10_atrous",
        )  # fmt: skip

    def attention_layers(self) -> tuple[list[nn.Module], ContextualAttention, list[nn.Module]]:
        before = self._named(
            "pmconv1", "pmconv2_downsample", "pmconv3", "pmconv4_downsample", "pmconv5", "pmconv6"
        )
        return before, self.contextual_attention, self._named("pmconv9", "pmconv10")

    def merge_layers(self) -> list[nn.Module]:
        return self._named(
            "allconv11", "allconv12", "allconv13_upsample", "allconv14", "allconv15_upsample",
            "allconv16", "allconv17",
        )  # fmt: skip


@register("deepfillv2", cnum_in=5, cnum=48)  # the name weights.toml uses for the fine-tuned files
@register("deepfillv2-pt", cnum_in=5, cnum=48)
def build_deepfillv2_pt(cnum_in: int = 5, cnum: int = 48) -> DeepFillV2PT:
    return DeepFillV2PT(cnum_in, cnum).eval()


@register("deepfillv2-tf", cnum_in=5, cnum=48)
def build_deepfillv2_tf(cnum_in: int = 5, cnum: int = 48) -> DeepFillV2TF:
    return DeepFillV2TF(cnum_in, cnum).eval()


# ---------------------------------------------------------------------------------------------
# Checkpoint handling


def generator_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The generator weights inside a nipponjo file: its `'G'` entry, else the dict itself.

    A leading `module.` (DataParallel) is stripped so that re-saved training files load too.
    """
    state = checkpoint["G"] if isinstance(checkpoint.get("G"), Mapping) else checkpoint
    return {key.removeprefix("module."): value for key, value in state.items()}


def detect_flavour(state_dict: Mapping[str, Any]) -> str:
    """'pt' for `networks.py` keys, 'tf' for `networks_tf.py` keys (upstream's own rule)."""
    if PT_MARKER_KEY in state_dict:
        return "pt"
    if TF_MARKER_KEY in state_dict:
        return "tf"
    sample = ", ".join(list(state_dict)[:3]) or "no keys"
    raise WeightsError(
        f"not a DeepFillv2 generator checkpoint (expected {PT_MARKER_KEY!r} or {TF_MARKER_KEY!r}, "
        f"found {sample}); use a nipponjo/deepfillv2-pytorch states_*.pth file"
    )


def build_generator(flavour: str, cnum_in: int = 5, cnum: int = 48) -> DeepFillV2PT | DeepFillV2TF:
    """Random-init generator of the given flavour ('pt' or 'tf')."""
    if flavour == "pt":
        return build_deepfillv2_pt(cnum_in, cnum)
    if flavour == "tf":
        return build_deepfillv2_tf(cnum_in, cnum)
    raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")


def load_generator(checkpoint: Mapping[str, Any], what: str = "checkpoint") -> DeepFillV2PT | DeepFillV2TF:
    """Build the matching flavour and load a nipponjo checkpoint (whole file dict or bare `'G'`) strictly."""
    state = generator_state_dict(checkpoint)
    flavour = detect_flavour(state)
    model = build_generator(flavour)
    if flavour == "pt":
        # Optional buffer: absent from the published fine-tuned files; its value is always eye(3).
        state[FUSE_WEIGHT_KEY] = torch.eye(3).view(1, 1, 3, 3)
    load_strict(model, state, what)
    return model.eval()
