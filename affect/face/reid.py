"""Face appearance for re-identification: dlib's 128-D ResNet face descriptor (optional backend).

Why dlib. Its descriptor (a ResNet-29 trained on ~3M faces, 99.38% on LFW) and the 5-point
shape predictor it aligns with ship inside the `face-recognition-models` package (no download,
nothing to fetch offline) and run on the CPU in ~10 ms per face; facenet-pytorch's
InceptionResnetV1, the other obvious choice, downloads its weights on first use.

The descriptor is computed on the frames the detector sees (shrunk to `faces.max_side`): a
face is located by its MTCNN box, dlib's 5-point predictor places its landmarks, dlib cuts
its own 150 px chip (padding 0.25) and the network maps it to a 128-D vector. Two faces of
one person lie within ~0.6 of each other (Euclidean); `faces.reid_threshold` is the cut-off
(measured default, see `benchmarks/faces_bench.py --reid` and the README).

The model files are found without importing `face_recognition_models` (importing it pulls
in `pkg_resources`): `affect.backbones.dlib_models` locates them. When dlib or the files
are missing, `load_embedder` returns None with the reason, and tracking falls back to
geometry (see `affect.face.identity`).
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PACKAGE = "face_recognition_models"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
DIM = 128
MIN_FACE = 24  # faces whose box side is below this (pixels of the frame given) get no descriptor


def model_path(name: str) -> Path | None:
    """Path of one of the `face-recognition-models` files, or None when it is not installed."""
    from affect.backbones.dlib_models import model_path as locate

    try:
        return locate(name)
    except FileNotFoundError:
        return None


class FaceEmbedder:
    """dlib face descriptors of boxes in an RGB uint8 frame."""

    name = "dlib"

    def __init__(self, dlib: Any, shape_file: Path, descriptor_file: Path) -> None:
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(shape_file))
        self._net = dlib.face_recognition_model_v1(str(descriptor_file))

    def __call__(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """`[n, 128]` float32 descriptors of the faces in `boxes` (`[n, 4]` x1, y1, x2, y2 pixels).

        Rows are NaN for boxes too small (< `MIN_FACE` px) to describe.
        """
        dlib = self._dlib
        out = np.full((len(boxes), DIM), np.nan, np.float32)
        image = np.ascontiguousarray(image)
        keep, shapes = [], dlib.full_object_detections()
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, np.float64)):
            if min(x2 - x1, y2 - y1) < MIN_FACE or not np.isfinite([x1, y1, x2, y2]).all():
                continue
            rect = dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))
            shapes.append(self._shape(image, rect))
            keep.append(i)
        if keep:
            desc = self._net.compute_face_descriptor(image, shapes, 0, 0.25)
            out[keep] = np.asarray([np.asarray(d) for d in desc], np.float32)
        return out


def load_embedder(backend: str) -> tuple[FaceEmbedder | None, str]:
    """The appearance backend for `faces.reid` and a sentence saying what was chosen and why.

    `backend`: "dlib" (or "auto": dlib when available) gives a `FaceEmbedder` unless dlib or
    its model files are missing; "geometry" gives None. Never raises for a missing backend.
    """
    if backend not in ("auto", "dlib", "geometry"):
        raise ValueError(f"faces.reid must be 'auto', 'dlib' or 'geometry', got {backend!r}")
    if backend == "geometry":
        return None, "re-identification by geometry only (faces.reid=geometry)"
    if importlib.util.find_spec("dlib") is None:
        return None, "dlib is not installed: re-identification falls back to geometry (pip install dlib-bin)"
    files = {name: model_path(name) for name in (SHAPE_FILE, DESCRIPTOR_FILE)}
    missing = [name for name, path in files.items() if path is None]
    if missing:
        return None, (f"dlib face models {missing} not found (package {PACKAGE} missing?): "
                      f"re-identification falls back to geometry (pip install face-recognition-models)")
    try:
        import dlib

        embedder = FaceEmbedder(dlib, files[SHAPE_FILE], files[DESCRIPTOR_FILE])
    except (RuntimeError, OSError) as e:  # a truncated or unreadable model file
        return None, f"cannot load dlib's face models ({e}): re-identification falls back to geometry"
    return embedder, f"re-identification by face appearance (dlib ResNet descriptor, {files[DESCRIPTOR_FILE]})"
