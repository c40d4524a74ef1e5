"""dlib visual backbones (`landmarks68`, `dlib-face128`) on real faces aligned by affect.face."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import map_coordinates
from skimage.data import astronaut

from affect.backbones.landmarks import GEOMETRY, feature_names
from affect.backbones.registry import create_backbone, list_backbones
from affect.face.align import Aligner, apply_transform
from affect.face.config import FacesConfig
from affect.face.detect import FaceDetector

SIZE = 224
PHOTOS = Path(__file__).parents[1] / "face" / "photos"  # four facenet-pytorch test photos (see its README)


def align(image: np.ndarray, points: np.ndarray, shift_y: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The 224 px crop (stage 01's template, moved down by `shift_y` of the side) and the 5 points in it."""
    crops, m = Aligner(SIZE, shift_y=shift_y)([image], points[None])
    return crops[0], apply_transform(m[0], points)


@pytest.fixture(scope="module")
def detections() -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, MTCNN's 5 points of its most confident face): the astronaut, then the four photos."""
    detector = FaceDetector(FacesConfig(), "cpu")
    images = [astronaut()] + [np.asarray(Image.open(p).convert("RGB")) for p in sorted(PHOTOS.glob("*.jpg"))]
    out = []
    for image in images:
        d = detector.detect(np.ascontiguousarray(image))[0]
        out.append((image, d.landmarks[int(np.argmax(d.scores))]))
    return out


@pytest.fixture(scope="module")
def faces(detections) -> list[tuple[np.ndarray, np.ndarray]]:
    """(aligned crop, MTCNN points in the crop) per face."""
    return [align(image, points) for image, points in detections]


@pytest.fixture(scope="module")
def lm68():
    return create_backbone("landmarks68")


def lift_corners(crop: np.ndarray, corners: np.ndarray, dy: float, sigma: float = 7.0) -> np.ndarray:
    """Move the image content near each mouth corner up by `dy` px (down when negative), fading out
    as a Gaussian of `sigma` px: out(x, y) = in(x, y + dy * g(x, y)), bilinear."""
    yy, xx = np.mgrid[0:crop.shape[0], 0:crop.shape[1]].astype(np.float64)
    g = sum(np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2)) for cx, cy in corners)
    coords = [yy + dy * g, xx]
    out = np.stack([map_coordinates(crop[..., c].astype(np.float64), coords, order=1, mode="nearest")
                    for c in range(3)], -1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def test_registered_with_documented_dimension(lm68, faces):
    assert {"landmarks68", "landmarks68-detect", "dlib-face128"} <= set(list_backbones("visual"))
    crop, _ = faces[0]
    out = lm68.forward(lm68.preprocess(crop[None]))
    assert out.shape == (1, 148) == (1, lm68.dim) and out.dtype == np.float32 and np.isfinite(out).all()
    assert len(feature_names()) == 148 and feature_names()[-len(GEOMETRY):] == list(GEOMETRY)
    desc = lm68.describe()
    assert desc["dim"] == 148 and desc["modality"] == "visual" and desc["weights"].endswith(".dat")
    # normalised: eye centres at (-0.5, 0) and (0.5, 0)
    pts = out[0, :136].reshape(68, 2)
    assert np.allclose(pts[36:42].mean(0), [-0.5, 0], atol=1e-5)
    assert np.allclose(pts[42:48].mean(0), [0.5, 0], atol=1e-5)


def test_points_where_mtcnn_puts_them(lm68, faces):
    """Eye centres, nose tip and mouth corners of the 68-point fit vs MTCNN's 5 points, per face."""
    for crop, mtcnn in faces:
        p = lm68.landmarks(lm68.preprocess(crop[None]))[0]
        five = np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
        err = np.linalg.norm(five - mtcnn, axis=1)
        # eyes and mouth corners within 6.5 px (IOD ~53 px: the two models define the points
        # slightly differently); the astronaut within 2.5 px
        assert err[[0, 1, 3, 4]].max() < (2.5 if crop is faces[0][0] else 6.5), err


def test_detect_box_and_resize_agree(lm68, faces):
    """dlib's own detector box, and a 112 px crop resized, give the template-box fit within 2.5 px."""
    crop, _ = faces[0]
    ref = lm68.landmarks(crop[None])[0]
    det = create_backbone("landmarks68-detect").landmarks(crop[None])[0]
    small = np.asarray(Image.fromarray(crop).resize((112, 112), Image.BILINEAR))
    resized = lm68.landmarks(lm68.preprocess(small[None]))[0]
    assert np.abs(det - ref).mean() < 1.0 and np.linalg.norm(det - ref, axis=1).max() < 2.5
    assert np.abs(resized - ref).mean() < 2.5


def test_corner_lift_follows_the_mouth_corners(lm68, faces):
    """Warping the mouth corners up by 6 px raises corner_lift, down lowers it; the eyes and brows stay put.

    dlib's points are whole pixels (1 px = ~0.019 IOD here): the mean of both corners is compared."""
    lift = [GEOMETRY.index("corner_lift_left") + 136, GEOMETRY.index("corner_lift_right") + 136]
    still = [GEOMETRY.index(g) + 136
             for g in ("eye_open_left", "eye_open_right", "brow_raise_left", "brow_raise_right")]
    spans = []
    for crop, _ in faces:
        corners = lm68.landmarks(crop[None])[0][[48, 54]]
        warped = np.stack([lift_corners(crop, corners, dy) for dy in (-6.0, 0.0, 6.0)])
        f = lm68.forward(lm68.preprocess(warped))
        down, same, up = f[:, lift].mean(1)
        assert down + 0.01 < same < up - 0.01, (down, same, up)
        assert np.abs(f[2, still] - f[0, still]).max() < 0.03
        spans.append(up - down)
    assert np.mean(spans) > 0.1  # of the 12 px (0.23 IOD) moved, the fit follows roughly half or more


def test_detect_box_finds_a_face_off_the_template(lm68, detections):
    """A crop aligned 0.2 of its side (0.85 IOD) lower than the template: the template box misses
    the face (masked, or points far off), `landmarks68-detect` finds it with dlib's detector."""
    crop, mtcnn = align(*detections[0], shift_y=0.2)

    def error(p: np.ndarray) -> float:
        five = np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
        return float(np.linalg.norm(five - mtcnn, axis=1)[[0, 1, 3, 4]].max())

    template = lm68.landmarks(crop[None])[0]
    assert np.isnan(template).all() or error(template) > 15
    detect = create_backbone("landmarks68-detect")
    assert detect.name == "landmarks68-detect" and detect.box == "detect"
    assert error(detect.landmarks(crop[None])[0]) < 4.5


def test_blank_crop_is_a_nan_row(lm68, faces):
    batch = np.stack([faces[0][0], np.zeros((SIZE, SIZE, 3), np.uint8)])
    out = lm68.forward(lm68.preprocess(batch))
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()
    clone = pickle.loads(pickle.dumps(lm68))  # loader workers get a picklable backbone
    assert np.allclose(clone.forward(lm68.preprocess(batch[:1])), out[:1])


def test_face128_identity(faces):
    """128-D; the same face shifted and darkened stays within dlib's 0.6, other people do not."""
    net = create_backbone("dlib-face128")
    crop = faces[0][0]
    moved = (np.roll(crop, (3, -2), axis=(0, 1)) * 0.8).astype(np.uint8)
    batch = np.stack([crop, moved] + [c for c, _ in faces[1:]] + [np.zeros_like(crop)])
    out = net.forward(net.preprocess(batch))
    assert out.shape == (len(batch), 128) and out.dtype == np.float32
    assert np.isnan(out[-1]).all() and np.isfinite(out[:-1]).all()
    assert np.linalg.norm(out[0] - out[1]) < 0.4
    others = np.linalg.norm(out[2:-1] - out[0], axis=1)
    assert len(others) == 0 or others.min() > 0.6, others
