"""The face round trip: one batch for every face, seamless face-mask paste-back, unchanged pixels kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facefill.faces.paste import FACE_MASK_FEATHER, FACE_MASK_GROW
from facefill.faces.regions import draw_region, landmark_polygons
from facefill.faces.roundtrip import (
    FaceSearch,
    align_crops,
    paste_crops,
    round_trip,
)
from faces_data import astronaut, astronaut_face, psnr, two_faces


def _identity(crops, masks):
    return crops.copy()


def _photo_px_per_crop_px(crop) -> float:
    return float(np.sqrt(abs(np.linalg.det(crop.matrix[:2, :2]))))


@pytest.mark.parametrize("size", [256, 1024])
def test_unmodified_crop_pastes_back_into_an_identical_photo(size):
    photo = np.asarray(astronaut())
    trip = round_trip([photo], _identity, size=size, faces=[[astronaut_face()]])
    assert trip.processed.shape == (1, size, size, 3)
    assert np.array_equal(trip.photos[0], photo)  # every crop pixel "unchanged": nothing pasted


@pytest.mark.parametrize(("size", "floor_db"), [(1024, 45.0), (256, 35.0)])
def test_face_mask_blend_alone_is_seamless_and_faithful(size, floor_db):
    """Paste every crop pixel (keep_unchanged off): only the face region is resampled."""
    photo = np.asarray(astronaut())
    trip = round_trip([photo], _identity, size=size, faces=[[astronaut_face()]], keep_unchanged=False)
    assert psnr(trip.photos[0], photo) >= floor_db


def test_nothing_outside_the_feathered_face_region_changes_and_the_edge_is_soft():
    # A flat grey photo with the astronaut's landmarks: resampling is exact, only the blend shows.
    photo = np.full(astronaut().shape, 128, np.uint8)
    face = astronaut_face()
    (crop,) = align_crops(photo, [face], 256)
    out = paste_crops(photo, [crop], [crop.pixels() + 0.1], keep_unchanged=False)
    delta = out.astype(float) - photo
    # Independent geometry: the face hull (jaw, brows, forehead) in photo pixels, grown by the
    # mask's growth + feather (converted from crop to photo pixels) and 2 px of interpolation.
    hull = draw_region(photo.shape[:2], landmark_polygons(face.landmarks)["face"]) > 0
    reach = (FACE_MASK_GROW + FACE_MASK_FEATHER) * 256 * _photo_px_per_crop_px(crop) + 2
    distance = cv2.distanceTransform((~hull).astype(np.uint8), cv2.DIST_L2, 5)
    assert not delta[distance > reach].any()
    assert (delta[hull] >= 25).all()  # the whole face got the brighter crop (+25.5 levels)
    # No seam: the change ramps in; neighbouring pixels never jump by a hard edge's 25 levels.
    assert np.abs(np.diff(delta, axis=0)).max() <= 6 and np.abs(np.diff(delta, axis=1)).max() <= 6


def test_all_faces_of_all_photos_run_as_one_batch_and_faceless_photos_are_reported():
    calls = []

    def darken_centre(crops, masks):
        calls.append(crops.shape)
        out = crops.copy()
        out[:, 48:80, 48:80] = 0.0
        return out

    blank = np.full((120, 160, 3), 90, np.uint8)
    photos = [np.asarray(astronaut()), two_faces(), blank]
    trip = round_trip(photos, darken_centre, size=128, search=FaceSearch(choice="all"))
    assert calls == [(3, 128, 128, 3)]  # astronaut + two faces, one call
    assert [c.photo_index for c in trip.crops] == [0, 1, 1]
    assert list(trip.errors) == [2] and "no face" in str(trip.errors[2])
    assert np.array_equal(trip.photos[2], blank)
    for crop in trip.crops:  # each face's crop centre is dark in its photo now
        x, y = np.rint(crop.aligned.to_photo(np.array([[63.5, 63.5]]))[0]).astype(int)
        assert trip.photos[crop.photo_index][y, x].max() < 20


def test_explicit_changed_mask_limits_the_paste():
    photo = np.asarray(astronaut())

    def paint_all_claim_square(crops, masks):
        changed = np.zeros(crops.shape[:3], np.float32)
        changed[:, 100:140, 100:140] = 1.0
        return np.zeros_like(crops), changed

    trip = round_trip([photo], paint_all_claim_square, size=256, faces=[[astronaut_face()]])
    crop = trip.crops[0]
    weights = np.zeros((256, 256), np.float32)
    weights[100:140, 100:140] = 1.0
    footprint = cv2.warpAffine(weights, crop.matrix[:2], photo.shape[1::-1]) > 0
    differs = np.any(trip.photos[0] != photo, axis=2)
    assert differs.any() and not (differs & ~footprint).any()


def test_regions_choose_what_is_pasted_and_reach_the_callable():
    photo = np.asarray(astronaut())
    hole = np.zeros(photo.shape[:2], np.float32)
    hole[128:150, 195:252] = 1.0  # the mouth
    seen = []

    def green(crops, masks):
        seen.append(masks)
        return np.broadcast_to(np.array([0.0, 1.0, 0.0], np.float32), crops.shape).copy()

    trip = round_trip([photo], green, size=256, faces=[[astronaut_face()]], regions=[hole])
    ys, xs = np.nonzero(seen[0][0])
    assert abs(xs.mean() / 256 - 0.5) < 0.08 and abs(ys.mean() / 256 - 0.7) < 0.08  # the aligned mouth
    out = trip.photos[0]
    assert np.array_equal(out[hole == 0], photo[hole == 0])
    assert (out[hole > 0] == [0, 255, 0]).all()


def test_smaller_processed_crops_and_gray_or_16bit_photos_paste_back():
    face = astronaut_face()
    gray16 = (cv2.cvtColor(np.asarray(astronaut()), cv2.COLOR_RGB2GRAY).astype(np.uint16)) * 257

    def halve(crops, masks):
        assert crops.shape == (1, 256, 256, 1) and crops.dtype == np.float32
        return crops[:, ::2, ::2].copy() * 0.5

    trip = round_trip([gray16], halve, size=256, faces=[[face]])
    out = trip.photos[0]
    assert out.dtype == np.uint16 and out.shape == gray16.shape
    x, y = np.rint(face.center).astype(int)
    assert abs(int(out[y, x]) - int(gray16[y, x]) // 2) < 0.05 * 65535


def test_a_crop_much_smaller_than_the_face_is_warned_about_once():
    photo = np.asarray(astronaut())
    for size, expected in [(64, 1), (512, 0)]:
        messages: list[str] = []
        round_trip(
            [photo],
            _identity,
            size=size,
            faces=[[astronaut_face()]],
            keep_unchanged=False,
            warn=messages.append,
            sources=["astronaut.jpg"],
        )
        assert len(messages) == expected, messages
        if expected:
            assert messages[0].startswith("astronaut.jpg: face 0's 64 px crop") and "--size" in messages[0]
