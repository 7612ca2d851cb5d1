"""Region masks from landmarks and from a (fake) face parser."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facefill.errors import UsageError
from facefill.faces import landmarks as lm
from facefill.faces.align import align_face
from facefill.faces.regions import LANDMARK_REGIONS, LandmarkRegionProvider, ParserRegionProvider
from faces_data import astronaut, astronaut_face


def _distance_outside_polygon(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    """Per pixel, Euclidean distance to the exact (float) polygon; 0 inside."""
    poly = polygon.astype(np.float32).reshape(-1, 1, 2)
    out = np.zeros(shape, np.float32)
    for y in range(shape[0]):
        for x in range(shape[1]):
            out[y, x] = max(-cv2.pointPolygonTest(poly, (float(x), float(y)), True), 0.0)
    return out


@pytest.mark.parametrize("dilate", [0, 6])
def test_mouth_mask_covers_landmarks_and_stays_within_dilation(dilate):
    img = np.asarray(astronaut())
    face = astronaut_face()
    mask = LandmarkRegionProvider(dilate=dilate).regions(img, face, ["mouth"])["mouth"]
    assert mask.shape == img.shape[:2] and mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
    pts = np.rint(face.landmarks[lm.MOUTH_OUTER]).astype(int)
    assert (mask[pts[:, 1], pts[:, 0]] == 1).all()
    inner = np.rint(face.landmarks[lm.MOUTH_INNER]).astype(int)
    assert (mask[inner[:, 1], inner[:, 0]] == 1).all()
    # Only look near the mouth (the distance helper is a slow pure-Python loop).
    y0, x0 = pts.min(0)[::-1] - dilate - 4
    y1, x1 = pts.max(0)[::-1] + dilate + 5
    assert mask.sum() == mask[y0:y1, x0:x1].sum()
    dist = _distance_outside_polygon((y1 - y0, x1 - x0), face.landmarks[lm.MOUTH_OUTER] - [x0, y0])
    assert dist[mask[y0:y1, x0:x1] == 1].max() <= dilate + 1
    # and dilation really grows the mask
    if dilate:
        base = LandmarkRegionProvider().regions(img, face, ["mouth"])["mouth"]
        assert mask.sum() > base.sum() * 1.3 and (mask >= base).all()


def test_all_landmark_regions_are_plausible():
    img = np.asarray(astronaut())
    face = astronaut_face()
    regions = LandmarkRegionProvider().regions(img, face)
    assert set(regions) == set(LANDMARK_REGIONS)
    p = face.landmarks
    for name, mask in regions.items():
        assert mask.any(), name
    face_oval = regions["face"]
    for part in ("eyes", "brows", "nose", "mouth"):
        assert (regions[part] <= face_oval).mean() > 0.99, part
    # The face oval reaches above the brows (forehead), the lower face stays below the eyes.
    ys = np.nonzero(face_oval)[0]
    assert ys.min() < p[17:27, 1].min() - 15
    assert np.nonzero(regions["lower_face"])[0].min() > p[36:48, 1].mean()
    assert (regions["mouth"] <= regions["lower_face"]).all()
    assert regions["nose"].sum() < regions["lower_face"].sum()
    # Lips are the mouth minus its inner opening.
    inner = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(inner, [np.rint(p[lm.MOUTH_INNER]).astype(np.int32)], 1)
    assert (regions["lips"] <= regions["mouth"]).all()
    assert not (regions["lips"].astype(bool) & inner.astype(bool)).any()
    # Each eye mask contains its eye's centre.
    for sl in (lm.LEFT_EYE, lm.RIGHT_EYE):
        cx, cy = np.rint(p[sl].mean(0)).astype(int)
        assert regions["eyes"][cy, cx] == 1


def test_unknown_region_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown face region"):
        LandmarkRegionProvider().regions(np.asarray(astronaut()), astronaut_face(), ["ears"])


def _fake_parser_from_crop_geometry(size: int):
    """A parser whose class 1 = left half of the crop, class 2 = right half, class 0 = nothing."""

    def parse(crop: np.ndarray) -> np.ndarray:
        assert crop.shape == (size, size, 3)
        probs = np.zeros((3, size // 2, size // 2), np.float32)  # parsers often output lower-res
        probs[1, :, : size // 4] = 1.0
        probs[2, :, size // 4 :] = 1.0
        return probs

    return parse


def test_parser_regions_map_crop_classes_back_to_the_photo():
    img = np.asarray(astronaut())
    face = astronaut_face()
    provider = ParserRegionProvider(
        _fake_parser_from_crop_geometry(128), {"left": [1], "right": [2], "both": [1, 2]}, input_size=128
    )
    regions = provider.regions(img, face)
    aligned = align_face(img, face.landmarks, 128)
    ys, xs = np.mgrid[: img.shape[0], : img.shape[1]]
    crop_xy = aligned.to_crop(np.stack([xs.ravel(), ys.ravel()], 1)).reshape(*img.shape[:2], 2)
    in_square = (crop_xy >= -0.5).all(2) & (crop_xy <= 127.5).all(2)
    expected_left = in_square & (crop_xy[..., 0] < 63.5)
    # Allow disagreement only within a pixel or two of the square's edges and mid-line.
    edge = np.minimum.reduce(
        [
            np.abs(crop_xy[..., 0] + 0.5),
            np.abs(crop_xy[..., 0] - 63.5),
            np.abs(crop_xy[..., 0] - 127.5),
            np.abs(crop_xy[..., 1] + 0.5),
            np.abs(crop_xy[..., 1] - 127.5),
        ]
    ) * np.hypot(*aligned.matrix[:2, 0])
    far = edge > 2.0
    assert np.array_equal(regions["left"].astype(bool)[far], expected_left[far])
    assert np.array_equal(regions["both"].astype(bool)[far], in_square[far])
    assert not (regions["left"].astype(bool) & regions["right"].astype(bool)).any()


def test_parser_mouth_agrees_with_landmark_mouth():
    img = np.asarray(astronaut())
    face = astronaut_face()
    size = 256

    def parse(crop: np.ndarray) -> np.ndarray:
        # A "parser" that knows where the mouth is: the landmark mouth polygon drawn in crop space.
        aligned = align_face(img, face.landmarks, size)
        poly = aligned.to_crop(face.landmarks[lm.MOUTH_OUTER])
        mouth = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mouth, [np.rint(poly).astype(np.int32)], 1)
        probs = np.zeros((19, size, size), np.float32)
        probs[11] = mouth * 0.6  # split the mouth probability across BiSeNet's mouth/lip classes
        probs[12] = mouth * 0.4
        probs[0] = 1.0 - mouth
        return probs

    parsed = ParserRegionProvider(parse, {"mouth": [11, 12, 13]}, input_size=size).regions(img, face)["mouth"]
    drawn = LandmarkRegionProvider().regions(img, face, ["mouth"])["mouth"]
    iou = (parsed * drawn).sum() / np.maximum(parsed, drawn).sum()
    assert iou > 0.85


def test_bisenet_architecture_plugs_into_the_parser_provider():
    import torch

    from facefill.faces.parser_adapter import parser_from_torch
    from facefill.models.bisenet import BISENET_FACEFILL_REGIONS, BiSeNet

    torch.manual_seed(0)
    model = BiSeNet(19).eval()  # random weights: only the wiring is under test
    everything = tuple(range(19))
    provider = ParserRegionProvider(
        parser_from_torch(model, input_size=64),
        {**BISENET_FACEFILL_REGIONS, "all": everything},
        input_size=64,
    )
    img = np.asarray(astronaut())
    face = astronaut_face()
    regions = provider.regions(img, face, ["all", "mouth", "lips"])
    assert all(m.shape == img.shape[:2] for m in regions.values())
    # Class probabilities sum to 1, so "all" is exactly the aligned square (away from its edges).
    aligned = align_face(img, face.landmarks, 64)
    centre = np.rint(aligned.to_photo([[31.5, 31.5]])[0]).astype(int)
    corner_outside = np.rint(aligned.to_photo([[-8.0, -8.0]])[0]).astype(int)
    assert regions["all"][centre[1], centre[0]] == 1
    assert regions["all"][corner_outside[1], corner_outside[0]] == 0
    # Disjoint class groups cannot both exceed probability 0.5 at one pixel.
    assert not (regions["mouth"].astype(bool) & regions["lips"].astype(bool)).any()
