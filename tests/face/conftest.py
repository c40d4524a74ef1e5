"""Face-test helpers: scenes built from real face photographs (skimage's astronaut and the four
photos in `tests/face/photos/`, see its README), encoded at test time."""
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
PHOTOS = Path(__file__).parent / "photos"
# MTCNN boxes (x1, y1, x2, y2) of the face in each photograph
PHOTO_BOXES = {"angelina_jolie": (139, 59, 281, 260), "kate_siegel": (161, 32, 228, 123),
               "paul_rudd": (65, 62, 314, 425), "shea_whigham": (194, 80, 295, 215)}


@pytest.fixture(scope="session")
def astro() -> np.ndarray:
    return astronaut()


@pytest.fixture(scope="session")
def head(astro) -> np.ndarray:
    """A 200 x 200 patch around the astronaut's face (MTCNN box ~[181, 62, 268, 172])."""
    return astro[17:217, 124:324].copy()


def head_patch(image: np.ndarray, box: tuple[int, int, int, int], size: int = 200) -> np.ndarray:
    """A square `size` patch centred on a face box, 1.3 x its longer side (edges replicated)."""
    x1, y1, x2, y2 = box
    side = int(1.3 * max(x2 - x1, y2 - y1))
    cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
    pad = side
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    x0, y0 = cx - side // 2 + pad, cy - side // 2 + pad
    patch = padded[y0:y0 + side, x0:x0 + side]
    return np.array(Image.fromarray(patch).resize((size, size), Image.BILINEAR))


@pytest.fixture(scope="session")
def heads(head) -> dict[str, np.ndarray]:
    """200 x 200 head patches of five different people: 'astronaut' and the four photographs."""
    out = {"astronaut": head}
    for name, box in PHOTO_BOXES.items():
        out[name] = head_patch(np.asarray(Image.open(PHOTOS / f"{name}.jpg").convert("RGB")), box)
    return out


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


@pytest.fixture
def put_head(heads) -> Callable[..., None]:
    """`put_head(frame, name, x, y, size)`: the head of one of the people in `heads`."""
    def put(frame: np.ndarray, name: str, x: int, y: int, size: int) -> None:
        paste(frame, heads[name], x, y, size)
    return put
