"""`landmarks68`: facial geometry from dlib's 68-point shape predictor on the aligned crop.

Output, D = 148 float32 per crop:

* 136 = the 68 points (x0, y0, x1, y1, ...; iBUG 300-W order: jaw 0-16, brows 17-26, nose
  27-35, eyes 36-47, outer lips 48-59, inner lips 60-67) normalised for position, scale and
  in-plane rotation: origin at the midpoint of the two eye centres, x along the eye line,
  y downwards, 1 = the inter-ocular distance (IOD, between the eye centres);
* 12 interpretable measures (`GEOMETRY`), in IOD units unless said otherwise. "left"/"right" are
  as seen in the image (left = smaller x), like MTCNN's points:

  mouth_open            inner-lip gap (mean of 61-67, 62-66, 63-65)
  mouth_width           corner to corner (48-54)
  corner_lift_left/right  mouth centre (mean of 51, 57) minus the corner's y: > 0 when the
                        corner is above the mouth centre (smile), < 0 when below (sad)
  upper_lip_to_nose     nose base (33) to the upper lip (51), vertical
  chin_to_nose          nose base (33) to the chin (8), vertical (jaw drop)
  brow_raise_left/right mean brow y (17-21 / 22-26) above the mean eye y (36-41 / 42-47)
  brow_gap              inner brow ends (21-22), frowning brings them together
  eye_open_left/right   eyelid gap (mean of 37-41, 38-40 / 43-47, 44-46)
  yaw                   (|30-0| - |30-16|) / (|30-0| + |30-16|), nose tip between the jaw sides,
                        no unit: 0 frontal, > 0 face turned towards the image right

Rows of crops that failed (blank, or no face in the box; see dlib_crops) are NaN.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from affect.backbones.base import VisualBackbone
from affect.backbones.dlib_crops import DlibCropBackbone, resolve_model_file
from affect.backbones.registry import register_backbone

log = logging.getLogger(__name__)

N_POINTS = 68
GEOMETRY = ("mouth_open", "mouth_width", "corner_lift_left", "corner_lift_right", "upper_lip_to_nose",
            "chin_to_nose", "brow_raise_left", "brow_raise_right", "brow_gap", "eye_open_left",
            "eye_open_right", "yaw")
DIM = 2 * N_POINTS + len(GEOMETRY)  # 148


def feature_names() -> list[str]:
    """The names of the 148 output columns."""
    return [f"{axis}{i}" for i in range(N_POINTS) for axis in ("x", "y")] + list(GEOMETRY)


def normalise_points(points: np.ndarray) -> np.ndarray:
    """[B, 68, 2] pixels -> [B, 68, 2]: origin between the eye centres, x along the eye line, 1 = IOD."""
    pts = np.asarray(points, np.float64)
    left, right = pts[:, 36:42].mean(1), pts[:, 42:48].mean(1)
    axis = right - left
    iod = np.linalg.norm(axis, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c, s = axis[:, 0] / iod, axis[:, 1] / iod
        rel = pts - ((left + right) / 2)[:, None]
        x = (rel[..., 0] * c[:, None] + rel[..., 1] * s[:, None]) / iod[:, None]
        y = (-rel[..., 0] * s[:, None] + rel[..., 1] * c[:, None]) / iod[:, None]
    return np.stack([x, y], -1)


def geometry(norm: np.ndarray) -> np.ndarray:
    """Normalised points [B, 68, 2] -> the 12 measures of `GEOMETRY` [B, 12]."""
    p = norm

    def dist(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(p[:, a] - p[:, b], axis=1)

    y = p[..., 1]
    mouth_centre = (y[:, 51] + y[:, 57]) / 2
    to_left, to_right = dist(30, 0), dist(30, 16)
    with np.errstate(invalid="ignore", divide="ignore"):
        yaw = (to_left - to_right) / (to_left + to_right)
    cols = [
        (dist(61, 67) + dist(62, 66) + dist(63, 65)) / 3,
        dist(48, 54),
        mouth_centre - y[:, 48],
        mouth_centre - y[:, 54],
        y[:, 51] - y[:, 33],
        y[:, 8] - y[:, 33],
        y[:, 36:42].mean(1) - y[:, 17:22].mean(1),
        y[:, 42:48].mean(1) - y[:, 22:27].mean(1),
        dist(21, 22),
        (dist(37, 41) + dist(38, 40)) / 2,
        (dist(43, 47) + dist(44, 46)) / 2,
        yaw,
    ]
    return np.stack(cols, 1)


def features(points: np.ndarray) -> np.ndarray:
    """[B, 68, 2] crop pixels -> float32 [B, 148] (normalised points, then `GEOMETRY`); NaN rows stay NaN."""
    norm = normalise_points(points)
    return np.concatenate([norm.reshape(len(norm), -1), geometry(norm)], 1).astype(np.float32)


class Landmarks68(DlibCropBackbone):
    """dlib's 68-point shape predictor (iBUG 300-W) on aligned crops -> 148 geometric features."""

    name = "landmarks68"
    dim = DIM
    n_parts = N_POINTS
    layer = "dlib 68-point shape: 136 normalised coordinates + 12 distances"

    def __init__(self, weights: str = "default", box: str = "template", input_size: int = 224,
                 template_scale: float = 0.75, template_shift_y: float = 0.0) -> None:
        model = resolve_model_file(self.name, weights, "shape_predictor_68")
        self.weights = str(model)
        super().__init__(model, box, input_size, template_scale, template_shift_y)

    def landmarks(self, batch: np.ndarray) -> np.ndarray:
        """The 68 points float64 [B, 68, 2] in pixels of the preprocessed crops (NaN = failed)."""
        return self.fit(batch)[0]

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return features(self.landmarks(batch))

    def extra_info(self) -> dict[str, Any]:
        return {**super().extra_info(), "columns": feature_names()}


_OPTIONS = ("box", "input_size", "template_scale", "template_shift_y")


def _build(name: str, weights: str, box: str, kwargs: dict[str, Any]) -> Landmarks68:
    known = {k: kwargs.pop(k) for k in _OPTIONS if k in kwargs}
    if kwargs:
        log.debug("%s: ignoring options %s", name, sorted(kwargs))
    bb = Landmarks68(weights, **{"box": box, **known})
    bb.name = name
    return bb


@register_backbone("landmarks68", modality="visual", family="dlib",
                   description="dlib 68-point facial landmarks on the aligned crop: 136 normalised "
                               "coordinates + 12 distances (mouth, brows, eyes), D=148; no download")
def landmarks68(weights: str = "default", **kwargs: Any) -> VisualBackbone:
    """Face box from stage 01's template. kwargs: box (template | detect), input_size, template_scale,
    template_shift_y (stage 01's faces settings when they differ from the defaults); others are ignored."""
    return _build("landmarks68", weights, "template", kwargs)


@register_backbone("landmarks68-detect", modality="visual", family="dlib",
                   description="landmarks68 with dlib's HOG face detector on each crop (for crops not "
                               "aligned by stage 01, e.g. faces.source=provided), D=148; no download")
def landmarks68_detect(weights: str = "default", **kwargs: Any) -> VisualBackbone:
    """As `landmarks68`, the face box found by dlib's detector (the template's when it finds none)."""
    return _build("landmarks68-detect", weights, "detect", kwargs)
