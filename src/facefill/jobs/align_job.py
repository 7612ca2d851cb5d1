"""Processors for `facefill align`: photos -> aligned face crops (+ JSON), and crops -> photos.

Align: each photo is one work item with several outputs (jobs.outputs.ItemOutputs): the crop of
every chosen face (`NAME_face{i}.EXT`) and, for faces after the first, its JSON; the item's sidecar
`NAME_face0.json` is written last and lists them all, so a photo is done only when every face is.
Every JSON holds the exact crop->photo transform, the FFHQ quad and the 68 landmarks.

Paste-back: each original photo is one item; its processed crops `NAME_face{i}.EXT` are found in
the crops folder and their transforms in the matching JSONs; the original crops are re-rendered
from the stored squares, and `faces.roundtrip.paste_crops` blends each face back at the photo's
full resolution with a feathered face mask, keeping every pixel the crop did not change.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facefill.errors import FacefillError, ImageReadError, OutputError
from facefill.jobs.discover import IMAGE_EXTENSIONS
from facefill.jobs.outputs import ItemOutputs
from facefill.jobs.plan import WorkItem

FACE_SUFFIX = "_face"


def face_output(path: Path, index: int) -> Path:
    """`DIR/photo.png` -> `DIR/photo_face{index}.png`."""
    return path.with_name(f"{path.stem}{FACE_SUFFIX}{index}{path.suffix}")


def retarget_items(items: list[WorkItem]) -> list[WorkItem]:
    """Point each planned item at its face-0 crop and JSON (`NAME_face0.EXT`, `NAME_face0.json`)."""
    out = []
    for item in items:
        first = face_output(item.output, 0)
        out.append(dataclasses.replace(item, output=first, sidecar=first.with_suffix(".json")))
    inputs = {item.source.resolve() for item in items}
    for item in out:
        if item.output.resolve() in inputs or item.sidecar.resolve() in inputs:
            raise OutputError(f"{item.output} is an input; facefill never overwrites inputs: use another -o")
    return out


@dataclass
class AlignSettings:
    size: int = 1024
    face: str | int = "largest"
    detector: str = "hog"
    upsample: int = 1
    threshold: float | None = None
    try_rotations: bool = True
    quality: int = 95
    max_pixels: int | None = None

    def search(self) -> Any:
        from facefill.faces.roundtrip import FaceSearch

        return FaceSearch(self.face, self.detector, self.upsample, self.threshold, self.try_rotations)


def _crop_like(image: Any) -> Any:
    """A `like=` template for crops: the photo's bit depth, gray-ness, EXIF and ICC, no alpha."""
    return dataclasses.replace(image, alpha=None)


class AlignProcessor:
    """Processor (see jobs.processor) that writes aligned crops and their transforms."""

    description = "align"

    def __init__(self, settings: AlignSettings, warn: Any = None, *, context: Any = None) -> None:
        self.settings = settings

    def run_info(self) -> dict[str, Any]:
        s = self.settings
        return {
            "align": {
                "recipe": "ffhq",
                "size": s.size,
                "face": s.face,
                "detector": s.detector,
                "upsample": s.upsample,
                "threshold": s.threshold,
                "try_rotations": s.try_rotations,
            }
        }

    def load(self, item: WorkItem) -> Any:
        from facefill.io.images import read_image

        return read_image(item.source, max_pixels=self.settings.max_pixels)

    def process(self, batch: list[tuple[WorkItem, Any]]) -> list[list[Any]]:
        """Per photo, its faces' `faces.roundtrip.FaceCrop`s."""
        from facefill.faces.roundtrip import align_crops

        search = self.settings.search()
        return [
            align_crops(image.rgb, search.find(image.rgb, str(item.source)), self.settings.size)
            for item, image in batch
        ]

    def _fields(self, image: Any, crops: list[Any], index: int) -> dict[str, Any]:
        return {
            "face_index": index,
            "faces_written": len(crops),
            "photo_size": {"width": image.size[1], "height": image.size[0]},
            "face": crops[index].face.to_dict(),
            "transform": crops[index].aligned.transform_dict(),
        }

    def save_outputs(
        self, item: WorkItem, image: Any, crops: list[Any], outputs: ItemOutputs
    ) -> dict[str, Any]:
        from facefill.io.images import write_image

        like = _crop_like(image)
        fmt = item.output.suffix.lstrip(".")
        first = item.output  # DIR/NAME_face0.EXT
        base = first.with_name(first.stem[: -len(f"{FACE_SUFFIX}0")] + first.suffix)
        for index, crop in enumerate(crops):
            out = face_output(base, index)
            target = outputs.target if index == 0 else outputs.path(f"face{index}", out)
            write_image(target, crop.aligned.image, like=like, format=fmt, quality=self.settings.quality)
            if index:
                outputs.metadata(
                    f"face{index}_json",
                    out.with_suffix(".json"),
                    describes=out,
                    fields=self._fields(image, crops, index),
                )
        return self._fields(image, crops, 0)


@dataclass
class PasteSettings:
    crops: Path
    transforms: Path
    feather: float | None = None
    quality: int = 95
    max_pixels: int | None = None


@dataclass
class _PasteLoaded:
    image: Any  # LoadedImage
    crops: list[Any]  # faces.roundtrip.FaceCrop: the original crops, re-rendered from the photo
    processed: list[np.ndarray]  # float32 [0,1] processed crops (any square size)
    files: list[tuple[Path, Path]]  # (crop path, transform JSON path)


def find_crops(crops_dir: Path, rel_parent: Path, stem: str) -> list[Path]:
    """`stem_face0.*`, `stem_face1.*`, ... in order, stopping at the first missing index."""
    found = []
    folder = crops_dir / rel_parent
    index = 0
    while True:
        hits = [
            p
            for p in sorted(folder.glob(f"{stem}{FACE_SUFFIX}{index}.*"))
            if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
        ]
        if not hits:
            return found
        found.append(hits[0])
        index += 1


@dataclass(frozen=True)
class StoredCrop:
    """What an align JSON says about one crop: its square in the photo and the face in it."""

    matrix: np.ndarray
    size: int
    quad: np.ndarray
    face: Any  # facefill.faces.face.Face


def read_transform(path: Path, photo_size: tuple[int, int]) -> StoredCrop:
    """The crop's transform and face from an align JSON; errors name the file and the fix."""
    from facefill.faces.face import Face

    try:
        data = json.loads(path.read_text())
        transform = data["transform"]
        matrix = np.asarray(transform["crop_to_photo"], dtype=np.float64)
        size = int(transform["size"])
        stored = tuple(int(v) for v in transform["photo_size"])
        quad = np.asarray(transform["quad"], dtype=np.float64)
        face = Face.from_dict(data["face"])
    except FileNotFoundError:
        raise FacefillError(
            f"{path} is missing: point --transforms at the folder `facefill align` wrote"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise FacefillError(
            f"{path} has no align transform (another command's sidecar?): point --transforms at the "
            "folder `facefill align` wrote"
        ) from None
    if matrix.shape != (3, 3) or quad.shape != (4, 2) or face.landmarks is None:
        raise FacefillError(f"{path}: needs a 3x3 crop_to_photo, a 4x2 quad and 68 landmarks")
    if stored != tuple(photo_size):
        raise FacefillError(
            f"{path} was made for a {stored[1]}x{stored[0]} photo but this photo is "
            f"{photo_size[1]}x{photo_size[0]}: paste back into the photo that was aligned"
        )
    return StoredCrop(matrix, size, quad, face)


class PasteBackProcessor:
    """Processor (see jobs.processor) that pastes processed crops back into their photos."""

    description = "paste back"

    def __init__(self, settings: PasteSettings, warn: Any = None, *, context: Any = None) -> None:
        self.settings = settings
        self.warn = warn

    def run_info(self) -> dict[str, Any]:
        return {
            "paste_back": {
                "crops": str(self.settings.crops),
                "transforms": str(self.settings.transforms),
                "blend": "feathered face mask; unchanged crop pixels keep the photo's",
            }
        }

    def load(self, item: WorkItem) -> _PasteLoaded:
        from facefill.faces.roundtrip import align_crops, to_unit
        from facefill.io.images import read_image

        image = read_image(item.source, max_pixels=self.settings.max_pixels)
        rel_parent = Path(*item.rel.parent.parts)
        paths = find_crops(self.settings.crops, rel_parent, item.source.stem)
        if not paths:
            raise FacefillError(
                f"{item.source}: no crop {item.source.stem}{FACE_SUFFIX}0.* in "
                f"{self.settings.crops / rel_parent}: run `facefill align` first or fix --paste-back"
            )
        loaded = _PasteLoaded(image, [], [], [])
        for index, crop_path in enumerate(paths):
            json_path = self.settings.transforms / rel_parent / (crop_path.stem + ".json")
            stored = read_transform(json_path, image.size)
            pixels = read_image(crop_path).rgb
            if pixels.shape[0] != pixels.shape[1]:
                raise ImageReadError(
                    f"{crop_path} is {pixels.shape[1]}x{pixels.shape[0]}; aligned crops are square"
                )
            (crop,) = align_crops(
                image.rgb, [stored.face], stored.size, quads=[stored.quad], feather=self.settings.feather
            )
            if not np.allclose(crop.matrix, stored.matrix, rtol=0, atol=1e-6):
                raise FacefillError(
                    f"{json_path}: crop_to_photo does not match its quad: re-run `facefill align`"
                )
            loaded.crops.append(dataclasses.replace(crop, face_index=index))
            loaded.processed.append(to_unit(pixels))
            loaded.files.append((crop_path, json_path))
        return loaded

    def process(self, batch: list[tuple[WorkItem, _PasteLoaded]]) -> list[np.ndarray]:
        from facefill.faces.roundtrip import paste_crops

        return [
            paste_crops(
                loaded.image.rgb, loaded.crops, loaded.processed, warn=self.warn, source=str(item.source)
            )
            for item, loaded in batch
        ]

    def save(self, item: WorkItem, loaded: _PasteLoaded, result: np.ndarray, target: Path) -> dict[str, Any]:
        from facefill.io.files import sha256_file
        from facefill.io.images import write_image

        fmt = item.output.suffix.lstrip(".")
        write_image(target, result, like=loaded.image, format=fmt, quality=self.settings.quality)
        return {
            "pasted": [
                {"crop": str(c), "crop_sha256": sha256_file(c), "transform": str(j)} for c, j in loaded.files
            ]
        }
