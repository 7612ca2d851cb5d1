"""Processors for `facefill align`: photos -> aligned face crops (+ JSON), and crops -> photos.

Align: each photo is one work item; its first chosen face is the item's output (`NAME_face0.EXT`,
sidecar `NAME_face0.json`, written last by the runner, so resume works per photo); further faces
(`--face all`) are written beside it by the processor, each with its own JSON. Every JSON holds
the exact crop->photo transform, the FFHQ quad and the 68 landmarks.

Paste-back: each original photo is one item; its processed crops `NAME_face{i}.EXT` are found in
the crops folder and their transforms in the matching JSONs, and all faces are pasted back at the
photo's full resolution.
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


@dataclass
class _AlignResult:
    faces: list[Any]  # facefill.faces.face.Face
    crops: list[Any]  # facefill.faces.align.AlignedFace


def _crop_like(image: Any) -> Any:
    """A `like=` template for crops: the photo's bit depth, gray-ness, EXIF and ICC, no alpha."""
    return dataclasses.replace(image, alpha=None)


class AlignProcessor:
    """Processor (see jobs.processor) that writes aligned crops and their transforms."""

    description = "align"

    def __init__(self, settings: AlignSettings, warn: Any = None) -> None:
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

    def process(self, batch: list[tuple[WorkItem, Any]]) -> list[_AlignResult]:
        from facefill.faces.align import align_face
        from facefill.faces.find import find_faces

        s = self.settings
        results = []
        for item, image in batch:
            faces = find_faces(
                image.rgb,
                choice=s.face,
                detector=s.detector,
                upsample=s.upsample,
                threshold=s.threshold,
                try_rotations=s.try_rotations,
                source=str(item.source),
            )
            results.append(_AlignResult(faces, [align_face(image.rgb, f.landmarks, s.size) for f in faces]))
        return results

    def _fields(self, image: Any, result: _AlignResult, index: int) -> dict[str, Any]:
        return {
            "face_index": index,
            "faces_written": len(result.faces),
            "photo_size": {"width": image.size[1], "height": image.size[0]},
            "face": result.faces[index].to_dict(),
            "transform": result.crops[index].transform_dict(),
        }

    def save(self, item: WorkItem, image: Any, result: _AlignResult, target: Path) -> dict[str, Any]:
        from facefill.io.files import sha256_file
        from facefill.io.images import write_image
        from facefill.jobs.sidecar import sidecar_record, write_sidecar
        from facefill.runtime.invocation import command_line

        like = _crop_like(image)
        fmt = item.output.suffix.lstrip(".")
        write_image(target, result.crops[0].image, like=like, format=fmt, quality=self.settings.quality)
        if len(result.crops) > 1:
            input_sha = sha256_file(item.source)
            for index in range(1, len(result.crops)):
                first = item.output  # DIR/NAME_face0.EXT
                base = first.with_name(first.stem[: -len(f"{FACE_SUFFIX}0")] + first.suffix)
                out = face_output(base, index)
                write_image(
                    out, result.crops[index].image, like=like, format=fmt, quality=self.settings.quality
                )
                record = sidecar_record(
                    output=out,
                    input_path=item.source,
                    input_sha256=input_sha,
                    companions={},
                    timings_ms={},
                    extra={**self.run_info(), **self._fields(image, result, index)},
                    command=command_line(),
                )
                write_sidecar(out.with_suffix(".json"), record)
        return self._fields(image, result, 0)


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
    pieces: list[tuple[Path, np.ndarray, Path, np.ndarray]]  # crop path, pixels, json path, matrix


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


def read_transform(path: Path, photo_size: tuple[int, int]) -> tuple[np.ndarray, int]:
    """(crop->photo matrix, crop size) from an align JSON; errors name the file and the fix."""
    try:
        data = json.loads(path.read_text())
        transform = data["transform"]
        matrix = np.asarray(transform["crop_to_photo"], dtype=np.float64)
        size = int(transform["size"])
        stored = tuple(int(v) for v in transform["photo_size"])
    except FileNotFoundError:
        raise FacefillError(
            f"{path} is missing: point --transforms at the folder `facefill align` wrote"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise FacefillError(
            f"{path} has no align transform (another command's sidecar?): point --transforms at the "
            "folder `facefill align` wrote"
        ) from None
    if matrix.shape != (3, 3):
        raise FacefillError(f"{path}: crop_to_photo must be a 3x3 matrix")
    if stored != tuple(photo_size):
        raise FacefillError(
            f"{path} was made for a {stored[1]}x{stored[0]} photo but this photo is "
            f"{photo_size[1]}x{photo_size[0]}: paste back into the photo that was aligned"
        )
    return matrix, size


class PasteBackProcessor:
    """Processor (see jobs.processor) that pastes processed crops back into their photos."""

    description = "paste back"

    def __init__(self, settings: PasteSettings, warn: Any = None) -> None:
        self.settings = settings

    def run_info(self) -> dict[str, Any]:
        return {
            "paste_back": {"crops": str(self.settings.crops), "transforms": str(self.settings.transforms)}
        }

    def load(self, item: WorkItem) -> _PasteLoaded:
        from facefill.io.images import read_image

        image = read_image(item.source, max_pixels=self.settings.max_pixels)
        rel_parent = Path(*item.rel.parent.parts)
        crops = find_crops(self.settings.crops, rel_parent, item.source.stem)
        if not crops:
            raise FacefillError(
                f"{item.source}: no crop {item.source.stem}{FACE_SUFFIX}0.* in "
                f"{self.settings.crops / rel_parent}: run `facefill align` first or fix --paste-back"
            )
        pieces = []
        for crop_path in crops:
            json_path = self.settings.transforms / rel_parent / (crop_path.stem + ".json")
            matrix, size = read_transform(json_path, image.size)
            crop = read_image(crop_path).rgb
            if crop.shape[0] != crop.shape[1]:
                raise ImageReadError(
                    f"{crop_path} is {crop.shape[1]}x{crop.shape[0]}; aligned crops are square"
                )
            pieces.append((crop_path, crop, json_path, self._matrix_for(matrix, size, crop.shape[0])))
        return _PasteLoaded(image, pieces)

    @staticmethod
    def _matrix_for(matrix: np.ndarray, size: int, crop_size: int) -> np.ndarray:
        from facefill.faces.paste import rescale_crop_matrix

        return matrix if crop_size == size else rescale_crop_matrix(matrix, size, crop_size)

    def process(self, batch: list[tuple[WorkItem, _PasteLoaded]]) -> list[np.ndarray]:
        from facefill.faces.paste import paste_back

        results = []
        for _, loaded in batch:
            photo = loaded.image.rgb
            for _, crop, _, matrix in loaded.pieces:
                photo = paste_back(photo, _to_dtype(crop, photo.dtype), matrix, feather=self.settings.feather)
            results.append(photo)
        return results

    def save(self, item: WorkItem, loaded: _PasteLoaded, result: np.ndarray, target: Path) -> dict[str, Any]:
        from facefill.io.files import sha256_file
        from facefill.io.images import write_image

        fmt = item.output.suffix.lstrip(".")
        write_image(target, result, like=loaded.image, format=fmt, quality=self.settings.quality)
        return {
            "pasted": [
                {"crop": str(c), "crop_sha256": sha256_file(c), "transform": str(j)}
                for c, _, j, _ in loaded.pieces
            ]
        }


def _to_dtype(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """8-bit crop into a 16-bit photo (or back) on the same 0..1 scale."""
    if pixels.dtype == dtype:
        return pixels
    src_top = 65535.0 if pixels.dtype == np.uint16 else 255.0
    dst_top = 65535.0 if dtype == np.uint16 else 255.0
    return np.clip(np.rint(pixels.astype(np.float64) * (dst_top / src_top)), 0, dst_top).astype(dtype)
