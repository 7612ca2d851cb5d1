"""Model recipes: *what* `facefill train` trains, apart from *how* it trains (training/trainer.py).

The trainer owns the loop: seeding, EMA, DistributedDataParallel, Adam steps, the adversarial
schedule (`adv_start`), exact resume, checkpoints, CSV log and sample grids. A recipe owns everything
model-specific, so SAC-GAN or SPL train with the same loop as facefill-lite (training/recipes/lite.py,
the reference recipe). Subclass `Recipe`, add `"name": "module:Class"` to `RECIPES`, and provide:

- `name`; `loss_weights` {term: weight}: the generator loss is the weighted sum of the terms
  `generator_step` returns, plus `loss_weights["adv"]` × the adversarial term once a discriminator
  exists and `step >= adv_start`. `facefill train --w-NAME` overrides an entry (`--w-adv`, `--w-ssim`);
  a recipe with no such term refuses the option.
- optimiser settings: `lr`, `lr_d` (defaults for `--lr`/`--lr-d`), `betas_g`, `betas_d` (Adam).
- `build_generator()` / `build_discriminator()`: nn.Modules from models/ (registered architectures,
  random init; the trainer seeds torch first). `build_discriminator` may return None: no adversarial
  term and no discriminator updates.
- `build_batches(data, rank)`: the data (dataset + mask source): an object indexable by step whose
  batch is a pure function of (seed, step, rank) (this is what makes resume exact), returning a dict
  of numpy arrays plus `"step"`; `len()` is irrelevant (the trainer's sampler gives the steps).
  Index 2**40 is drawn once for the sample grid and must never be trained on.
- `to_device(batch, device)`: numpy -> tensors (the default moves every array; images channels_last).
- `predict(generator, batch) -> Prediction`: how a batch becomes a prediction (also run with the EMA
  generator for samples); `generator_step(generator, batch) -> (Prediction, {term: loss})` adds the
  reconstruction terms (unweighted; the trainer weights and logs them).
- `critic_inputs(batch)`: tensors passed after the image to the discriminator, `d(image, *inputs)`
  (the mask for facefill-lite; mask and class label for a class-conditioned critic). The default
  `critic_loss` scores real and fake in one call, so each input is concatenated with itself.
- `adversarial_loss(critic, pred, batch)` / `critic_loss(critic, pred, batch)`: the generator's
  adversarial term and the discriminator's loss; the defaults judge `pred.composite` with
  `critic_inputs`; SAC-GAN (two labelled terms + R1) and SPL (the raw output) override them.
- `export(generator, path, step)` and `export_name`: the weights file written from the EMA
  generator (safetensors, with the architecture config in its metadata so a loader can rebuild it).

Class-labelled data and exemplars: `training.dataset.list_labelled_images(root, split)` reads the
L2M-GAN layout (`root/<class>/{train,test}/*` or `root/{train,test}/<class>/*`) as (path, class)
pairs; `build_face_cache` caches the images in that order. A conditioned recipe's `build_batches`
returns its own batch class that, from the same per-(seed, step, rank) generator, also draws a
class label per sample and an exemplar (another cached face of that class, or a `DataSpec.exemplars`
folder) and adds `"label"` (int64 N) and `"exemplar"` (N×3×S×S) to the batch; `to_device` moves
them, `predict` feeds them to the generator, `critic_inputs` to the discriminator.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facefill.errors import UsageError
from facefill.training.losses import d_hinge, g_hinge

# recipe name -> "module:Class"; modules are imported only when their recipe is chosen.
RECIPES: dict[str, str] = {
    "facefill-lite": "facefill.training.recipes.lite:LiteRecipe",
    "facefill-lite-v2": "facefill.training.recipes.lite_v2:LiteV2Recipe",
    "sacgan": "facefill.training.recipes.sacgan:SACGANRecipe",
    "spl": "facefill.training.recipes.spl:SPLRecipe",
}
DEFAULT_RECIPE = "facefill-lite"


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


@dataclass(frozen=True)
class DataSpec:
    """Where the training data comes from (`facefill train --data/--masks/...`), before any decoding."""

    data: Path
    split: str = "train"
    masks: str = "freeform"  # freeform, box, or a folder of mask images
    size: int = 256
    crop: int | None = None
    batch_size: int = 8
    seed: int = 0
    flip: bool = True
    cache_dir: Path | None = None
    exemplars: Path | None = None  # reference faces for exemplar-conditioned recipes


@dataclass
class Prediction:
    """What the generator made of a batch: `composite` is judged by the critic and shown in samples."""

    composite: torch.Tensor  # N×3×H×W in [0,1]: output inside the hole, target outside
    target: torch.Tensor  # N×3×H×W in [0,1]: the real image
    mask: torch.Tensor  # N×1×H×W, 1 = hole
    output: torch.Tensor | None = None  # the raw network output, when it differs from the composite


class Recipe:
    """Base recipe: defaults shared by GAN inpainting recipes (hinge loss, Adam, channels_last)."""

    name: str = ""
    export_name: str = "ema_generator.safetensors"
    loss_weights: dict[str, float] = {}
    lr: float = 1e-4
    lr_d: float = 1e-4
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)

    def set_weight(self, term: str, weight: float, option: str) -> None:
        """Override one loss weight; a term this recipe does not have is a usage error."""
        if term not in self.loss_weights:
            known = ", ".join(sorted(self.loss_weights))
            raise UsageError(f"{option}: recipe {self.name} has no {term!r} loss term (its terms: {known})")
        self.loss_weights = {**self.loss_weights, term: float(weight)}

    def options(self) -> dict[str, Any]:
        """The recipe's settings, saved into checkpoints for the record (JSON-friendly)."""
        return {"name": self.name, "loss_weights": dict(self.loss_weights)}

    # -- models ---------------------------------------------------------------------------------
    def build_generator(self) -> nn.Module:
        raise NotImplementedError

    def build_discriminator(self) -> nn.Module | None:
        return None

    # -- data -----------------------------------------------------------------------------------
    def build_batches(self, data: DataSpec, rank: int) -> Any:
        raise NotImplementedError

    def to_device(self, batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
        """Every array of the batch as a tensor on `device`; 4-D ones channels_last (faster convs)."""
        moved: dict[str, torch.Tensor] = {}
        for key, value in batch.items():
            if key == "step":
                continue
            tensor = torch.as_tensor(value).to(device, non_blocking=True)
            if tensor.ndim == 4:
                tensor = tensor.contiguous(memory_format=torch.channels_last)
            moved[key] = tensor
        return moved

    # -- one step -------------------------------------------------------------------------------
    def predict(self, generator: nn.Module, batch: dict[str, torch.Tensor]) -> Prediction:
        raise NotImplementedError

    def generator_step(
        self, generator: nn.Module, batch: dict[str, torch.Tensor]
    ) -> tuple[Prediction, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def critic_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return ()

    def generator_adversarial_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return g_hinge(fake_logits)

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return d_hinge(real_logits, fake_logits)

    def adversarial_loss(
        self, critic: nn.Module, pred: Prediction, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """The generator's adversarial term (critic frozen): by default the critic on the composite.

        Override when the critic judges something else or more than one thing (SAC-GAN: raw output
        and composite, each with the target label; SPL: the raw output)."""
        return self.generator_adversarial_loss(critic(pred.composite, *self.critic_inputs(batch)))

    def critic_loss(
        self, critic: nn.Module, pred: Prediction, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """The discriminator's loss: by default real and detached composite scored in one call."""
        inputs = self.critic_inputs(batch)
        n = pred.target.shape[0]
        pair = torch.cat([pred.target, pred.composite.detach()])
        logits = critic(pair, *(torch.cat([c, c]) for c in inputs))  # one DDP forward
        return self.discriminator_loss(logits[:n], logits[n:])

    # -- export ---------------------------------------------------------------------------------
    def export(self, generator: nn.Module, path: Path, step: int) -> Path:
        raise NotImplementedError


def recipe_names() -> list[str]:
    return sorted(RECIPES)


def build_recipe(name: str = DEFAULT_RECIPE, **options: Any) -> Recipe:
    """The recipe registered as `name`, built with `options`; unknown names list the known ones."""
    if name not in RECIPES:
        raise UsageError(f"--recipe {name!r}: unknown; known recipes: {', '.join(recipe_names())}")
    module_name, attr = RECIPES[name].split(":")
    recipe_class = getattr(importlib.import_module(module_name), attr)
    params = inspect.signature(recipe_class).parameters
    known = sorted(k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD)
    unknown = sorted(set(options) - set(known))
    if unknown and len(known) == len(params):
        raise UsageError(
            f"--option {unknown[0]}=...: recipe {name!r} has no such option; it takes: {', '.join(known)}"
        )
    return recipe_class(**options)
