"""The facefill-lite recipe: a residual U-Net over a Telea fill, hole L1 + (1 - SSIM) + a weak hinge GAN.

Data: faces from `--data` (framed and cached once), holes from `--masks`; each sample carries its
Telea fill (`filled`), which is what the generator sees: it learns a correction of the classical fill.
Loss terms: `l1` (hole L1), `ssim` (1 - SSIM of the composite), `adv` (hinge, after `adv_start`).
The export is `ema_generator.safetensors` with `widths`/`dilations` in its metadata, which
`facefill inpaint --weights facefill-lite=PATH` loads.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from facefill.errors import UsageError
from facefill.models.facefill_lite import FacefillLite
from facefill.models.lite_discriminator import LitePatchDiscriminator
from facefill.training.dataset import (
    InpaintBatches,
    build_face_cache,
    default_cache_dir,
    list_images,
    mask_source,
)
from facefill.training.export import export_generator
from facefill.training.losses import hole_l1, ssim
from facefill.training.recipe import DataSpec, Prediction, Recipe


class LiteRecipe(Recipe):
    name = "facefill-lite"
    lr = 5e-4
    lr_d = 2e-4
    betas_g = (0.9, 0.99)
    betas_d = (0.5, 0.999)

    def __init__(
        self,
        widths: tuple[int, ...] = (16, 32, 64, 128, 128),
        dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4),
        w_l1: float = 1.0,
        w_ssim: float = 0.5,
        w_adv: float = 0.001,
    ) -> None:
        self.widths, self.dilations = tuple(widths), tuple(dilations)
        self.loss_weights = {"l1": float(w_l1), "ssim": float(w_ssim), "adv": float(w_adv)}

    def options(self) -> dict:
        return {**super().options(), "widths": list(self.widths), "dilations": list(self.dilations)}

    def build_generator(self) -> nn.Module:
        return FacefillLite(self.widths, self.dilations)

    def build_discriminator(self) -> nn.Module:
        return LitePatchDiscriminator()

    def build_batches(self, data: DataSpec, rank: int) -> InpaintBatches:
        if data.crop is not None and data.crop > data.size:
            raise UsageError(f"--crop {data.crop} is larger than --size {data.size}; use a crop <= size")
        cache_dir = data.cache_dir or default_cache_dir()
        faces = build_face_cache(list_images(data.data, data.split), cache_dir, data.size)
        masks = mask_source(data.masks, data.size, cache_dir)
        crop = data.crop if data.crop and data.crop < data.size else None
        return InpaintBatches(
            faces, masks, data.batch_size, crop=crop, seed=data.seed, rank=rank, flip=data.flip
        )

    def predict(self, generator: nn.Module, batch: dict[str, torch.Tensor]) -> Prediction:
        image, mask = batch["image"], batch["mask"]
        out = generator(batch["filled"], mask)
        return Prediction(composite=out * mask + image * (1 - mask), target=image, mask=mask, output=out)

    def generator_step(
        self, generator: nn.Module, batch: dict[str, torch.Tensor]
    ) -> tuple[Prediction, dict[str, torch.Tensor]]:
        pred = self.predict(generator, batch)
        terms = {
            "l1": hole_l1(pred.composite, pred.target, pred.mask),
            "ssim": 1 - ssim(pred.composite, pred.target),
        }
        return pred, terms

    def critic_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return (batch["mask"],)

    def export(self, generator: nn.Module, path: Path, step: int) -> Path:
        config = {"widths": list(self.widths), "dilations": list(self.dilations)}
        return export_generator(generator, path, step=step, arch=self.name, config=config)
