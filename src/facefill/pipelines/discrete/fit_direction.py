"""`synthesize-discrete derive-direction`: latents + scores -> boundary -> a direction file.

Scores when facefill samples the generator itself (§2.10 step 2), on [0,1] aligned faces:
  glasses     BranchedTiny `eyeglasses` logit (MaskFaceGAN classifier);
  sunglasses  that logit plus the darkness of the eye region (lenses are opaque);
  mask        (weak, no classifier has the attribute) low saturation and missing mouth contrast
              in the lower face: mean(1 − saturation) − std(luma) over the mask region.
Users with their own classifier pass --latents/--scores .npy files instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facefill.errors import UsageError
from facefill.runtime.context import RunContext


def _region_stats(images: torch.Tensor, attribute: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from facefill.pipelines.discrete.accessories import accessory_region

    region = accessory_region(attribute, images.shape[-1]).to(images) > 0.5
    pixels = images[:, :, region]  # (N, 3, P)
    luma = 0.299 * pixels[:, 0] + 0.587 * pixels[:, 1] + 0.114 * pixels[:, 2]
    saturation = pixels.amax(1) - pixels.amin(1)
    return luma.mean(1), luma.std(1), saturation.mean(1)


def attribute_scorer(
    attribute: str, classifier: torch.nn.Module | None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """images [0,1] (N,3,S,S) -> (N,) scores, higher = more of the attribute."""
    if attribute == "mask":

        def score_mask(images: torch.Tensor) -> torch.Tensor:
            _, luma_std, saturation = _region_stats(images, "mask")
            return (1 - saturation) - luma_std

        return score_mask
    if classifier is None:
        raise UsageError(f"scoring {attribute} needs the attribute classifier (maskfacegan-classifier)")

    def score_glasses(images: torch.Tensor) -> torch.Tensor:
        logit = classifier.logits_for(images, ["eyeglasses"])[:, 0]
        if attribute == "sunglasses":
            luma, _, _ = _region_stats(images, "sunglasses")
            return logit + 4.0 * (0.5 - luma)  # dark lenses: ~+2 for black, ~-2 for white
        return logit

    return score_glasses


def save_direction(path: Path, normal: np.ndarray, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    from facefill.io.files import atomic_target

    with atomic_target(path) as tmp:
        save_file({"direction": torch.from_numpy(np.ascontiguousarray(normal))}, str(tmp), metadata=metadata)


def derive(options: dict[str, Any], context: RunContext) -> str:
    """Run the helper with the command's option values; returns the one-line report."""
    from facefill.pipelines.discrete.derive import fit_boundary, sample_and_score

    attribute, stack = options["attribute"], options["stack"]
    if bool(options.get("latents")) != bool(options.get("scores")):
        raise UsageError("--latents and --scores go together (or give neither to sample the generator)")
    if options.get("latents"):
        latents = np.load(options["latents"], allow_pickle=False)
        scores = np.load(options["scores"], allow_pickle=False)
        source = f"{options['latents']} + {options['scores']}"
    else:
        from facefill.pipelines.discrete.loading import StackChoice, load_networks
        from facefill.pipelines.pretrained import load_pretrained

        nets = load_networks(StackChoice(stack, attribute, direction="", offset=False), context)
        classifier = None if attribute == "mask" else load_pretrained("maskfacegan-classifier", context)
        latents, scores = sample_and_score(
            nets.generator,
            attribute_scorer(attribute, classifier),
            options["num"],
            seed=context.seed,
            truncation=nets.truncation,
            mean_latent=nets.mean_latent,
        )
        source = f"{options['num']} samples of the {stack} generator"
    boundary = fit_boundary(
        latents, scores, ratio=options["ratio"], method=options["method"], seed=context.seed
    )
    out = Path(options["output"])
    save_direction(
        out,
        boundary.normal,
        {
            "attribute": attribute,
            "stack": stack,
            "method": options["method"],
            "val_accuracy": f"{boundary.val_accuracy:.4f}",
        },
    )
    return (
        f"wrote {out}: {attribute} direction (1, {boundary.normal.shape[1]}) from {source}; "
        f"{boundary.positives}+{boundary.negatives} samples, validation accuracy {boundary.val_accuracy:.3f}"
    )
