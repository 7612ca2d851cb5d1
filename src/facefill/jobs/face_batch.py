"""The first step every face-editing processor (edit, synthesize-discrete) shares.

Find the faces of each photo of a batch (a photo without one becomes that item's error, the batch
goes on), list them in one flat order for a single round trip, and give each face its own seed so
a face's result does not depend on its batch neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facefill.errors import FaceNotFoundError
from facefill.runtime.seed import item_seed


def face_seed(seed: int, name: str, face: int) -> int:
    """Seed of face `face` of the item named `name` in a run seeded `seed`."""
    return item_seed(seed, f"{name}#face{face}")


@dataclass
class BatchFaces:
    """faces[n]: the faces found in photo n; errors[n]: why none were; order: (photo, face) pairs."""

    faces: list[list[Any]]
    errors: dict[int, FaceNotFoundError]
    order: list[tuple[int, int]]
    seeds: list[int]

    def picks(self, photo: int) -> list[int]:
        """Positions in `order` of photo `photo`'s faces."""
        return [j for j, (n, _) in enumerate(self.order) if n == photo]


def find_batch_faces(batch: list[tuple[Any, Any]], face: str | int, detector: str, seed: int) -> BatchFaces:
    """`batch` is [(WorkItem, LoadedImage)]; faces are searched on each image's `rgb`."""
    from facefill.faces.roundtrip import FaceSearch

    search = FaceSearch(face, detector)
    faces: list[list[Any]] = []
    errors: dict[int, FaceNotFoundError] = {}
    for n, (item, image) in enumerate(batch):
        try:
            faces.append(search.find(image.rgb, str(item.source)))
        except FaceNotFoundError as exc:
            errors[n] = exc
            faces.append([])
    order = [(n, k) for n, found in enumerate(faces) for k in range(len(found))]
    seeds = [face_seed(seed, batch[n][0].name, k) for n, k in order]
    return BatchFaces(faces, errors, order, seeds)
