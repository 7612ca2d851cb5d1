"""Build `EditNetworks` from weights names (all through `pipelines.pretrained.load_pretrained`).

Which checkpoints an edit needs depends on its mode: the generator, the classifier and a parser
always; e4e for `--e4e-init` and every global edit; LPIPS (lin layers + VGG16) for global edits.
The generator's size is read from its checkpoint, so a stand-in of any rosinality size loads
through the same entry. When files are missing, one error names each and how to get it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from facefill.errors import UsageError, WeightsError
from facefill.pipelines.edit.masks import bisenet_parser, maskfacegan_parser
from facefill.pipelines.edit.networks import EditNetworks, e4e_encoder
from facefill.runtime.context import RunContext

GENERATOR = "stylegan2-ffhq-1024"
CLASSIFIER = "maskfacegan-classifier"
PARSERS = {"maskfacegan": "maskfacegan-parser", "bisenet": "bisenet-faceparse"}
E4E = "maskfacegan-e4e"
LPIPS = ("lpips-vgg-lin", "vgg16-imagenet")


@dataclass(frozen=True)
class NetworkChoice:
    parser: str = "maskfacegan"
    e4e: bool = False       # an encoder is needed (--e4e-init or a global edit)
    lpips: bool = False     # LPIPS is needed (global edit)


def weights_needed(choice: NetworkChoice) -> list[str]:
    """Registry names of every checkpoint the choice loads, in load order."""
    if choice.parser not in PARSERS:
        raise UsageError(f"--parser {choice.parser}: use one of {', '.join(PARSERS)}")
    names = [GENERATOR, CLASSIFIER, PARSERS[choice.parser]]
    return names + ([E4E] if choice.e4e else []) + (list(LPIPS) if choice.lpips else [])


def missing_error(choice: NetworkChoice, context: RunContext, cause: WeightsError) -> WeightsError:
    from facefill.weights import entry, locate

    missing = [name for name in weights_needed(choice) if locate(name, context) is None]
    if not missing:
        return cause
    parts = []
    for name in missing:
        e = entry(name)
        how = e.manual or f"downloadable: `facefill weights download {name}`"
        parts.append(f"{name} ({e.filename}: {how})")
    return WeightsError(
        f"edit needs weights not found locally: {'; '.join(parts)}; "
        "then `facefill weights import NAME FILE` or --weights NAME=PATH"
    )


def load_generator(context: RunContext) -> torch.nn.Module:
    """The StyleGAN2 generator, its size/widths taken from the checkpoint's shapes."""
    from facefill.models.stylegan2 import generator_config_from_state_dict
    from facefill.pipelines.pretrained import load_pretrained
    from facefill.weights import load_state_dict

    config = generator_config_from_state_dict(load_state_dict(GENERATOR, context))
    return load_pretrained(GENERATOR, context, **config)


def load_edit_networks(choice: NetworkChoice, context: RunContext) -> EditNetworks:
    """Every network of `choice` on the context's device, eval mode, gradients off."""
    try:
        return _load(choice, context)
    except WeightsError as exc:
        raise missing_error(choice, context, exc) from exc


def _load(choice: NetworkChoice, context: RunContext) -> EditNetworks:
    from facefill.pipelines.pretrained import load_pretrained
    from facefill.weights import load_checkpoint, load_state_dict

    weights_needed(choice)
    device = context.torch_device()
    generator = load_generator(context)
    classifier = load_pretrained(CLASSIFIER, context)
    parser_net = load_pretrained(PARSERS[choice.parser], context)
    parser = maskfacegan_parser(parser_net) if choice.parser == "maskfacegan" else bisenet_parser(parser_net)
    encoder = lpips = None
    if choice.e4e:
        latent_avg = load_checkpoint(E4E, context).get("latent_avg")
        latent_avg = None if latent_avg is None else torch.as_tensor(latent_avg).float().to(device)
        encoder = e4e_encoder(load_pretrained(E4E, context), latent_avg)
    if choice.lpips:
        from facefill.models.lpips import lpips_from_parts

        lpips = lpips_from_parts(load_state_dict(LPIPS[0], context),
                                 load_state_dict(LPIPS[1], context)).to(device)
    modules = [generator, classifier, parser_net] + ([lpips] if lpips is not None else [])
    for module in modules:
        module.requires_grad_(False)
    return EditNetworks(generator=generator, classifier=classifier, parser=parser, lpips=lpips,
                        encoder=encoder, mean_latent=cached_mean_latent(generator, context))


def cached_mean_latent(generator: torch.nn.Module, context: RunContext) -> torch.Tensor:
    """The seeded 50 000-sample mean W, stored once per generator file under FACEFILL_HOME/edit
    (MaskFaceGAN caches `latent_mean.pt` the same way; 40 s of mapping passes on one CPU core)."""
    import os

    from safetensors.torch import load_file, save_file

    from facefill.pipelines.edit.networks import MEAN_LATENT_SAMPLES, MEAN_LATENT_SEED, mean_latent
    from facefill.weights import sha256_of
    from facefill.weights.cache import facefill_home

    sha = sha256_of(GENERATOR, context)
    device = generator.input.input.device
    if not sha:
        return mean_latent(generator)
    name = f"mean_latent-{sha[:16]}-{MEAN_LATENT_SAMPLES}-{MEAN_LATENT_SEED}.safetensors"
    path = facefill_home() / "edit" / name
    if path.is_file():
        return load_file(str(path))["mean_latent"].to(device)
    mean = mean_latent(generator)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    save_file({"mean_latent": mean.detach().cpu().contiguous()}, str(tmp))
    os.replace(tmp, path)
    return mean
