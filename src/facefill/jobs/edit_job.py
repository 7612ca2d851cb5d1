"""The `facefill edit` processor: photo -> faces -> MaskFaceGAN attribute edit -> photo.

Each photo is one work item. `process` sends every face of every photo of the batch through one
`faces.roundtrip.round_trip` (FFHQ alignment at the generator's size, 1024 for FFHQ), whose
callable runs `pipelines.edit.run_edit` once on all crops (one optimisation of N codes) and
returns the blend mask as the "changed" weights, so paste-back replaces only the edited region
(feathered, inside the face mask). Outputs (jobs.outputs.ItemOutputs):
  NAME.EXT                  the edited photo: the input's size, mode, orientation, alpha, EXIF, ICC
  NAME_aligned.png          the edited aligned face (face 0)
  with --save-intermediates:
  NAME_latent.safetensors   final and initial W+ and the noise maps (every face)
  NAME_masks.png            recon | blend | dynamic masks (face 0, after dynamic masking)
  NAME_strip.png            aligned input | G(W+, noise) | blended result (face 0)
The sidecar records attributes, schedule, classifier scores before/after, seed, timings, sha256s.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facefill.errors import FacefillError
from facefill.jobs.face_batch import face_seed
from facefill.jobs.plan import WorkItem
from facefill.runtime.context import RunContext


@dataclass
class EditSettings:
    attributes: tuple[str, ...]
    schedule: Any  # pipelines.edit.Schedule
    quality_preset: str = "paper"
    target: int = 1
    intensity: float | None = None
    size: float = 0.0
    blend_option: str = "include_skin"
    e4e_init: bool = False
    force_global: bool = False
    noise_normalize: str = "reference"
    parser: str = "maskfacegan"
    save_intermediates: bool = False
    face: str | int = "largest"
    detector: str = "hog"
    quality: int = 95
    max_pixels: int | None = None


@dataclass
class _Result:
    photo: np.ndarray | None = None
    aligned: np.ndarray | None = None
    strip: np.ndarray | None = None
    masks: np.ndarray | None = None
    tensors: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    faces: int = 0
    error: FacefillError | None = None


def network_choice(settings: EditSettings) -> Any:
    from facefill.pipelines.edit import attribute_spec
    from facefill.pipelines.edit.loading import NetworkChoice

    spec = attribute_spec(settings.attributes, force_global=settings.force_global)
    return NetworkChoice(parser=settings.parser, e4e=settings.e4e_init or not spec.local,
                         lpips=not spec.local)


class EditProcessor:
    """MultiOutputProcessor (see jobs.processor) for `facefill edit`."""

    description = "edit"

    def __init__(self, settings: EditSettings, context: RunContext, warn: Any = None, networks: Any = None):
        from facefill.pipelines.edit.loading import load_edit_networks, weights_needed

        self.settings = settings
        self.context = context
        self.warn = warn or (lambda message: None)
        self.choice = network_choice(settings)
        self.weights = weights_needed(self.choice)
        self.networks = networks if networks is not None else load_edit_networks(self.choice, context)

    def run_info(self) -> dict[str, Any]:
        from facefill.weights import sha256_of

        shas = {}
        for name in self.weights:
            try:
                shas[name] = sha256_of(name, self.context)
            except FacefillError:
                continue
        s = self.settings
        return {
            "attribute": list(s.attributes), "target": s.target, "intensity": s.intensity, "size": s.size,
            "blend_option": s.blend_option, "e4e_init": self.choice.e4e, "force_global": s.force_global,
            "parser": s.parser, "quality": s.quality_preset, "schedule": s.schedule.to_dict(),
            "noise_normalize": s.noise_normalize, "run_seed": self.context.seed,
            "device": str(self.context.torch_device()),
            "weights_sha256": {k: v for k, v in shas.items() if v},
        }

    def auto_batch_size(self) -> int:
        """1 on the CPU, 4 faces per optimisation on an accelerator."""
        return 1 if self.context.torch_device().type == "cpu" else 4

    def load(self, item: WorkItem) -> Any:
        from facefill.io.images import read_image

        return read_image(item.source, max_pixels=self.settings.max_pixels)

    def process(self, batch: list[tuple[WorkItem, Any]]) -> list[_Result]:
        """All faces of all photos of the batch through one round trip (one optimisation)."""
        from facefill.faces.roundtrip import round_trip
        from facefill.jobs.face_batch import find_batch_faces

        found = find_batch_faces(batch, self.settings.face, self.settings.detector, self.context.seed)
        results = [_Result(error=found.errors.get(n)) for n in range(len(batch))]
        if not found.order:
            return results
        seeds, faces, order = found.seeds, found.faces, found.order
        names = ", ".join(sorted({batch[n][0].name for n, _ in order}))
        captured: dict[str, Any] = {}

        def edit(crops: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return self._edit_crops(crops, seeds, names, captured)

        trip = round_trip([image.rgb for _, image in batch], edit, size=int(self.networks.generator.size),
                          faces=faces, warn=self.warn, sources=[str(item.source) for item, _ in batch])
        for n in range(len(batch)):
            picks = found.picks(n)
            if not picks:
                continue
            res, first = results[n], picks[0]
            res.photo, res.faces, res.seconds = trip.photos[n], len(picks), captured["seconds"]
            res.aligned, res.strip, res.masks = (captured[k][first] for k in ("edited", "strip", "masks"))
            res.tensors = {key: value[picks].contiguous() for key, value in captured["tensors"].items()}
            res.scores = {key: value[picks].tolist() for key, value in captured["scores"].items()}
        return results

    def _edit_crops(self, crops: np.ndarray, seeds: list[int], names: str, captured: dict[str, Any]):
        import torch

        from facefill.pipelines.edit import EditRequest, run_edit

        s = self.settings
        device = self.context.torch_device()
        faces = torch.from_numpy(np.ascontiguousarray(crops[..., :3])).permute(0, 3, 1, 2).float().to(device)
        request = EditRequest(
            faces, s.attributes, [torch.Generator().manual_seed(seed) for seed in seeds], schedule=s.schedule,
            target=s.target, intensity=s.intensity, size=s.size, blend_option=s.blend_option,
            e4e_init=s.e4e_init, force_global=s.force_global, noise_normalize=s.noise_normalize,
        )
        start = time.perf_counter()
        out = run_edit(self.networks, request, on_step=self._progress(names))
        captured["seconds"] = round(time.perf_counter() - start, 3)

        def hwc(t: torch.Tensor) -> np.ndarray:
            return t.detach().float().clamp(0, 1).cpu().permute(0, 2, 3, 1).numpy()

        edited, blend = hwc(out.image), out.masks.blend[:, 0].detach().float().clamp(0, 1).cpu().numpy()
        final = out.final_masks
        masks = torch.cat([final.recon, final.blend, final.dynamic], dim=3)
        captured.update(
            edited=edited,
            strip=np.concatenate([hwc(faces), hwc(out.generated), edited], axis=2),
            masks=np.repeat(hwc(masks), 3, axis=3),
            tensors={"latent": out.latent.float().cpu(), "initial_latent": out.initial_latent.float().cpu(),
                     **{f"noise_{i}": n.float().cpu() for i, n in enumerate(out.noise)}},
            scores={"score_before": out.score_before.cpu(), "score_after": out.score_after.cpu()},
        )
        return edited, blend

    def _progress(self, names: str) -> Any:
        if not self.context.show_progress():
            return None
        s = self.settings.schedule
        total = s.steps_latent + (s.steps_noise + 1 if s.steps_noise > 0 else 0)
        done = [0]

        def show(entry: Any) -> None:
            done[0] += 1
            end = "\n" if done[0] >= total else ""
            print(f"\r{names}: {entry.phase} step {done[0]}/{total} loss {entry.total:.4f}   ",
                  end=end, file=sys.stderr, flush=True)

        return show

    def save_outputs(self, item: WorkItem, image: Any, result: _Result, outputs: Any) -> dict[str, Any]:
        from facefill.io.images import write_image

        if result.error is not None:
            raise result.error
        fmt = item.output.suffix.lstrip(".")
        write_image(outputs.target, result.photo, like=image, format=fmt, quality=self.settings.quality)
        base = item.output.with_suffix("")

        def named(suffix: str):
            return base.with_name(base.name + suffix)

        write_image(outputs.path("aligned", named("_aligned.png")), result.aligned, format="png")
        if self.settings.save_intermediates:
            from safetensors.torch import save_file

            save_file(result.tensors, str(outputs.path("latent", named("_latent.safetensors"))),
                      metadata={"attribute": ",".join(self.settings.attributes)})
            write_image(outputs.path("masks", named("_masks.png")), result.masks, format="png")
            write_image(outputs.path("strip", named("_strip.png")), result.strip, format="png")
        return {
            "seed": face_seed(self.context.seed, item.name, 0),
            "faces_edited": result.faces,
            "image_size": {"width": image.size[1], "height": image.size[0]},
            **result.scores,
            "timings": {"optimise_s": result.seconds},
        }
