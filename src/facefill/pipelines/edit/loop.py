"""MaskFaceGAN's two optimisation phases (spec edit.md §1.7, §1.9) on already-built networks.

    run_edit(EditNetworks(...), EditRequest(images, ("smiling",), generators)) -> EditResult

Latent phase: W+ from the mean latent (or e4e, which starts at `e4e_start_step`), zero noise,
Adam(lr_latent); at `start_steps.classf` a fresh Adam (local mode only) and the classifier term;
dynamic masking in [seg, seg + iters); the noise re-randomised once at seg + iters (both modes,
when a noise phase follows — quirk 5 kept). Noise phase: W+ frozen, the 17 maps trainable with
Adam(lr_noise) for steps.noise + 1 iterations, regulariser + masked MSE (weight 2 local, 0.03
global — the reference reuses the LPIPS weight). Every loss is per image and summed over the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from facefill.errors import UsageError
from facefill.pipelines.edit import losses
from facefill.pipelines.edit.attributes import FACE_CLASSES, AttributeSpec, attribute_spec
from facefill.pipelines.edit.masks import (
    PARSE_SIZE,
    EditMasks,
    class_sum,
    dynamic_update,
    image_masks,
    resize,
)
from facefill.pipelines.edit.networks import EditNetworks
from facefill.pipelines.edit.render import random_noise, render, zero_noise
from facefill.pipelines.edit.result import NOISE_NORMALIZE, EditRequest, EditResult, StepLog

StepHook = Callable[[StepLog], None]


def initial_latent(
    nets: EditNetworks, request: EditRequest, spec: AttributeSpec
) -> tuple[torch.Tensor, bool]:
    """(W+ start, from_e4e): e4e when asked or in global mode, else the mean W repeated."""
    g = nets.generator
    if request.e4e_init or not spec.local:
        if nets.encoder is None:
            why = "global attributes start from e4e" if not spec.local else "--e4e-init"
            raise UsageError(f"{why}: the edit needs the e4e encoder (weights maskfacegan-e4e)")
        with torch.no_grad():
            return nets.encoder(request.images).detach().clone(), True
    w = nets.mean_w().to(request.images)
    return w.reshape(1, 1, -1).repeat(request.images.shape[0], g.n_latent, 1), False


def run_edit(nets: EditNetworks, request: EditRequest, on_step: StepHook | None = None) -> EditResult:
    """Both phases and the blend for one batch; see the module docstring."""
    if request.noise_normalize not in NOISE_NORMALIZE:
        raise UsageError(f"noise_normalize {request.noise_normalize!r} not in {NOISE_NORMALIZE}")
    images, s = request.images, request.schedule
    n, full = images.shape[0], images.shape[-1]
    if len(request.generators) != n:
        raise ValueError(f"{n} images need {n} torch.Generators, got {len(request.generators)}")
    spec = attribute_spec(request.attributes, force_global=request.force_global)
    g = nets.generator
    res = s.loss_resolution if 0 < s.loss_resolution < full else full
    target = images if res == full else resize(images, res)
    targets = torch.full((n, len(spec.indices)), request.target_probability(), device=images.device)

    with torch.no_grad():
        masks = image_masks(nets.parser(images), spec, full, request.blend_option)
        score_before = torch.sigmoid(nets.classifier(images)[:, list(spec.indices)])
    original = masks.at(res)
    current = original.detach()
    start_fraction = losses.region_fraction(original.dynamic)
    latent0, from_e4e = initial_latent(nets, request, spec)
    latent = latent0.clone().requires_grad_(True)
    noise = zero_noise(g, n)
    log: list[StepLog] = []
    events: list[tuple[str, int]] = []

    def record(phase: str, step: int, terms: dict[str, tuple[float, torch.Tensor]]) -> torch.Tensor:
        total = sum((w * v.sum() for w, v in terms.values()), images.new_zeros(()))
        entry = StepLog(phase, step, {k: v.detach().cpu().tolist() for k, (_, v) in terms.items()},
                        float(total.detach()))
        log.append(entry)
        if on_step is not None:
            on_step(entry)
        return total

    # ---- latent phase (§1.7)
    reinit = s.reinit and spec.local
    classf_start = s.start_steps_classf if spec.local else 0
    seg_on = spec.local and spec.hair and original.shape is not None
    dyn_on = spec.local and s.dynamic_masking
    recon_weight = s.weight_mse if spec.local else s.weight_lpips
    if not spec.local and nets.lpips is None:
        raise UsageError("global mode needs the LPIPS network (weights lpips-vgg)")
    optimizer = torch.optim.Adam([latent], lr=s.lr_latent)
    for i in range(s.e4e_start_step if from_e4e else 0, s.steps_latent):
        if reinit and i == classf_start:
            optimizer = torch.optim.Adam([latent], lr=s.lr_latent)
            events.append(("reinit_optimizer", i))
        if i == s.dynamic_masking_end and s.steps_noise > 0:
            noise = random_noise(g, request.generators)
            events.append(("randomize_noise", i))
        x = render(g, latent, noise, res)
        terms: dict[str, tuple[float, torch.Tensor]] = {}
        if i >= s.start_steps_mse:
            recon = (losses.masked_mse(target, x, current.recon) if spec.local
                     else losses.masked_lpips(nets.lpips, target, x, current.recon))
            terms["recon"] = (recon_weight, recon)
        if i >= classf_start:
            terms["classf"] = (s.weight_classf, losses.classifier_loss(
                nets.classifier(x)[:, list(spec.indices)], targets))
        in_window = dyn_on and s.start_steps_seg <= i < s.dynamic_masking_end
        need_seg = seg_on and i >= s.start_steps_seg
        need_size = request.size > 0 and i >= s.start_steps_seg
        probs = nets.parser(x) if (need_seg or need_size or in_window) else None
        if need_seg:
            terms["seg"] = (s.weight_seg, losses.shape_loss(class_sum(probs, spec.regions + (
                ("ears",) if spec.update_shape else ())), current.shape))
        if need_size:
            gen_dyn = resize(class_sum(probs, spec.regions if spec.local else FACE_CLASSES), res)
            terms["size"] = (s.weight_size, losses.size_loss(start_fraction, losses.region_fraction(gen_dyn),
                                                             request.size))
        total = record("latent", i, terms)
        optimizer.zero_grad()
        if total.requires_grad:
            total.backward()
            optimizer.step()
        if in_window:
            d = class_sum(probs.detach(), spec.regions)
            current = dynamic_update(original, current, resize(d, PARSE_SIZE), spec.update_shape)
            events.append(("dynamic_mask_update", i))

    # ---- noise phase (§1.9)
    latent = latent.detach()
    if s.steps_noise > 0:
        events.append(("noise_phase", s.steps_latent))
        noise = [m.detach().clone().requires_grad_(True) for m in noise]
        optimizer = torch.optim.Adam(noise, lr=s.lr_noise)
        for j in range(s.steps_noise + 1):
            x = render(g, latent, noise, res)
            terms = {"n_loss": (s.weight_n_loss, losses.noise_regularize(noise))}
            if request.noise_normalize == "reference":
                losses.noise_normalize_(noise)
            terms["recon"] = (recon_weight, losses.masked_mse(target, x, current.recon))
            total = record("noise", j, terms)
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            if request.noise_normalize == "after_step":
                losses.noise_normalize_(noise)
        noise = [m.detach() for m in noise]

    with torch.no_grad():
        generated = render(g, latent, noise)
        blend = masks.blend
        image = blend * generated + (1 - blend) * images
        score_after = torch.sigmoid(nets.classifier(image)[:, list(spec.indices)])
    final = EditMasks(recon=resize(current.recon, full), blend=masks.blend,
                      dynamic=resize(current.dynamic, full), shape=current.shape)
    return EditResult(initial_latent=latent0, masks=masks, final_masks=final, latent=latent, noise=noise,
                      generated=generated, image=image, local=spec.local, score_before=score_before,
                      score_after=score_after, log=log, events=events)

