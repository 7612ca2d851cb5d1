"""Build a `DiscretePipeline` from weights names: the two stacks and where their directions come from.

Stacks (see pipeline.py): "sdgan" = SD-GAN's 256 px generator + fusion net (per attribute) + unsup3d;
"ffhq" = e4e-ffhq (encoder and its embedded FFHQ-1024 decoder). Directions: `--direction PATH`, else
the weights entry `{stack}-direction-{attribute}` (no public file exists for these attributes: users
derive one with `facefill synthesize-discrete derive-direction` and import it).
Every network loads through `pipelines.pretrained.load_pretrained`. When weights are missing, one
error lists every file the stack still needs and how to get each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from facefill.errors import UsageError, WeightsError
from facefill.runtime.context import RunContext

STACKS = ("sdgan", "ffhq")
SDGAN_TRUNCATION = 0.5  # infer_face.truncation
SDGAN_MEAN_SAMPLES = 4096  # infer_face.num_truncation_mean


@dataclass(frozen=True)
class StackChoice:
    """What the command asked for: stack, attribute, optional direction file, use of the offset net."""

    stack: str = "sdgan"
    attribute: str = "glasses"
    direction: str | None = None
    offset: bool = True  # SD-GAN stack: the fusion net's n_o (False = InterFaceGAN baseline)


def direction_entry(stack: str, attribute: str) -> str:
    return f"{stack}-direction-{attribute}"


def weights_needed(choice: StackChoice) -> list[str]:
    """Registry names of every checkpoint the choice loads, in load order."""
    names = ["sdgan-stylegan2-256"] if choice.stack == "sdgan" else ["e4e-ffhq"]
    if choice.stack == "sdgan" and choice.offset:
        names += [f"sdgan-fusion-{choice.attribute}", "sdgan-unsup3d"]
    if choice.direction is None:
        names.append(direction_entry(choice.stack, choice.attribute))
    return names


def _missing_error(choice: StackChoice, context: RunContext, cause: WeightsError) -> WeightsError:
    from facefill.weights import entry, locate

    missing = [name for name in weights_needed(choice) if locate(name, context) is None]
    if not missing:
        return cause
    parts = []
    for name in missing:
        e = entry(name)
        how = e.manual or "downloadable: `facefill weights download " + name + "`"
        parts.append(f"{name} ({e.filename}: {how})")
    return WeightsError(
        f"synthesize-discrete --stack {choice.stack} --attribute {choice.attribute} needs weights not "
        f"found locally: {'; '.join(parts)}; then `facefill weights import NAME PATH` or --weights NAME=PATH"
    )


def load_direction(choice: StackChoice, context: RunContext) -> torch.Tensor:
    from facefill.pipelines.discrete.directions import read_direction, tensor_of

    if choice.direction is not None:
        return read_direction(Path(choice.direction))
    from facefill.weights import load_checkpoint

    name = direction_entry(choice.stack, choice.attribute)
    return tensor_of(load_checkpoint(name, context), f"weights {name}")


def load_discrete_pipeline(choice: StackChoice, context: RunContext):
    """The pipeline for `choice`, its networks on the context's device, in eval mode."""
    from facefill.pipelines.discrete.pipeline import DiscretePipeline

    if choice.stack not in STACKS:
        raise UsageError(f"--stack {choice.stack}: use one of {', '.join(STACKS)}")
    try:
        direction = load_direction(choice, context)
        networks = load_networks(choice, context)
    except WeightsError as exc:
        raise _missing_error(choice, context, exc) from exc
    return DiscretePipeline(networks, {choice.attribute: direction})


def load_networks(choice: StackChoice, context: RunContext):
    from facefill.pipelines.discrete.pipeline import DiscreteNetworks
    from facefill.pipelines.pretrained import load_pretrained

    device = context.torch_device()
    if choice.stack == "ffhq":
        from facefill.weights import load_checkpoint

        latent_avg = load_checkpoint("e4e-ffhq", context).get("latent_avg")
        return DiscreteNetworks(
            generator=load_pretrained("e4e-ffhq", context, view="decoder"),
            encoder=load_pretrained("e4e-ffhq", context),
            latent_avg=None if latent_avg is None else torch.as_tensor(latent_avg).float().to(device),
            truncation=1.0,
        )
    generator = load_pretrained("sdgan-stylegan2-256", context)
    mean = generator.mean_latent(SDGAN_MEAN_SAMPLES, generator=torch.Generator().manual_seed(context.seed))
    fusion = unsup3d = None
    if choice.offset:
        fusion = load_pretrained(f"sdgan-fusion-{choice.attribute}", context)
        unsup3d = load_pretrained("sdgan-unsup3d", context)
    return DiscreteNetworks(
        generator, fusion=fusion, unsup3d=unsup3d, truncation=SDGAN_TRUNCATION, mean_latent=mean
    )
