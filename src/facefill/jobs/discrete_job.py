"""The `facefill synthesize-discrete` processor: photo -> faces -> accessory added -> photo.

Each photo is one work item. `process` sends every face of every photo of the batch through one
`faces.roundtrip.round_trip`, whose callable runs the `DiscretePipeline` once on all crops (one
tensor of N) and returns the blend weights as the "changed" mask, so paste-back replaces only the
accessory region (feathered, inside the face mask). Outputs (jobs.outputs.ItemOutputs), like `edit`:
  NAME.EXT                 the edited photo: the input's size, mode, orientation, alpha, EXIF, ICC
  NAME_aligned.png         the edited aligned face (face 0)
  with --save-intermediates:
  NAME_latent.safetensors  W+ codes, edited codes, offset (every face), for reuse
  NAME_strip.png           aligned input | reconstruction G(w) | G(edit) | blended result | weights
The sidecar records stack, attribute, strength, refinement steps, per-item seed and weights sha256s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facefill.errors import FacefillError
from facefill.jobs.face_batch import face_seed
from facefill.jobs.plan import WorkItem
from facefill.runtime.context import RunContext


@dataclass
class DiscreteSettings:
    choice: Any  # pipelines.discrete.loading.StackChoice
    strength: float = 1.0
    refine_steps: int | None = None  # None: 0 with an encoder, DEFAULT_REFINE_STEPS without
    save_intermediates: bool = False
    face: str | int = "largest"
    detector: str = "hog"
    quality: int = 95
    max_pixels: int | None = None
    weights: list[str] = field(default_factory=list)  # names recorded in sidecars


DEFAULT_REFINE_STEPS = 50


@dataclass
class _Result:
    photo: np.ndarray | None = None
    aligned: list[np.ndarray] = field(default_factory=list)  # per face, H×W×3 float [0,1]
    strip: np.ndarray | None = None
    tensors: dict[str, Any] = field(default_factory=dict)
    faces: int = 0
    error: FacefillError | None = None


class DiscreteProcessor:
    """MultiOutputProcessor (see jobs.processor) for `facefill synthesize-discrete`."""

    description = "synthesize-discrete"

    def __init__(
        self, settings: DiscreteSettings, context: RunContext, warn: Any = None, pipeline: Any = None
    ):
        from facefill.pipelines.discrete.loading import load_discrete_pipeline

        self.settings = settings
        self.context = context
        self.warn = warn or (lambda message: None)
        self.pipeline = pipeline if pipeline is not None else load_discrete_pipeline(settings.choice, context)
        nets = self.pipeline.networks
        default = 0 if nets.encoder is not None else DEFAULT_REFINE_STEPS
        self.refine_steps = default if settings.refine_steps is None else settings.refine_steps

    def run_info(self) -> dict[str, Any]:
        from facefill.weights import sha256_of

        choice = self.settings.choice
        info: dict[str, Any] = {
            "stack": choice.stack,
            "attribute": choice.attribute,
            "strength": self.settings.strength,
            "refine_steps": self.refine_steps,
            "offset_network": self.pipeline.networks.fusion is not None,
            "truncation": self.pipeline.networks.truncation,
            "direction": choice.direction or f"{choice.stack}-direction-{choice.attribute}",
            "device": str(self.pipeline.device),
            "run_seed": self.context.seed,
        }
        shas = {}
        for name in self.settings.weights:
            try:
                shas[name] = sha256_of(name, self.context)
            except FacefillError:
                continue
        info["weights_sha256"] = {k: v for k, v in shas.items() if v}
        if choice.direction:
            from facefill.io.files import sha256_file

            info["direction_sha256"] = sha256_file(choice.direction)
        return info

    def auto_batch_size(self) -> int:
        """1 on the CPU (no gain from batching there), 8 faces per call on an accelerator."""
        return 1 if self.pipeline.device.type == "cpu" else 8

    def load(self, item: WorkItem) -> Any:
        from facefill.io.images import read_image

        return read_image(item.source, max_pixels=self.settings.max_pixels)

    def process(self, batch: list[tuple[WorkItem, Any]]) -> list[_Result]:
        """All faces of all photos of the batch through one round trip (one pipeline call)."""
        from facefill.faces.roundtrip import round_trip
        from facefill.jobs.face_batch import find_batch_faces

        found = find_batch_faces(batch, self.settings.face, self.settings.detector, self.context.seed)
        results = [_Result(error=found.errors.get(n)) for n in range(len(batch))]
        if not found.order:
            return results
        captured: dict[str, Any] = {}

        def edit(crops: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return self._edit_crops(crops, found.seeds, captured)

        trip = round_trip(
            [image.rgb for _, image in batch],
            edit,
            size=self.pipeline.networks.size,
            faces=found.faces,
            warn=self.warn,
            sources=[str(item.source) for item, _ in batch],
        )
        for n in range(len(batch)):
            picks = found.picks(n)
            if not picks:
                continue
            res = results[n]
            res.photo, res.faces = trip.photos[n], len(picks)
            res.aligned = [captured["edited"][j] for j in picks]
            res.strip = captured["strip"][picks[0]]
            res.tensors = {key: captured["tensors"][key][picks].contiguous() for key in captured["tensors"]}
        return results

    def _edit_crops(self, crops: np.ndarray, seeds: list[int], captured: dict[str, Any]):
        import torch

        from facefill.pipelines.discrete import DiscreteRequest

        faces = torch.from_numpy(np.ascontiguousarray(crops[..., :3])).permute(0, 3, 1, 2).float()
        request = DiscreteRequest(
            faces,
            self.settings.choice.attribute,
            strength=self.settings.strength,
            refine_steps=self.refine_steps,
            generators=[torch.Generator().manual_seed(s) for s in seeds],
        )
        out = self.pipeline(request)

        def hwc(t: torch.Tensor) -> np.ndarray:
            return t.detach().float().cpu().permute(0, 2, 3, 1).numpy()

        edited, weights = hwc(out.edited), out.weights[:, 0].detach().float().cpu().numpy()
        size = faces.shape[-1]
        resized = (
            torch.nn.functional.interpolate(faces, (edited.shape[1],) * 2, mode="area")
            if (edited.shape[1] != size)
            else faces
        )
        strip = np.concatenate(
            [
                hwc(resized),
                hwc(out.reconstruction),
                hwc(out.generated),
                edited,
                np.repeat(weights[..., None], 3, axis=3),
            ],
            axis=2,
        )
        captured["edited"], captured["strip"] = edited, strip
        captured["tensors"] = {
            "codes": out.codes.detach().float().cpu(),
            "edited_codes": out.edited_codes.detach().float().cpu(),
            "offset": out.offset.detach().float().cpu(),
        }
        return edited, weights

    def save_outputs(self, item: WorkItem, image: Any, result: _Result, outputs: Any) -> dict[str, Any]:
        from facefill.io.images import write_image

        if result.error is not None:
            raise result.error
        fmt = item.output.suffix.lstrip(".")
        write_image(outputs.target, result.photo, like=image, format=fmt, quality=self.settings.quality)
        base = item.output.with_suffix("")
        aligned = base.with_name(base.name + "_aligned.png")
        write_image(outputs.path("aligned", aligned), result.aligned[0], format="png")
        if self.settings.save_intermediates:
            from safetensors.torch import save_file

            latent = base.with_name(base.name + "_latent.safetensors")
            save_file(
                result.tensors,
                str(outputs.path("latent", latent)),
                metadata={"attribute": self.settings.choice.attribute},
            )
            strip = base.with_name(base.name + "_strip.png")
            write_image(outputs.path("strip", strip), result.strip, format="png")
        return {
            "seed": face_seed(self.context.seed, item.name, 0),
            "faces_edited": result.faces,
            "image_size": {"width": image.size[1], "height": image.size[0]},
        }
