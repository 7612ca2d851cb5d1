"""The SAC-GAN recipe (specs/inpaint.md §2.3–2.4): encoder + mapper + decoder against a multi-task D.

Per step: source x (label y), hole m, target label y_ref and an exemplar x_ref of class y_ref.
rec = G(x·(1−m), y), fake = G(x·(1−m), y_ref); composites rec_c / fake_c keep x outside the hole.
Generator terms (weights = config defaults of the original):
- `pixel` ×100: mean |rec_c − x| (an L1 on the hole, scaled by the hole ratio);
- `sty` ×2: style pyramids of enc(x, 0)+y vs enc(rec_c, 0)+y, and of enc(x_ref, 0)+y_ref vs
  enc(fake_c, 0)+y_ref (mean over the 5 maps of mean |Δ|; both sides keep gradients);
- `per` ×2: mean |ResNet-18(x) − ResNet-18(fake_c)| on the 1000 logits, when the ImageNet weights
  (`resnet18-imagenet`) can be loaded; otherwise the term is left out (printed once);
- `adv` ×1 over: 5 · BCE(D(fake, y_ref), real) + 1 · BCE(D(fake_c, y_ref), real).
D: 5 · [BCE(D(x, y), 1) + BCE(D(fake, y_ref), 0)] + 1 · [BCE(D(x, y), 1) + BCE(D(fake_c, y_ref), 0)]
+ 1 · R1 on real images. Adam lr 1e-4, betas (0, 0.99) for both (the original's weight decay 1e-4
is not applied: the shared loop's Adam has none). The identity term (CASIA ArcFace, ×1) is not
implemented: its weights have no download source; the original's He re-init of that net meant
the term ran on random features anyway (§2.4).
Images are [0,1] in batches and Predictions and [-1,1] inside the networks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from facefill.models.sacgan import SACGANGenerator
from facefill.models.sacgan_discriminator import SACGANDiscriminator
from facefill.training.dataset import build_face_cache, default_cache_dir, list_labelled_images, mask_source
from facefill.training.export import export_generator
from facefill.training.losses import bce_adversarial, pyramid_l1, r1_penalty
from facefill.training.recipe import DataSpec, Prediction, Recipe
from facefill.training.recipes.sacgan_data import LabelledFaceBatches


def _signed(x: torch.Tensor) -> torch.Tensor:
    return x * 2 - 1


class SACGANRecipe(Recipe):
    name = "sacgan"
    lr = 1e-4
    lr_d = 1e-4
    betas_g = (0.0, 0.99)
    betas_d = (0.0, 0.99)

    def __init__(
        self,
        img_size: int = 128,
        style_dim: int = 128,
        max_conv_dim: int = 512,
        base_dim: int | None = None,
        domains: tuple[str, ...] | None = None,
        w_pixel: float = 100.0,
        w_sty: float = 2.0,
        w_per: float = 2.0,
        w_adv: float = 1.0,
        w_adv_attr: float = 5.0,
        w_adv_inpaint: float = 1.0,
        w_r1: float = 1.0,
    ) -> None:
        self.config: dict[str, Any] = {
            "img_size": img_size,
            "style_dim": style_dim,
            "max_conv_dim": max_conv_dim,
            "base_dim": base_dim,
            "domains": list(domains) if domains else None,
        }
        self.loss_weights = {"pixel": w_pixel, "sty": w_sty, "per": w_per, "adv": w_adv}
        self.adv_split = {"attr": w_adv_attr, "inpaint": w_adv_inpaint, "r1": w_r1}
        self._perceptual: nn.Module | None = None

    def options(self) -> dict:
        return {**super().options(), "config": self.config, "adv_split": self.adv_split}

    # -- models --------------------------------------------------------------------------------
    def build_generator(self) -> nn.Module:
        config = {k: v for k, v in self.config.items() if v is not None}
        return SACGANGenerator(**config)

    def build_discriminator(self) -> nn.Module:
        classes = len(self.config["domains"] or ()) or 2
        base = self.config["base_dim"]
        return SACGANDiscriminator(self.config["img_size"], classes, self.config["max_conv_dim"], base)

    def _perceptual_net(self, device: torch.device) -> nn.Module | None:
        if self._perceptual is None and self.loss_weights.get("per", 0) > 0:
            from facefill.errors import FacefillError
            from facefill.pipelines.pretrained import load_pretrained
            from facefill.runtime.context import RunContext

            try:
                net = load_pretrained("resnet18-imagenet", RunContext(device=str(device), offline=True))
                self._perceptual = net.eval().requires_grad_(False)
            except FacefillError as exc:
                print(f"sacgan recipe: no perceptual term ({str(exc).splitlines()[0]})", flush=True)
                self.loss_weights = {k: v for k, v in self.loss_weights.items() if k != "per"}
        return self._perceptual

    # -- data ----------------------------------------------------------------------------------
    def build_batches(self, data: DataSpec, rank: int) -> LabelledFaceBatches:
        pairs = list_labelled_images(data.data, data.split)
        classes = sorted({name for _, name in pairs})
        if self.config["domains"] is None:
            self.config["domains"] = classes
        elif list(self.config["domains"]) != classes:
            raise ValueError(f"--data {data.data}: classes {classes} differ from {self.config['domains']}")
        cache_dir = data.cache_dir or default_cache_dir()
        size = self.config["img_size"]
        faces = build_face_cache([p for p, _ in pairs], cache_dir, size)
        labels = np.asarray([classes.index(name) for _, name in pairs])
        landmarks = _landmarks(Path(data.data), [p for p, _ in pairs], size)
        masks = mask_source(data.masks, size, cache_dir)
        return LabelledFaceBatches(
            faces, labels, landmarks, masks, data.batch_size, seed=data.seed, rank=rank, flip=data.flip
        )

    # -- one step ------------------------------------------------------------------------------
    def predict(self, generator: nn.Module, batch: dict[str, torch.Tensor]) -> Prediction:
        """The fake for the target label y_ref: what the critic judges and the samples show."""
        image, mask = batch["image"], batch["mask"]
        raw = (generator(_signed(image), mask, batch["label_ref"]) + 1) / 2
        return Prediction(composite=raw * mask + image * (1 - mask), target=image, mask=mask, output=raw)

    def generator_step(
        self, generator: nn.Module, batch: dict[str, torch.Tensor]
    ) -> tuple[Prediction, dict[str, torch.Tensor]]:
        net = generator.module if isinstance(generator, nn.parallel.DistributedDataParallel) else generator
        x, m, y, y_ref = _signed(batch["image"]), batch["mask"], batch["label"], batch["label_ref"]
        features, skips = net.encode(x, m)
        rec = net.decode(features, skips, net.spatial_mapper(features, y))
        fake = net.decode(features, skips, net.spatial_mapper(features, y_ref))
        rec_c, fake_c = rec * m + x * (1 - m), fake * m + x * (1 - m)
        no_hole = torch.zeros_like(m)
        sty = pyramid_l1(net.styles(x, no_hole, y), net.styles(rec_c, no_hole, y)) + pyramid_l1(
            net.styles(_signed(batch["exemplar"]), no_hole, y_ref), net.styles(fake_c, no_hole, y_ref)
        )
        terms = {"pixel": (rec_c - x).abs().mean(), "sty": sty}
        perceptual = self._perceptual_net(x.device)
        if perceptual is not None:
            terms["per"] = (self._logits(perceptual, x) - self._logits(perceptual, fake_c)).abs().mean()
        pred = Prediction(composite=(fake_c + 1) / 2, target=batch["image"], mask=m, output=((fake + 1) / 2))
        return pred, terms

    @staticmethod
    def _logits(net: nn.Module, signed: torch.Tensor) -> torch.Tensor:
        """ResNet-18 logits of a [-1,1] image: back to [0,1], ImageNet mean/std (the original's input)."""
        mean = signed.new_tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
        std = signed.new_tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
        return net(((signed + 1) / 2 - mean) / std)

    def adversarial_loss(
        self, critic: nn.Module, pred: Prediction, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        y_ref = batch["label_ref"]
        raw_term = bce_adversarial(critic(_signed(pred.output), y_ref), real=True)
        comp_term = bce_adversarial(critic(_signed(pred.composite), y_ref), real=True)
        return self.adv_split["attr"] * raw_term + self.adv_split["inpaint"] * comp_term

    def critic_loss(
        self, critic: nn.Module, pred: Prediction, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        real = _signed(pred.target).detach().requires_grad_(True)
        real_logits = critic(real, batch["label"])
        real_term = bce_adversarial(real_logits, real=True)
        raw = critic(_signed(pred.output.detach()), batch["label_ref"])
        comp = critic(_signed(pred.composite.detach()), batch["label_ref"])
        split = self.adv_split
        return (
            split["attr"] * (real_term + bce_adversarial(raw, real=False))
            + split["inpaint"] * (real_term + bce_adversarial(comp, real=False))
            + split["r1"] * r1_penalty(real_logits, real)
        )

    # -- export --------------------------------------------------------------------------------
    def export(self, generator: nn.Module, path: Path, step: int) -> Path:
        config = {k: v for k, v in self.config.items() if v is not None}
        return export_generator(generator, path, step=step, arch="sacgan-generator", config=config)


def _landmarks(root: Path, paths: list[Path], size: int) -> list[np.ndarray | None]:
    """Crop-space landmarks per face from ROOT/landmarks.json (scaled to `size`), None where absent."""
    table_path = root / "landmarks.json"
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    summary_path = root / "summary.json"
    stored = json.loads(summary_path.read_text()).get("size", size) if summary_path.is_file() else size
    out: list[np.ndarray | None] = []
    for path in paths:
        points = table.get(path.relative_to(root).as_posix())
        out.append(None if points is None else np.asarray(points, np.float64) * (size / stored))
    return out
