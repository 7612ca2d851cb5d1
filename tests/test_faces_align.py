"""FFHQ alignment: quad geometry, exactness of the crop->photo transform, paste-back, robustness."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from facefill.faces.align import align_face, apply_matrix, ffhq_quad, quad_matrix
from facefill.faces.find import find_faces
from facefill.faces.paste import crop_blend_mask, paste_back
from faces_data import astronaut, astronaut_face, face_region_mask, psnr


def _synthetic_landmarks(eye_l, eye_r, mouth_l, mouth_r) -> np.ndarray:
    lm = np.zeros((68, 2))
    lm[36:42] = eye_l
    lm[42:48] = eye_r
    lm[48:60] = (np.asarray(mouth_l) + np.asarray(mouth_r)) / 2
    lm[48], lm[54] = mouth_l, mouth_r
    return lm


def test_ffhq_quad_is_the_recipe_square():
    lm = _synthetic_landmarks((100, 100), (160, 100), (110, 170), (150, 170))
    q = ffhq_quad(lm)
    sides = np.linalg.norm(np.roll(q, -1, 0) - q, axis=1)
    assert np.allclose(sides, sides[0])
    # Upright face: an axis-aligned square centred at eye_avg + 0.1 * eye_to_mouth.
    eye_avg, mouth_avg = np.array([130.0, 100.0]), np.array([130.0, 170.0])
    assert np.allclose(q.mean(0), eye_avg + 0.1 * (mouth_avg - eye_avg))
    half = max(2.0 * 60.0, 1.8 * 70.0)
    assert np.allclose(q[0], q.mean(0) - half) and np.allclose(q[2], q.mean(0) + half)
    # Tilting the face tilts the square by the same angle.
    angle = np.deg2rad(25)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    q_rot = ffhq_quad(lm @ rot.T)
    assert np.allclose(q_rot, q @ rot.T)


def test_quad_matrix_maps_crop_edges_to_quad_corners():
    q = np.array([[10.0, 20.0], [0.0, 120.0], [100.0, 130.0], [110.0, 30.0]])
    m = quad_matrix(q, 64)
    corners = apply_matrix(m, [[-0.5, -0.5], [-0.5, 63.5], [63.5, 63.5], [63.5, -0.5]])
    assert np.allclose(corners, q)


@pytest.mark.parametrize(
    ("photo", "size", "scale"),
    [(400, 64, 1.0), (400, 256, 1.0), (1200, 40, 1.0), (400, 128, 1.0)],
    ids=["shrink-and-supersample", "upsample", "integer-shrink", "supersample"],
)
def test_crop_is_one_affine_warp_of_the_photo(photo, size, scale):
    # A linear ramp photo: every resampling step (box shrink, cubic warp, box supersample)
    # reproduces a linear function exactly, so crop[v, u] must equal ramp(M @ (u, v)).
    ys, xs = np.mgrid[:photo, :photo].astype(np.float32)
    ramp = np.stack([xs, ys, 0.5 * xs + 0.25 * ys], axis=2)
    c = photo / 2
    s = photo * 0.05 * scale  # the face square stays inside the photo (no FFHQ padding)
    lm = _synthetic_landmarks(
        (c - s, c - s * 0.2), (c + s, c + s * 0.1), (c - s * 0.6, c + s * 1.2), (c + s * 0.5, c + s * 1.3)
    )
    aligned = align_face(ramp, lm, size)
    assert aligned.quad.min() > 0 and aligned.quad.max() < photo - 1
    assert aligned.image.shape == (size, size, 3) and aligned.image.dtype == np.float32
    vs, us = np.mgrid[:size, :size]
    expected = apply_matrix(aligned.matrix, np.stack([us.ravel(), vs.ravel()], 1))
    got = aligned.image.reshape(-1, 3)
    inner = (us.ravel() > 1) & (us.ravel() < size - 2) & (vs.ravel() > 1) & (vs.ravel() < size - 2)
    # OpenCV samples at 1/32-pixel fixed-point positions with tabulated cubic weights: errors up to
    # ~0.07 px that average out. A half-pixel convention slip would be a systematic 0.3+ px.
    step = np.hypot(*aligned.matrix[:2, 0])  # photo pixels per crop pixel
    for ch in (0, 1):
        err = got[inner, ch] - expected[inner, ch]
        assert np.abs(err).max() < 0.08 + step / 16
        assert abs(err.mean()) < 0.01
    assert np.allclose(aligned.to_crop(aligned.to_photo(expected[:5])), expected[:5])


def test_padding_outside_photo_is_blurred_reflection_and_inside_stays_exact():
    img = np.asarray(astronaut())[30:260, 140:380].copy()  # face close to the top edge
    face = find_faces(img)[0]
    aligned = align_face(img, face.landmarks, 256)
    q = aligned.quad
    assert q[:, 1].min() < 0, "test photo no longer needs padding"
    # Crop pixels that land well inside the photo equal a direct cubic sample of the photo.
    direct = cv2.warpAffine(
        img, aligned.matrix[:2], (256, 256), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    ).astype(float)
    vs, us = np.mgrid[:256, :256]
    pts = apply_matrix(aligned.matrix, np.stack([us.ravel(), vs.ravel()], 1)).reshape(256, 256, 2)
    margin = 0.3 * np.hypot(*(q[3] - q[0]))
    inside = (pts[..., 0] > margin) & (pts[..., 1] > margin) & (pts[..., 0] < img.shape[1] - margin)
    inside &= pts[..., 1] < img.shape[0] - margin
    assert inside.sum() > 5000
    assert np.abs(aligned.image.astype(float) - direct)[inside].max() <= 2
    # Outside the photo FFHQ fades to blurred content: far smoother than a sharp reflection.
    outside = pts[..., 1] < -10
    gy = np.abs(np.diff(aligned.image.astype(float), axis=0)).mean(2)
    assert gy[outside[1:]].mean() < 0.5 * gy[inside[1:]].mean()


@pytest.mark.parametrize("size", [256, 512, 1024])
def test_align_then_paste_back_unmodified_crop_reproduces_face(size):
    img = np.asarray(astronaut())
    face = astronaut_face()
    aligned = align_face(img, face.landmarks, size)
    back = paste_back(img, aligned.image, aligned.matrix)
    region = face_region_mask(face.landmarks, img.shape[:2])
    assert psnr(back[region], img[region]) > 40.0
    assert back.shape == img.shape and back.dtype == img.dtype


def test_paste_back_changes_only_hole_pixels():
    img = np.asarray(astronaut())
    face = astronaut_face()
    aligned = align_face(img, face.landmarks, 256)
    hole = np.zeros(img.shape[:2], np.float32)
    hole[130:150, 200:250] = 1.0  # the mouth
    black = np.zeros_like(aligned.image)
    out = paste_back(img, black, aligned.matrix, hole_mask=hole)
    assert np.array_equal(out[hole == 0], img[hole == 0])
    assert out[133:147, 203:247].max() == 0


def test_paste_back_of_a_big_crop_into_a_small_photo_is_antialiased():
    img = np.asarray(astronaut())
    face = astronaut_face()
    aligned = align_face(img, face.landmarks, 1024)
    # A one-pixel checkerboard in the crop is far above the photo's Nyquist limit: it must
    # average to grey instead of aliasing into stripes.
    checker = ((np.indices((1024, 1024)).sum(0) % 2) * 255).astype(np.uint8)
    out = paste_back(img, np.repeat(checker[:, :, None], 3, 2), aligned.matrix)
    region = face_region_mask(face.landmarks, img.shape[:2])
    assert np.abs(out[region].astype(float) - 127.5).max() < 12


def test_crop_blend_mask_ramps_at_edges():
    m = crop_blend_mask(10, 2.0)
    assert m[5, 5] == 1.0 and m[0, 5] == pytest.approx(0.25) and m[1, 5] == pytest.approx(0.75)


def test_gray_and_16bit_photos_keep_their_type():
    img16 = np.asarray(astronaut()).astype(np.uint16) * 257
    face = astronaut_face()
    a16 = align_face(img16, face.landmarks, 128)
    a8 = align_face(np.asarray(astronaut()), face.landmarks, 128)
    assert a16.image.dtype == np.uint16
    assert np.abs(a16.image / 257.0 - a8.image).mean() < 1.0
    gray = cv2.cvtColor(np.asarray(astronaut()), cv2.COLOR_RGB2GRAY)
    ag = align_face(gray, face.landmarks, 128)
    assert ag.image.shape == (128, 128)
    assert paste_back(gray, ag.image, ag.matrix).shape == gray.shape


def _crop_of(img: np.ndarray) -> np.ndarray:
    face = find_faces(img)[0]
    return align_face(img, face.landmarks, 256).image.astype(float)


def test_rotated_photos_align_to_nearly_the_same_crop(tmp_path, record_property):
    from facefill.io.images import read_image

    img = np.asarray(astronaut())
    reference = _crop_of(img)
    diffs = {}
    # 1. Pixels stored sideways with an EXIF orientation tag (6 = rotate 90° clockwise to view).
    stored = np.ascontiguousarray(np.rot90(img, 1))  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    (tmp_path / "exif.jpg").write_bytes(buf.getvalue())
    upright = read_image(tmp_path / "exif.jpg").rgb
    assert upright.shape == img.shape
    diffs["exif"] = np.abs(_crop_of(upright) - reference).mean()
    # 2. Pixels turned by 90° without a tag: the rotation search finds the face sideways.
    diffs["rot90"] = np.abs(_crop_of(np.ascontiguousarray(np.rot90(img, 1))) - reference).mean()
    # 3. In-plane rotation by 20° about the face.
    rot = cv2.getRotationMatrix2D(tuple(astronaut_face().center), 20, 1.0)
    tilted = cv2.warpAffine(
        img, rot, img.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
    )
    diffs["inplane20"] = np.abs(_crop_of(tilted) - reference).mean()
    for name, value in diffs.items():
        record_property(f"mean_abs_diff_{name}", round(float(value), 2))
    print("mean abs crop difference (0..255):", {k: round(float(v), 2) for k, v in diffs.items()})
    # Same landmark-driven square every time: only JPEG/resampling noise and small landmark jitter.
    assert diffs["rot90"] < 12 and diffs["exif"] < 12 and diffs["inplane20"] < 12
