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

A local critic for CPU-sized runs (`--option w_fm=… w_local=…`, both 0 = off, the original): the
global critic above sees a small mouth hole as a few pixels of a whole face and learns slowly, and
the ResNet-18 / ArcFace terms that carry structure in the original have no offline weights. The
local critic is facefill-lite's spectral-norm patch critic, given the mask and the class code as
planes; it learns real-with-its-class vs the fake composite with y_ref and vs the real face with
the wrong class (a matching-aware critic), so it scores whether the hole shows the class asked for.
Generator: w_local · BCE(local(fake_c, y_ref), real) and w_fm · feature matching of the
reconstruction composite against the real face on the local critic's activations (with y).

Continuing across sessions (`--option init=sacgan`, or init=<an export>): the generator and its EMA
start from that export (the shipped `sacgan` is the checkpoint that outlasts a machine), its
architecture and classes are taken from the file, and exports count its steps on top of this run's;
the critic and Adam moments start fresh. Within one machine, `--resume` continues exactly.

The shipped `sacgan` (model card: facefill/assets/README.md) is stage 1 (2,700 steps, the original
losses) continued by stage 2, run as (data from `python -m facefill.training.prepare_sacgan`):

    facefill train --recipe sacgan --data .cache/sacgan_lfw128 --size 128 --batch-size 6 \
      --option init=sacgan --option region_share=0.9 \
      --option 'regions=["mouth","mouth","mouth","lower_face"]' --option w_pixel=300 \
      --option w_sty=0 --option w_fm=100 --option w_local=1 --lr 2e-4 --lr-d 2e-4 --adv-start 0 \
      --val-data .cache/sacgan_lfw128 --val-split test --threads 2 --out runs/sacgan_ft
    # from step 257 on: the same with --option w_local=3 --lr 5e-4 --resume
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facefill.errors import UsageError
from facefill.faces.regions import LANDMARK_REGIONS
from facefill.models.lite_discriminator import LitePatchDiscriminator
from facefill.models.sacgan import SACGANGenerator
from facefill.models.sacgan_discriminator import SACGANDiscriminator
from facefill.training.dataset import build_face_cache, default_cache_dir, list_labelled_images, mask_source
from facefill.training.export import export_generator
from facefill.training.losses import bce_adversarial, feature_matching, pyramid_l1, r1_penalty
from facefill.training.recipe import DataSpec, Prediction, Recipe, unwrap
from facefill.training.recipes.lite_v2 import CriticFeatures
from facefill.training.recipes.sacgan_critics import SACGANCritics, he_init, judge
from facefill.training.recipes.sacgan_data import REGIONS, LabelledFaceBatches


def _signed(x: torch.Tensor) -> torch.Tensor:
    return x * 2 - 1


RELEASED = {"img_size": 128, "style_dim": 128, "max_conv_dim": 512, "base_dim": None}  # §2.2


def read_export(init: str) -> tuple[dict[str, Any], int, dict[str, torch.Tensor]]:
    """(architecture config, training step, state dict) of a SAC-GAN export: `sacgan` is the shipped one."""
    from facefill.pipelines.pretrained import load_pretrained
    from facefill.runtime.context import RunContext
    from facefill.weights import resolve
    from facefill.weights.safe_load import safetensors_metadata

    context = RunContext(device="cpu", offline=True, weights={} if init == "sacgan" else {"sacgan": init})
    net = load_pretrained("sacgan", context)
    meta = safetensors_metadata(resolve("sacgan", context))
    config = {k: json.loads(meta[k]) if k in meta else RELEASED[k] for k in RELEASED}
    config["domains"] = list(net.domains)
    return config, int(meta.get("step", 0)), net.state_dict()


class SACGANRecipe(Recipe):
    name = "sacgan"
    lr = 1e-4
    lr_d = 1e-4
    betas_g = (0.0, 0.99)
    betas_d = (0.0, 0.99)

    def __init__(
        self,
        img_size: int | None = None,
        style_dim: int | None = None,
        max_conv_dim: int | None = None,
        base_dim: int | None = None,
        domains: tuple[str, ...] | None = None,
        w_pixel: float = 100.0,
        w_sty: float = 2.0,
        w_per: float = 2.0,
        w_adv: float = 1.0,
        w_adv_attr: float = 5.0,
        w_adv_inpaint: float = 1.0,
        w_r1: float = 1.0,
        init: str | None = None,
        region_share: float = 0.5,
        regions: tuple[str, ...] = REGIONS,
        w_fm: float = 0.0,
        w_local: float = 0.0,
    ) -> None:
        """Architecture options left out are the released config (§2.2), or init's."""
        given = {"img_size": img_size, "style_dim": style_dim, "max_conv_dim": max_conv_dim,
                 "base_dim": base_dim, "domains": list(domains) if domains else None}  # fmt: skip
        self.init, self.init_step, self._init_state = init, 0, None
        if init is None:
            self.config: dict[str, Any] = {k: RELEASED.get(k) if v is None else v for k, v in given.items()}
        else:
            self.config, self.init_step, self._init_state = read_export(init)
            clash = next((k for k, v in given.items() if v is not None and v != self.config[k]), None)
            if clash is not None:
                raise UsageError(
                    f"--option init={init}: its {clash} is {self.config[clash]}, not {given[clash]}; "
                    f"leave {clash} out (init brings its own architecture)"
                )
        self.loss_weights = {"pixel": w_pixel, "sty": w_sty, "per": w_per, "adv": w_adv, "fm": w_fm}
        self.local_weight = float(w_local)
        self._features: CriticFeatures | None = None  # the local critic's activations, when it is on
        self.adv_split = {"attr": w_adv_attr, "inpaint": w_adv_inpaint, "r1": w_r1}
        unknown = sorted(set(regions) - set(LANDMARK_REGIONS))
        if unknown or not 0 <= region_share <= 1:
            raise UsageError(
                f"--option regions/region_share: regions are {', '.join(LANDMARK_REGIONS)} "
                f"(got {', '.join(unknown) or 'those'}), region_share a share in 0..1 (got {region_share})"
            )
        self.holes = {"region_share": float(region_share), "regions": tuple(regions)}
        self._perceptual: nn.Module | None = None

    def options(self) -> dict:
        return {**super().options(), "config": self.config, "adv_split": self.adv_split,
                "init": self.init, "init_step": self.init_step, "holes": self.holes,
                "local_weight": self.local_weight}  # fmt: skip

    # -- models --------------------------------------------------------------------------------
    def build_generator(self) -> nn.Module:
        config = {k: v for k, v in self.config.items() if v is not None}
        generator = SACGANGenerator(**config)
        if self._init_state is None:
            return he_init(generator)
        generator.load_state_dict(self._init_state)
        return generator

    def build_discriminator(self) -> nn.Module:
        classes = len(self.config["domains"] or ()) or 2
        size, widest, base = self.config["img_size"], self.config["max_conv_dim"], self.config["base_dim"]
        main = he_init(SACGANDiscriminator(size, classes, widest, base))
        if not (self.loss_weights["fm"] or self.local_weight):
            return main
        if not self.loss_weights["adv"]:  # the weights are final here (after --w-adv)
            raise UsageError(
                "--option w_fm / w_local: the local critic learns only in the adversarial step; "
                "keep --w-adv above 0 or leave both options out"
            )
        critics = SACGANCritics(main, LitePatchDiscriminator(classes=classes))
        self._features = CriticFeatures(critics.local)  # the trainer moves this same module
        return critics

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
            faces, labels, landmarks, masks, data.batch_size, seed=data.seed, rank=rank, flip=data.flip,
            **self.holes,
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
        net = unwrap(generator)
        x, m, y, y_ref = _signed(batch["image"]), batch["mask"], batch["label"], batch["label_ref"]
        features, skips = net.encode(x, m)
        rec = net.decode(features, skips, net.spatial_mapper(features, y))
        fake = net.decode(features, skips, net.spatial_mapper(features, y_ref))
        rec_c, fake_c = rec * m + x * (1 - m), fake * m + x * (1 - m)
        terms = {"pixel": (rec_c - x).abs().mean()}
        if self.loss_weights.get("sty"):  # four more encoder passes: skipped when weighted 0
            no_hole = torch.zeros_like(m)
            terms["sty"] = pyramid_l1(net.styles(x, no_hole, y), net.styles(rec_c, no_hole, y)) + pyramid_l1(
                net.styles(_signed(batch["exemplar"]), no_hole, y_ref), net.styles(fake_c, no_hole, y_ref)
            )
        if self.loss_weights["fm"] and self._features is not None:
            self._features.critic.requires_grad_(False)  # the trainer re-enables it for its D step
            code = F.one_hot(y.long(), net.num_domains).to(x.dtype)
            with torch.no_grad():
                real = self._features(batch["image"], m, code)
            terms["fm"] = feature_matching(real, self._features((rec_c + 1) / 2, m, code))
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
        y_ref, m = batch["label_ref"], batch["mask"]
        raw, _ = judge(critic, _signed(pred.output), y_ref, m, local=False)
        comp, local = judge(critic, _signed(pred.composite), y_ref, m)
        loss = self.adv_split["attr"] * bce_adversarial(raw, real=True)
        loss = loss + self.adv_split["inpaint"] * bce_adversarial(comp, real=True)
        if local is not None and self.local_weight:
            loss = loss + self.local_weight * bce_adversarial(local, real=True)
        return loss

    def critic_loss(
        self, critic: nn.Module, pred: Prediction, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        m, y, y_ref = batch["mask"], batch["label"], batch["label_ref"]
        real = _signed(pred.target).detach().requires_grad_(True)
        real_logits, real_local = judge(critic, real, y, m)
        real_term = bce_adversarial(real_logits, real=True)
        raw, _ = judge(critic, _signed(pred.output.detach()), y_ref, m, local=False)
        comp, comp_local = judge(critic, _signed(pred.composite.detach()), y_ref, m)
        split = self.adv_split
        loss = (
            split["attr"] * (real_term + bce_adversarial(raw, real=False))
            + split["inpaint"] * (real_term + bce_adversarial(comp, real=False))
            + split["r1"] * r1_penalty(real_logits, real)
        )
        if real_local is None or comp_local is None:
            return loss
        wrong = (y + 1) % unwrap(critic).local.classes  # the real face with another class: not real
        _, wrong_local = judge(critic, real.detach(), wrong, m)
        return loss + (
            bce_adversarial(real_local, real=True)
            + 0.5 * bce_adversarial(comp_local, real=False)
            + 0.5 * bce_adversarial(wrong_local, real=False)
        )

    # -- export --------------------------------------------------------------------------------
    def export(self, generator: nn.Module, path: Path, step: int) -> Path:
        config = {k: v for k, v in self.config.items() if v is not None}
        total = self.init_step + step  # an init's steps count too
        return export_generator(generator, path, step=total, arch="sacgan-generator", config=config)


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
