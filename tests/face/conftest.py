"""Face-test helpers: scenes built from skimage's astronaut photo, encoded at test time."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.data import astronaut

from affect.face.config import FacesConfig
from affect.face.detect import FaceDetector
from affect.video.encode import write_video

W, H = 320, 240


@pytest.fixture(scope="session")
def astro() -> np.ndarray:
    return astronaut()


@pytest.fixture(scope="session")
def head(astro) -> np.ndarray:
    """A 200 x 200 patch around the astronaut's face (MTCNN box ~[181, 62, 268, 172])."""
    return astro[17:217, 124:324].copy()


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector(FacesConfig(), torch.device("cpu"))


def background(h: int = H, w: int = W) -> np.ndarray:
    """A smooth, faceless background."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([60 + xx * 60 // w, 90 + yy * 50 // h, np.full_like(xx, 70)], -1).astype(np.uint8)


def paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int, size: int) -> None:
    """Resize `patch` to `size` and paste it with its top-left corner at (x, y)."""
    frame[y:y + size, x:x + size] = np.asarray(Image.fromarray(patch).resize((size, size), Image.BILINEAR))


def scene_video(path: Path, n: int, draw: Callable[[int, np.ndarray], None]) -> Path:
    """An n-frame 320 x 240 video; `draw(i, frame)` paints frame i over the background."""
    def frames():
        for i in range(n):
            f = background()
            draw(i, f)
            yield f
    write_video(path, frames(), fps=25)
    return path


@pytest.fixture
def make_scene() -> Callable[[Path, int, Callable[[int, np.ndarray], None]], Path]:
    return scene_video


@pytest.fixture
def put_face(head) -> Callable[..., None]:
    """`put_face(frame, x, y, size, flip=False)`: the astronaut's head, optionally mirrored."""
    def put(frame: np.ndarray, x: int, y: int, size: int, flip: bool = False) -> None:
        paste(frame, head[:, ::-1] if flip else head, x, y, size)
    return put
