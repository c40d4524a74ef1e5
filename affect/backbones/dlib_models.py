"""dlib's model files, as shipped inside the `face-recognition-models` package, and the face box
those models expect in an aligned crop.

`face_recognition_models/__init__.py` imports `pkg_resources`, which recent setuptools no longer
provides, so the package is located with `importlib.util.find_spec` (which does not import a
top-level package) and its `models/` folder is read directly.

Face box in an aligned crop. dlib's shape predictors were trained on the boxes of dlib's HOG
frontal-face detector. In a crop made by `affect.face.align` the 5 points sit (in the least-squares
sense) on the template, so that box is known without running a detector: centred horizontally on
the crop, its centre `BOX_CENTRE_BELOW_EYES` inter-ocular distances (IOD) below the eye line, and
`BOX_SIDE` IOD wide. Measured with the HOG detector on 224 px aligned crops (scale 0.75) of five
real faces (skimage's astronaut and the four facenet-pytorch test photos): boxes 2.06-2.46 IOD
wide, centres 0.50-0.54 IOD below the eyes. With the template box the 68 points move on average
by 0.2-0.4 px (2.2 px at most) from the fit in the detector's own box, and by at most 0.7 px on
average for sides 1.9-2.7 IOD and centres 0.35-0.65 IOD: the template box is as good as the
detector's, costs nothing, and cannot miss (dlib's HOG detector is made for frontal faces and
finds none in some crops of turned heads).
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PACKAGE = "face_recognition_models"
# short names -> files in face_recognition_models/models/
MODELS = {
    "shape_predictor_68": "shape_predictor_68_face_landmarks.dat",
    "shape_predictor_5": "shape_predictor_5_face_landmarks.dat",
    "face_recognition_resnet": "dlib_face_recognition_resnet_model_v1.dat",
    "mmod_face_detector": "mmod_human_face_detector.dat",
}
BOX_SIDE = 2.3  # face box side, in inter-ocular distances (template eye centres)
BOX_CENTRE_BELOW_EYES = 0.5  # face box centre below the eye line, in inter-ocular distances


def models_dir() -> Path:
    """The `models/` folder of the installed `face-recognition-models` package (not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise FileNotFoundError(f"dlib model files: the package {PACKAGE!r} is not installed "
                                "(pip install face-recognition-models)")
    roots = list(spec.submodule_search_locations or []) or ([str(Path(spec.origin).parent)] if spec.origin else [])
    for root in roots:
        folder = Path(root) / "models"
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"dlib model files: no models/ folder in {PACKAGE} at {roots}")


def model_path(name: str) -> Path:
    """The file of a dlib model: a short name of `MODELS` or a file name in the package's models/."""
    filename = MODELS.get(name, name)
    path = models_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(f"dlib model {name!r}: {path} is missing; known: {', '.join(MODELS)} "
                                "(reinstall face-recognition-models)")
    return path


def template_box(size: int, scale: float = 0.75, shift_y: float = 0.0) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixels of the dlib-style face box in a `size` crop made with the
    alignment template of `scale` and `shift_y` (see `affect.face.align.face_template`)."""
    from affect.face.align import face_template  # imports torch: only when a dlib backbone is built

    t = face_template(size, scale, shift_y)
    iod = float(t[1, 0] - t[0, 0])
    cx = float(t[:2, 0].mean())
    cy = float(t[:2, 1].mean()) + BOX_CENTRE_BELOW_EYES * iod
    half = BOX_SIDE * iod / 2
    return round(cx - half), round(cy - half), round(cx + half), round(cy + half)


def dlib_rect(box: tuple[int, int, int, int]) -> Any:
    """A `dlib.rectangle` from (left, top, right, bottom)."""
    import dlib

    return dlib.rectangle(*(int(v) for v in box))
