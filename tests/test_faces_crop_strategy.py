"""The aligned-face crop strategy for fixed-resolution inpainting models."""

from __future__ import annotations

import numpy as np
import torch

from facefill.faces.align import align_face
from facefill.pipelines.crops import MaskBoxCrop
from facefill.pipelines.face_crop import AlignedFaceCrop
from facefill.pipelines.requests import InpaintRequest
from faces_data import astronaut, astronaut_face, psnr


def _tensors(image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    img = torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    return img, torch.from_numpy(mask.astype(np.float32))[None, None]


def _run(strategy, image: torch.Tensor, mask: torch.Tensor, model, size: int) -> torch.Tensor:
    return strategy(InpaintRequest(image, mask), model, size)


def _mouth_hole() -> np.ndarray:
    hole = np.zeros(astronaut().shape[:2], np.float32)
    hole[128:150, 195:252] = 1
    return hole


class _Recorder:
    """A fake native-size model: remembers its inputs, returns a function of them."""

    def __init__(self, paint: tuple[float, float, float] | None = None):
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.paint = paint

    def __call__(self, request: InpaintRequest) -> torch.Tensor:
        image, mask = request.image, request.mask
        self.calls.append((image.clone(), mask.clone()))
        if self.paint is None:
            return image.clone()  # identity: shows the geometry round trip
        colour = torch.tensor(self.paint).view(1, 3, 1, 1)
        return image * (1 - mask) + colour * mask


def test_model_sees_the_aligned_face_and_hole():
    image, mask = _tensors(np.asarray(astronaut()), _mouth_hole())
    model = _Recorder(paint=(0.0, 1.0, 0.0))
    strategy = AlignedFaceCrop()
    out = _run(strategy, image, mask, model, 256)
    assert strategy.last_used == ["face"]
    ((crop, crop_mask),) = model.calls
    assert crop.shape == (1, 3, 256, 256) and crop_mask.shape == (1, 1, 256, 256)
    expected = align_face(
        np.asarray(astronaut()).astype(np.float32) / 255.0, astronaut_face().landmarks, 256
    ).image
    assert np.abs(crop[0].permute(1, 2, 0).numpy() - expected).max() < 1e-4
    # The hole lands on the aligned mouth: FFHQ framing puts the mouth near (0.5, 0.7) of the crop.
    ys, xs = np.nonzero(crop_mask[0, 0].numpy())
    assert abs(xs.mean() / 256 - 0.5) < 0.08 and abs(ys.mean() / 256 - 0.7) < 0.08
    # Every photo hole pixel got the model's (green) fill back.
    filled = out[0].permute(1, 2, 0).numpy()[_mouth_hole() > 0]
    assert np.abs(filled - [0.0, 1.0, 0.0]).max() < 0.02


def test_identity_model_round_trips_the_hole_pixels():
    photo = np.asarray(astronaut())
    image, mask = _tensors(photo, _mouth_hole())
    out = _run(AlignedFaceCrop(), image, mask, _Recorder(), 512)
    got = np.rint(out[0].permute(1, 2, 0).numpy() * 255)[_mouth_hole() > 0]
    assert psnr(got, photo[_mouth_hole() > 0]) > 38


def test_non_face_image_and_hole_away_from_face_fall_back_to_mask_box():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (160, 200, 3)).astype(np.uint8)
    hole = np.zeros((160, 200), np.float32)
    hole[40:70, 50:90] = 1
    for photo, hole_mask in [(noise, hole), (np.asarray(astronaut()), _corner_hole())]:
        image, mask = _tensors(photo, hole_mask)
        strategy = AlignedFaceCrop()
        got = _run(strategy, image, mask, _Recorder(paint=(1.0, 0.0, 0.0)), 128)
        expected = _run(MaskBoxCrop(), image, mask, _Recorder(paint=(1.0, 0.0, 0.0)), 128)
        assert strategy.last_used == ["fallback"]
        assert torch.equal(got, expected)


def _corner_hole() -> np.ndarray:
    hole = np.zeros(astronaut().shape[:2], np.float32)
    hole[450:500, 10:60] = 1
    return hole


def test_inpaint_job_runs_native_models_on_the_aligned_face_unless_no_align():
    from facefill.jobs.inpaint_job import InpaintProcessor, InpaintSettings
    from facefill.pipelines.registry import _SPECS, InpainterSpec, register_inpainter

    sizes: list[tuple[int, int]] = []

    def load(ctx):
        def fill(request: InpaintRequest) -> torch.Tensor:
            image, mask = request.image, request.mask
            sizes.append(tuple(image.shape[-2:]))
            return image * (1 - mask) + mask * torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)

        return fill

    name = "test-native-face-model"
    register_inpainter(InpainterSpec(name, "fake 128 px face model", load, native_size=128, batchable=False))
    try:
        image, mask = _tensors(np.asarray(astronaut()), _mouth_hole())
        aligned = InpaintProcessor(InpaintSettings(model=name)).pipeline
        out = aligned.run(InpaintRequest(image, mask))
        assert isinstance(aligned.crop_strategy, AlignedFaceCrop) and aligned.crop_strategy.last_used == [
            "face"
        ]
        hole = torch.from_numpy(_mouth_hole() > 0)
        assert torch.allclose(out[0][:, hole], torch.tensor([0.0, 0.0, 1.0]).view(3, 1), atol=0.02)
        assert torch.equal(out[0][:, ~hole], image[0][:, ~hole])  # composited: nothing else changed
        plain = InpaintProcessor(InpaintSettings(model=name, align_faces=False)).pipeline
        plain.run(InpaintRequest(image, mask))
        assert isinstance(plain.crop_strategy, MaskBoxCrop) and sizes == [(128, 128), (128, 128)]
    finally:
        _SPECS.pop(("inpaint", name), None)


def test_a_batch_of_faces_reaches_the_model_as_one_tensor():
    photo = np.asarray(astronaut())
    mirrored = np.ascontiguousarray(photo[:, ::-1])
    noise = np.random.default_rng(1).integers(0, 255, photo.shape).astype(np.uint8)
    pairs = [(photo, _mouth_hole()), (mirrored, _mouth_hole()[:, ::-1].copy()), (noise, _mouth_hole())]
    tensors = [_tensors(p, h) for p, h in pairs]
    image, mask = torch.cat([t[0] for t in tensors]), torch.cat([t[1] for t in tensors])
    model = _Recorder(paint=(0.0, 1.0, 0.0))
    strategy = AlignedFaceCrop()
    out = _run(strategy, image, mask, model, 128)
    assert strategy.last_used == ["face", "face", "fallback"]
    assert [tuple(c[0].shape) for c in model.calls][0] == (2, 3, 128, 128)  # both faces, one call
    # The mirrored photo's crop is the mirror of the first one's.
    crops = model.calls[0][0]
    assert (crops[0] - crops[1].flip(-1)).abs().mean() < 0.03
    for n in range(3):
        hole = mask[n, 0] > 0.5
        # (cubic resampling at the 128 px crop rings by up to ~0.02 at the hole's rim)
        assert torch.allclose(out[n][:, hole], torch.tensor([0.0, 1.0, 0.0]).view(3, 1), atol=0.03)


def test_faces_are_detected_on_a_classical_fill_of_the_zeroed_hole_never_on_its_pixels():
    from facefill.pipelines.face_crop import detection_view

    photo = np.asarray(astronaut())
    hole = np.zeros(photo.shape[:2], bool)
    for x, y in astronaut_face().landmarks[36:68].astype(int):  # eyes and mouth
        hole[max(y - 14, 0) : y + 14, max(x - 14, 0) : x + 14] = True
    hidden = photo * ~hole[..., None]  # what the pipeline hands the strategy
    noise = np.where(hole[..., None], np.random.default_rng(0).integers(0, 255, photo.shape), photo)
    view = detection_view(hidden.astype(np.float32) / 255, hole)
    assert np.array_equal(view[~hole], photo[~hole])  # known pixels untouched
    assert np.array_equal(view, detection_view(noise.astype(np.float32) / 255, hole))  # hole content unused
    assert np.abs(view[hole].astype(float) - photo[hole]).mean() < 40  # a face-like fill, not black
    # The strategy gets zeroed holes from the pipeline and still finds the face for them.
    mouth = _mouth_hole()
    image, mask = _tensors(photo * (mouth[..., None] == 0), mouth)
    strategy = AlignedFaceCrop()
    _run(strategy, image, mask, _Recorder(paint=(0.0, 1.0, 0.0)), 256)
    assert strategy.last_used == ["face"]
