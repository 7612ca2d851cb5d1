"""FFHQ face alignment with an exact, invertible transform, and paste-back into the photo.

The recipe is the one used to build FFHQ (and copied by e4e): eye centres and mouth corners define
an oriented square (`ffhq_quad`); the photo is shrunk by an integer factor when the face is much
larger than the output, cropped around the square, reflect-padded with a blurred, median-faded
border where the square leaves the photo, and resampled to the output size.

Unlike the original (which chains PIL resize / crop / pad / QUAD steps), every step here is kept as
an explicit affine map, so the whole crop is ONE affine warp of the original photo: `matrix` maps
crop pixel (x, y, 1) to photo pixel coordinates exactly, and `paste_back` inverts it exactly.
Pixel coordinates are pixel-centre indices (pixel (0, 0) covers [-0.5, 0.5]^2), as dlib reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facefill.faces.landmarks import LEFT_EYE, MOUTH_OUTER, RIGHT_EYE

_INTERP = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}


@dataclass(frozen=True)
class AlignedFace:
    """An aligned square crop and where it came from.

    `matrix` (3×3) maps crop pixel coordinates to photo pixel coordinates; `quad` (4×2) is the
    square's corners in the photo in FFHQ order (top-left, bottom-left, bottom-right, top-right of
    the crop); `photo_size` is the photo's (H, W).
    """

    image: np.ndarray
    matrix: np.ndarray
    quad: np.ndarray
    photo_size: tuple[int, int]

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """Crop (x, y) positions -> photo positions."""
        return apply_matrix(self.matrix, points)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Photo (x, y) positions -> crop positions."""
        return apply_matrix(np.linalg.inv(self.matrix), points)

    def transform_dict(self) -> dict:
        """JSON-ready transform (what `facefill align` stores next to each crop)."""
        return {
            "size": self.size,
            "crop_to_photo": self.matrix.tolist(),
            "quad": self.quad.tolist(),
            "photo_size": list(self.photo_size),
            "coordinates": "pixel centres; crop (x, y, 1) @ crop_to_photo.T = photo (x, y, 1)",
        }


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3×3 projective matrix to (N, 2) points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    hom = np.concatenate([pts, np.ones((len(pts), 1))], 1) @ np.asarray(matrix, dtype=np.float64).T
    return hom[:, :2] / hom[:, 2:3]


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """FFHQ's oriented square (4×2: TL, BL, BR, TR) from 68 landmarks, in landmark coordinates."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eye_right_of_image = lm[LEFT_EYE].mean(0)  # subject's left eye is on the image right
    eye_left_of_image = lm[RIGHT_EYE].mean(0)
    eye_avg = (eye_left_of_image + eye_right_of_image) / 2.0
    eye_to_eye = eye_right_of_image - eye_left_of_image
    mouth = lm[MOUTH_OUTER]
    mouth_avg = (mouth[0] + mouth[6]) / 2.0
    eye_to_mouth = mouth_avg - eye_avg
    # x: the crop's horizontal axis, a blend of the eye line and the eye-mouth line turned 90°.
    x = eye_to_eye - np.array([-eye_to_mouth[1], eye_to_mouth[0]])
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def quad_matrix(quad: np.ndarray, size: int) -> np.ndarray:
    """3×3 map from size×size crop pixel centres to photo coordinates for an FFHQ-order quad.

    Crop pixel u covers [u, u+1]/size of the square (as PIL's QUAD transform samples it), so its
    centre sits at (u + 0.5) / size along each edge.
    """
    q = np.asarray(quad, dtype=np.float64)
    ex = (q[3] - q[0]) / size
    ey = (q[1] - q[0]) / size
    origin = q[0] + 0.5 * (ex + ey)
    return np.array([[ex[0], ey[0], origin[0]], [ex[1], ey[1], origin[1]], [0.0, 0.0, 1.0]])


def _scale_about_centres(k: int) -> np.ndarray:
    """Map from an image shrunk by integer box-averaging factor k to the unshrunk one."""
    off = (k - 1) / 2.0
    return np.array([[k, 0.0, off], [0.0, k, off], [0.0, 0.0, 1.0]])


def _translate(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _ffhq_border(img: np.ndarray, pad: tuple[int, int, int, int], qsize: float) -> np.ndarray:
    """Reflect-pad (left, top, right, bottom) and fade the padding to blurred, then flat colour.

    Mirrors FFHQ: blur weight rises from 0 a third of the pad inside the photo to 1 at the pad's
    start; the median colour takes over linearly towards the outer edge.
    """
    left, top, right, bottom = pad
    out = cv2.copyMakeBorder(img.astype(np.float32), top, bottom, left, right, cv2.BORDER_REFLECT_101)
    if out.ndim == 2:
        out = out[:, :, None]
    h, w = out.shape[:2]
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)
    fx = 1.0 - np.minimum(xs / max(left, 1), (w - 1 - xs) / max(right, 1))
    fy = 1.0 - np.minimum(ys / max(top, 1), (h - 1 - ys) / max(bottom, 1))
    fade = np.maximum(fx[None, :], fy[:, None])[:, :, None]
    sigma = max(qsize * 0.02, 0.5)
    blurred = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    if blurred.ndim == 2:
        blurred = blurred[:, :, None]
    out += (blurred - out) * np.clip(fade * 3.0 + 1.0, 0.0, 1.0)
    out += (np.median(out, axis=(0, 1)) - out) * np.clip(fade, 0.0, 1.0)
    return out


def align_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    size: int = 1024,
    *,
    quad: np.ndarray | None = None,
    pad_border: bool = True,
    interpolation: str = "cubic",
) -> AlignedFace:
    """FFHQ-aligned size×size crop of `image` (H×W×C, any dtype) for one face's 68 landmarks."""
    img = np.asarray(image)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[:, :, None]
    h, w = img.shape[:2]
    q = ffhq_quad(landmarks) if quad is None else np.asarray(quad, dtype=np.float64)
    crop_to_photo = quad_matrix(q, size)
    qsize = float(np.hypot(*(q[3] - q[0])))

    # 1. Integer shrink (box average) when the face is over twice the output size.
    k = int(np.floor(qsize / size)) if qsize >= 2 * size else 1
    # 2. Region of the photo around the quad (+10 % border), a multiple of k wide/high.
    border = max(int(np.rint(qsize * 0.1)), 3)
    x0 = max(int(np.floor(q[:, 0].min())) - border, 0)
    y0 = max(int(np.floor(q[:, 1].min())) - border, 0)
    x1 = min(int(np.ceil(q[:, 0].max())) + border + 1, w)
    y1 = min(int(np.ceil(q[:, 1].max())) + border + 1, h)
    x1 = x0 + max((x1 - x0) // k, 1) * k
    y1 = y0 + max((y1 - y0) // k, 1) * k
    region = img[y0 : min(y1, h), x0 : min(x1, w)]
    if region.shape[0] < y1 - y0 or region.shape[1] < x1 - x0:  # tiny photo: k-multiple overshoot
        region = cv2.copyMakeBorder(
            region, 0, y1 - y0 - region.shape[0], 0, x1 - x0 - region.shape[1], cv2.BORDER_REFLECT_101
        )
        if region.ndim == 2:
            region = region[:, :, None]
    if k > 1:
        region = cv2.resize(region, ((x1 - x0) // k, (y1 - y0) // k), interpolation=cv2.INTER_AREA)
        if region.ndim == 2:
            region = region[:, :, None]
    work_to_photo = _translate(x0, y0) @ _scale_about_centres(k)
    # 3. FFHQ padding where the quad leaves the photo.
    qs = apply_matrix(np.linalg.inv(work_to_photo), q)
    qsize_s = qsize / k
    border_s = max(int(np.rint(qsize_s * 0.1)), 3)
    rh, rw = region.shape[:2]
    pad = np.array(
        [
            -int(np.floor(qs[:, 0].min())) + border_s,
            -int(np.floor(qs[:, 1].min())) + border_s,
            int(np.ceil(qs[:, 0].max())) - rw + border_s,
            int(np.ceil(qs[:, 1].max())) - rh + border_s,
        ]
    ).clip(0)
    work = region
    if pad_border and pad.max() > border_s - 4:
        pad = np.maximum(pad, int(np.rint(qsize_s * 0.3)))
        work = _ffhq_border(region, tuple(int(v) for v in pad), qsize_s)
        work_to_photo = work_to_photo @ _translate(-pad[0], -pad[1])
    # 4. One affine resample; supersample 2× when still shrinking, then box-average.
    ss = 2 if qsize_s > size else 1
    render_to_crop = np.linalg.inv(_scale_about_centres(ss))
    render_to_work = np.linalg.inv(work_to_photo) @ crop_to_photo @ render_to_crop
    rendered = cv2.warpAffine(
        work,
        render_to_work[:2],
        (size * ss, size * ss),
        flags=_INTERP[interpolation] | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    if ss > 1:
        rendered = cv2.resize(rendered, (size, size), interpolation=cv2.INTER_AREA)
    if rendered.ndim == 2:
        rendered = rendered[:, :, None]
    if rendered.dtype != img.dtype:
        rendered = _cast_like(rendered, img.dtype)
    out = rendered[:, :, 0] if squeeze else rendered
    return AlignedFace(image=out, matrix=crop_to_photo, quad=q, photo_size=(h, w))


def _cast_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)
