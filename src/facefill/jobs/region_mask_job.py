"""`facefill mask --kind region` as a runner job: one face-region mask per photo.

Each photo gives `NAME_mask.png` at the photo's own (upright) size: the union of the requested
regions over the chosen faces, grown by `dilate`. The `_mask` suffix lets
`facefill inpaint photos/ --mask masks/` pair masks with their photos. A photo without a face (or
unreadable) fails alone; the other photos' masks and the manifest are still written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facefill.errors import OutputError
from facefill.jobs.mask_job import write_mask_png
from facefill.jobs.plan import PlanRequest, WorkItem, build_plan


@dataclass(frozen=True)
class RegionSettings:
    regions: tuple[str, ...]
    face: str | int = "largest"  # facefill.faces.select choice
    dilate: int = 0


def plan_regions(inputs: tuple[str, ...], output: Path) -> list[WorkItem]:
    """Photos -> items writing `OUT/REL_DIR/STEM_mask.png` (+ `STEM_mask.json`), never over an input."""
    planned = build_plan(PlanRequest(inputs=inputs, output=str(output), fmt="png", require_mask=False))
    inputs_seen = {item.source.resolve() for item in planned}
    items = []
    for item in planned:
        stem = item.output.stem + "_mask"
        out, side = item.output.with_name(stem + ".png"), item.output.with_name(stem + ".json")
        if out.resolve() in inputs_seen or side.resolve() in inputs_seen:
            raise OutputError(f"{out} is an input; facefill never overwrites inputs: use another -o")
        items.append(WorkItem(item.source, item.rel, out, side, preset_status=item.preset_status,
                              preset_reason=item.preset_reason))  # fmt: skip
    return items


class RegionMaskProcessor:
    """Processor (see jobs.processor): read a photo, find faces, rasterise their regions."""

    description = "region masks"

    def __init__(self, settings: RegionSettings) -> None:
        from facefill.faces.regions import LandmarkRegionProvider

        self.settings = settings
        self.provider = LandmarkRegionProvider(dilate=settings.dilate)

    def run_info(self) -> dict[str, Any]:
        s = self.settings
        return {"kind": "region", "regions": list(s.regions), "face": s.face, "dilate": s.dilate}

    def load(self, item: WorkItem) -> Any:
        from facefill.io.images import read_image

        return read_image(item.source)

    def process(self, batch: list[tuple[WorkItem, Any]]) -> list[tuple[np.ndarray, int]]:
        from facefill.faces.find import find_faces

        results = []
        for item, image in batch:
            faces = find_faces(image.rgb, choice=self.settings.face, source=str(item.source))
            mask = np.zeros(image.size, bool)
            for face in faces:
                for region in self.provider.regions(image.rgb, face, list(self.settings.regions)).values():
                    mask |= region > 0.5
            results.append((mask, len(faces)))
        return results

    def save(self, item: WorkItem, image: Any, result: tuple[np.ndarray, int], target: Path) -> dict:
        mask, faces = result
        return {"faces": faces, **write_mask_png(mask, target)}
