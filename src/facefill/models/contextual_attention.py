"""Contextual attention (Yu et al. 2018) as used by the DeepFillv2 refinement network.

Every foreground location is compared (cosine-style: background patches are L2-normalised,
foreground ones are not) with every 3×3 background patch at half resolution; background patches
that touch the hole are excluded; a scaled softmax over patches gives weights that paste the
matching 4×4 full-resolution background patches back with a transposed convolution (stride 2,
each output pixel covered by four patches, hence the division by 4).

Two published variants differ only in resampling/padding details, selected with `tf_same`:
  * "pt" (nipponjo `networks.py`): nearest downsampling takes every n-th pixel, symmetric padding,
    and score fusion (`fuse=True`) with a persistent 3×3 identity buffer `fuse_weight`.
  * "tf" (`networks_tf.py`): TF align_corners nearest downsampling, TF "SAME" padding, no fusion.
Masks are evaluated per sample (the reference uses the first sample's mask for the whole batch;
the two agree whenever N = 1 or all masks in the batch are equal).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facefill.models.deepfillv2_blocks import pt_nearest_downsample, tf_nearest_downsample, tf_same_pad


class ContextualAttention(nn.Module):
    """Fill the hole of `f` with softmax-weighted background patches of `b`."""

    def __init__(
        self,
        ksize: int = 3,
        stride: int = 1,
        rate: int = 2,
        fuse_k: int = 3,
        softmax_scale: float = 10.0,
        fuse: bool = True,
        n_down: int = 2,
        tf_same: bool = False,
        fuse_buffer: bool = True,
    ) -> None:
        super().__init__()
        self.ksize, self.stride, self.rate = ksize, stride, rate
        self.fuse_k, self.softmax_scale, self.fuse = fuse_k, softmax_scale, fuse
        self.n_down = n_down
        self.tf_same = tf_same
        self.has_fuse_buffer = fuse_buffer
        if fuse_buffer:
            self.register_buffer("fuse_weight", torch.eye(fuse_k).view(1, 1, fuse_k, fuse_k))

    # The published fine-tuned checkpoints predate the buffer, and its value is always the identity:
    # accept a state dict with or without it and never trust a stored value (the fusion below is
    # written as shifted adds, which is what convolving with that identity kernel amounts to).
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        if self.has_fuse_buffer:
            state_dict[prefix + "fuse_weight"] = torch.eye(self.fuse_k).view(1, 1, self.fuse_k, self.fuse_k)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)

    def _downsample(self, x: torch.Tensor, factor: int) -> torch.Tensor:
        return tf_nearest_downsample(x, factor) if self.tf_same else pt_nearest_downsample(x, factor)

    def _patches(self, x: torch.Tensor, ksize: int, stride: int) -> torch.Tensor:
        """Sliding ksize×ksize patches of x as N×L×C×k×k (row-major patch order)."""
        n, c = x.shape[:2]
        if self.tf_same:
            cols = F.unfold(tf_same_pad(x, ksize, stride), ksize, stride=stride)
        else:
            cols = F.unfold(x, ksize, padding=(ksize - 1) // 2, stride=stride)
        return cols.view(n, c, ksize, ksize, -1).permute(0, 4, 1, 2, 3)

    def _diagonal_sum(self, matrix: torch.Tensor) -> torch.Tensor:
        """matrix[a, c] summed with its diagonal neighbours matrix[a±d, c±d], d < fuse_k/2 (zeros outside).

        Equal to convolving the matrix with an fuse_k×fuse_k identity kernel (what the reference does
        with `fuse_weight`), computed as shifted adds instead of a 1-channel convolution.
        """
        out = matrix.clone()
        for d in range(1, self.fuse_k // 2 + 1):
            out[d:, d:] += matrix[:-d, :-d]
            out[:-d, :-d] += matrix[d:, d:]
        return out

    def _fuse_scores(
        self, scores: torch.Tensor, bg_hw: tuple[int, int], fg_hw: tuple[int, int]
    ) -> torch.Tensor:
        """Encourage coherent matches: add scores of diagonal neighbours in the (bg, fg) score matrix,
        once with both axes flattened row-major, once column-major."""
        (hb, wb), (hf, wf) = bg_hw, fg_hw
        y = self._diagonal_sum(scores.reshape(hb * wb, hf * wf))
        y = y.reshape(hb, wb, hf, wf).permute(1, 0, 3, 2).reshape(wb * hb, wf * hf)
        y = self._diagonal_sum(y)
        y = y.reshape(wb, hb, wf, hf).permute(1, 0, 3, 2)
        return y.reshape(1, hb * wb, hf, wf)

    def _paste(self, attention: torch.Tensor, raw_patches: torch.Tensor) -> torch.Tensor:
        """Transposed convolution of the attention map (1×L×h×w) with the raw patches (L×C×k×k) as
        kernels, stride `rate`, padding 1; written as one matmul + fold (col2im), which is the same
        sum and about five times faster on CPU than conv_transpose2d with L input channels."""
        count, channels, k, _ = raw_patches.shape
        h, w = attention.shape[-2:]
        cols = raw_patches.reshape(count, channels * k * k).t() @ attention.reshape(count, h * w)
        size = ((h - 1) * self.rate - 2 + k, (w - 1) * self.rate - 2 + k)
        return F.fold(cols.unsqueeze(0), size, kernel_size=k, stride=self.rate, padding=1)

    def forward(self, f: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """f, b: N×C×H×W features (H, W even); mask: N×1×(H·2^n_down)×(W·2^n_down), 1 = hole."""
        out_shape = f.shape
        raw_k = 2 * self.rate
        raw_patches = self._patches(b, raw_k, self.rate * self.stride)  # N×L×C×4×4 at full res

        f_small = self._downsample(f, self.rate)
        b_small = self._downsample(b, self.rate)
        hf, wf = f_small.shape[-2:]
        hb, wb = b_small.shape[-2:]
        bg_patches = self._patches(b_small, self.ksize, self.stride)  # N×L×C×3×3

        if mask is None:
            mask_small = torch.zeros(b.shape[0], 1, hb, wb, dtype=b.dtype, device=b.device)
        else:
            mask_small = self._downsample(mask.to(b.dtype), (2**self.n_down) * self.rate)
        # A background patch is usable only when no pixel of it lies in the hole.
        mask_patches = self._patches(mask_small, self.ksize, self.stride)
        usable = (mask_patches.mean(dim=(2, 3, 4)) == 0).to(b.dtype)  # N×L

        outputs = []
        for i in range(f.shape[0]):
            patches = bg_patches[i]
            norms = patches.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-4)
            fg = f_small[i : i + 1]
            if self.tf_same:
                scores = F.conv2d(tf_same_pad(fg, self.ksize), patches / norms)
            else:
                scores = F.conv2d(fg, patches / norms, padding=(self.ksize - 1) // 2)
            if self.fuse:
                scores = self._fuse_scores(scores, (hb, wb), (hf, wf))
            scores = scores.reshape(1, hb * wb, hf, wf)
            keep = usable[i].view(1, -1, 1, 1)
            attention = F.softmax(scores * keep * self.softmax_scale, dim=1) * keep
            # The sharp softmax leaves many subnormal weights; they cannot change the result but make
            # the paste matmul ~4x slower on x86 CPUs. Flush them as FTZ hardware would.
            attention = attention.masked_fill(attention < torch.finfo(attention.dtype).tiny, 0.0)
            outputs.append(self._paste(attention, raw_patches[i]) / 4.0)
        return torch.cat(outputs, dim=0).reshape(out_shape)
