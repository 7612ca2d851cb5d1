"""Pick which detected face(s) a command works on: `--face largest|center|all|INDEX`.

Faces are numbered left to right (then top to bottom) by their box centre, so an index names the
same person however confident the detector was.
"""

from __future__ import annotations

from collections.abc import Sequence

from facefill.errors import FaceNotFoundError, UsageError
from facefill.faces.face import Face

CHOICES = ("largest", "center", "all")


def parse_face_choice(value: str | int) -> str | int:
    """Validate a `--face` value: one of CHOICES or a non-negative integer index."""
    if isinstance(value, int):
        choice: str | int = value
    elif str(value).strip().lower() in CHOICES:
        return str(value).strip().lower()
    else:
        try:
            choice = int(str(value).strip())
        except ValueError:
            raise UsageError(
                f"--face {value!r}: use largest, center, all or a face index (0, 1, ...)"
            ) from None
    if choice < 0:
        raise UsageError(f"--face {value!r}: a face index must be 0 or more")
    return choice


def reading_order(faces: Sequence[Face]) -> list[Face]:
    """Faces sorted left to right, then top to bottom, by box centre."""
    return sorted(faces, key=lambda f: (f.center[0], f.center[1]))


def select_faces(
    faces: Sequence[Face], choice: str | int, image_size: tuple[int, int], *, source: str = "image"
) -> list[Face]:
    """The chosen faces (reading order for `all`); raises FaceNotFoundError when none fits.

    `image_size` is (H, W), used by `center`; `source` names the photo in error messages.
    """
    choice = parse_face_choice(choice)
    if not faces:
        raise FaceNotFoundError(f"{source}: no face found (try --detector cnn or a lower --face-threshold)")
    ordered = reading_order(faces)
    if choice == "all":
        return ordered
    if choice == "largest":
        return [max(ordered, key=lambda f: f.area)]
    if choice == "center":
        cy, cx = image_size[0] / 2.0, image_size[1] / 2.0
        return [min(ordered, key=lambda f: (f.center[0] - cx) ** 2 + (f.center[1] - cy) ** 2)]
    assert isinstance(choice, int)
    if choice >= len(ordered):
        raise FaceNotFoundError(
            f"{source}: --face {choice} asked for face #{choice} but only {len(ordered)} found "
            f"(faces are numbered from 0, left to right)"
        )
    return [ordered[choice]]
