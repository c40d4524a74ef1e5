"""What the dlib visual backbones share: crops in, a face box per crop, a shape-predictor fit.

Box. `box="template"` (default) takes the face box from the alignment template of stage 01
(`affect.backbones.dlib_models.template_box`): the crop was made so that the face is there, and
the fit in that box matches the fit in dlib's own detector box (see dlib_models). `box="detect"`
runs dlib's HOG detector on each crop and takes the largest face, falling back to the template box
when it finds none: for crops not made by stage 01 (e.g. Aff-Wild2's `cropped_aligned/`, whose
alignment differs), at some 10 ms per 224 px crop. Measured on 224 px crops of the astronaut aligned
0.1-0.3 of the side lower or higher than the template: the template box gives points 13-76 px off
(the predictor is pulled part of the way to the face, or not at all), the detector box within 4 px
(for template scales 0.5-1.0, the face whole in the crop).

Failure. A crop of nearly one colour (std < 2 grey levels, e.g. a black fill) gives NaN points,
and so, with the template box, does a fit whose eyes land more than `MAX_EYE_OFFSET` inter-ocular
distances from the template's: the crop is not aligned as the template says (e.g. a wrong stage-01
alignment), so its fit is not trusted. This catches fits that moved far; it cannot catch one
that stayed near the template on a face that is elsewhere (use box="detect" for such crops).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from affect.backbones.base import VisualBackbone
from affect.backbones.dlib_models import dlib_rect, model_path, template_box

log = logging.getLogger(__name__)

BOXES = ("template", "detect")
MAX_EYE_OFFSET = 0.4  # template box: a fit whose eye centres are further than this (in IOD) is a failure
MIN_STD = 2.0  # a crop whose grey levels vary less than this is blank


def resolve_model_file(backbone: str, weights: str, default: str) -> Path:
    """`default`/`random` -> the bundled dlib model `default`; otherwise `weights` must be a file."""
    if weights in ("default", "random"):
        if weights == "random":
            log.info("%s: weights='random' ignored: dlib's bundled model is used (it has no random variant)",
                     backbone)
        return model_path(default)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{backbone}: weights {weights!r} is not a file (default: the bundled "
                                f"{model_path(default).name})")
    return path


class DlibCropBackbone(VisualBackbone):
    """Base for dlib models run on aligned crops. Subclasses set `name`, `dim`, `layer`, `n_parts`
    (points of their shape predictor) and `forward`."""

    n_parts: int

    def __init__(self, shape_model: Path, box: str = "template", input_size: int = 224,
                 template_scale: float = 0.75, template_shift_y: float = 0.0) -> None:
        if box not in BOXES:
            raise ValueError(f"{self.name}: box must be one of {BOXES}, got {box!r}")
        self.box, self.input_size = box, int(input_size)
        self.template_scale, self.template_shift_y = float(template_scale), float(template_shift_y)
        self.shape_model = Path(shape_model)
        from affect.face.align import face_template  # imports torch

        self._box = template_box(self.input_size, self.template_scale, self.template_shift_y)
        t = face_template(self.input_size, self.template_scale, self.template_shift_y)
        self._eyes, self._iod = t[:2], float(t[1, 0] - t[0, 0])
        self._predictor: Any = None
        self._detector: Any = None

    # dlib objects are loaded on first use and not pickled (a loader worker gets the settings only)
    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_predictor": None, "_detector": None}

    def _models(self) -> tuple[Any, Any]:
        if self._predictor is None:
            import dlib

            self._predictor = dlib.shape_predictor(str(self.shape_model))
            if self.box == "detect":
                self._detector = dlib.get_frontal_face_detector()
            log.debug("%s: loaded %s (box=%s)", self.name, self.shape_model.name, self.box)
        return self._predictor, self._detector

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """uint8 [B, H, W, 3] -> uint8 [B, S, S, 3] (S = input_size; bilinear resize when needed)."""
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
            raise ValueError(f"{self.name}: expected uint8 crops [B, H, W, 3], got {crops.dtype} {crops.shape}")
        s = self.input_size
        if crops.shape[1:3] == (s, s):
            return np.ascontiguousarray(crops)
        return np.stack([np.asarray(Image.fromarray(c).resize((s, s), Image.BILINEAR)) for c in crops])

    def face_boxes(self, batch: np.ndarray) -> list[tuple[int, int, int, int]]:
        """One (left, top, right, bottom) box per crop of a preprocessed batch."""
        _, detector = self._models()
        if detector is None:
            return [self._box] * len(batch)
        boxes = []
        for crop in batch:
            found = detector(crop, 0)
            if len(found):
                r = max(found, key=lambda r: r.area())
                boxes.append((r.left(), r.top(), r.right(), r.bottom()))
            else:
                boxes.append(self._box)
        return boxes

    def fit(self, batch: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """Shape-predictor points float64 [B, K, 2] (pixels of the crop resized to `input_size`;
        NaN = failed) and the dlib `full_object_detection` per crop (None where failed)."""
        batch = self.preprocess(batch)  # a no-op on a preprocessed batch
        predictor, _ = self._models()
        points = np.full((len(batch), self.n_parts, 2), np.nan)
        shapes: list[Any] = [None] * len(batch)
        for i, (crop, box) in enumerate(zip(batch, self.face_boxes(batch))):
            if crop.std() < MIN_STD:
                continue
            shape = predictor(np.ascontiguousarray(crop), dlib_rect(box))
            pts = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
            if len(pts) != self.n_parts:
                raise ValueError(f"{self.name}: {self.shape_model.name} gives {len(pts)} points, "
                                 f"expected {self.n_parts}")
            if self.box == "template" and not self._plausible(pts):
                continue
            points[i], shapes[i] = pts, shape
        failed = len(batch) - sum(s is not None for s in shapes)
        if failed:
            log.debug("%s: %d of %d crops failed (blank, or no face in the template box)", self.name, failed,
                      len(batch))
        return points, shapes

    def _plausible(self, pts: np.ndarray) -> bool:
        """Eye centres of the fit near the template's (68 points: 36-41, 42-47; 5 points: 2-3, 0-1)."""
        if len(pts) == 68:
            eyes = np.stack([pts[36:42].mean(0), pts[42:48].mean(0)])
        else:
            eyes = np.stack([pts[2:4].mean(0), pts[0:2].mean(0)])
        return bool(np.linalg.norm(eyes - self._eyes, axis=1).max() <= MAX_EYE_OFFSET * self._iod)

    def extra_info(self) -> dict[str, Any]:
        return {"box": self.box, "input_size": self.input_size, "template_scale": self.template_scale,
                "template_shift_y": self.template_shift_y, "model_file": self.shape_model.name}
