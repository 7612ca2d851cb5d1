"""Face -> W+ codes: e4e when the stack has an encoder, then optional refinement steps.

Refinement (Adam on the W+ codes, pixel MSE at 256 px between the rendered and the aligned face,
through the same truncation and fixed noise the edit uses) is how a stack without an encoder (the
SD-GAN 256 generator) inverts a photo at all, starting from the mean latent; with e4e it tightens
the reconstruction. Each item's loss is independent (summed losses, per-item gradients), so an item
gives the same codes alone or in a batch (up to float rounding, which Adam's normalised first steps
amplify to ~1e-3 in pixels).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from facefill.pipelines.discrete.formula import synthesize

LOSS_SIZE = 256


def _at_loss_size(images: torch.Tensor) -> torch.Tensor:
    if images.shape[-1] <= LOSS_SIZE:
        return images
    return F.adaptive_avg_pool2d(images, (LOSS_SIZE, LOSS_SIZE))


def initial_codes(networks, faces: torch.Tensor) -> torch.Tensor:
    """(N, n_latent, 512): e4e codes (+ latent_avg), or the mean latent repeated."""
    n_latent = networks.generator.n_latent
    if networks.encoder is not None:
        from facefill.models.e4e import prepare_e4e_input

        codes = networks.encoder.encode(prepare_e4e_input(faces), networks.latent_avg)
        if codes.shape[1] != n_latent:
            raise ValueError(f"encoder gives {codes.shape[1]} W+ rows, generator needs {n_latent}")
        return codes
    if networks.mean_latent is None:
        raise ValueError("a stack without an encoder needs the generator's mean latent")
    return networks.mean_latent.reshape(1, 1, -1).expand(faces.shape[0], n_latent, -1).clone()


def refine_codes(
    networks,
    codes: torch.Tensor,
    faces: torch.Tensor,
    noise: Sequence[torch.Tensor],
    steps: int,
    lr: float = 0.01,
) -> torch.Tensor:
    """`steps` Adam steps on the codes to reproduce `faces` ([0,1]); returns detached codes."""
    if steps <= 0:
        return codes.detach()
    target = _at_loss_size(faces * 2 - 1).detach()
    codes = codes.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([codes], lr=lr)
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        image = synthesize(networks.generator, codes, noise, networks.truncation, networks.mean_latent)
        loss = (_at_loss_size(image) - target).square().flatten(1).mean(1).sum()
        loss.backward()
        optimiser.step()
    return codes.detach()
