"""A talking face: the astronaut photograph, aligned as stage 01 aligns faces, whose mouth opens
with a voice's loudness (the corpus generator's faces keep their mouths shut while they talk).

`talking_crops(openness)` renders one aligned crop per video frame: the jaw below the lip line
moves down by `openness` x `MAX_OPEN_IOD` inter-ocular distances (a smooth displacement that
fades towards the cheeks and the neck), the gap between the lips is the mouth's dark inside,
and a little sensor noise keeps the frames from being identical. `openness_from_voice` turns a
waveform into the per-frame opening a speaker's jaw follows (its loudness, smoothed over 40 ms).
Used by the subject-mask tests and `benchmarks/audio_bench.py`.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

MAX_OPEN_IOD = 0.3  # jaw drop at openness 1, inter-ocular distances
NOSE_XY = (226.0, 124.0)  # the nose tip in the photograph (x, y), between the eyes and the mouth
MOUTH_INSIDE = np.array([60.0, 25.0, 30.0])


@lru_cache(maxsize=4)
def _base(size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(the aligned crop of the still face, float32 [size, size, 3]; mouth corners [2, 2] in crop pixels; IOD px)."""
    from skimage.data import astronaut

    from affect.face.align import Aligner, apply_transform
    from affect.synth.face_render import EYES_XY, LANDMARKS_XY

    points = np.array([*EYES_XY, NOSE_XY, *LANDMARKS_XY["mouth_corners"]], np.float32)
    aligner = Aligner(size)
    m = aligner.matrices(points[None])[0]
    crop = aligner([astronaut()], points[None])[0][0]
    warped = apply_transform(m, points)
    return crop.astype(np.float32), warped[3:5], float(np.linalg.norm(warped[1] - warped[0]))


def talking_crops(openness: np.ndarray, size: int = 224, seed: int = 0) -> np.ndarray:
    """uint8 [frames, size, size, 3]: the aligned face with its mouth open by `openness` (0-1) per frame."""
    rng = np.random.default_rng(seed)
    base, corners, iod = _base(size)
    (x1, y1), (x2, y2) = corners
    mx, my, width = (x1 + x2) / 2, (y1 + y2) / 2 + 0.02 * iod, abs(x2 - x1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    across = np.exp(-((xx - mx) / (0.75 * width)) ** 2)  # the jaw moves most under the mouth
    below = yy - my
    down = np.clip(1.0 - (below - 1.4 * width) / (0.8 * width), 0.0, 1.0) * (below >= 0)  # fades out past the chin
    lips = np.abs(xx - mx) <= width / 2
    out = np.empty((len(openness), size, size, 3), np.uint8)
    for i, o in enumerate(np.clip(openness, 0.0, 1.0)):
        drop = float(o) * MAX_OPEN_IOD * iod
        src_y = np.clip(yy - drop * across * down, 0, size - 1)
        frame = _sample_rows(base, src_y, xx)
        # the mouth's inside: between the upper lip (my) and the moved lower lip, an ellipse across the width
        half = (width / 2) * np.sqrt(np.clip(1 - ((yy - my - drop / 2) / max(drop / 2, 1e-6)) ** 2, 0, 1))
        inside = (below >= 0) & (below < drop * across) & lips & (np.abs(xx - mx) <= half)
        frame[inside] = MOUTH_INSIDE
        frame += rng.normal(0, 2.0, frame.shape)
        out[i] = np.clip(frame, 0, 255).astype(np.uint8)
    return out


def _sample_rows(img: np.ndarray, src_y: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """img sampled at (src_y, xx) with linear interpolation along y."""
    y0 = np.floor(src_y).astype(np.int64)
    y1 = np.minimum(y0 + 1, img.shape[0] - 1)
    w = (src_y - y0)[..., None]
    x = xx.astype(np.int64)
    return img[y0, x] * (1 - w) + img[y1, x] * w


def openness_from_voice(wave: np.ndarray, rate: int, fps: float, frames: int) -> np.ndarray:
    """float32 [frames] in [0, 1]: the voice's RMS around each frame (40 ms), over its 95th percentile."""
    half = int(0.02 * rate)
    centres = (np.arange(frames) / fps * rate).astype(np.int64)
    rms = np.array([np.sqrt(np.mean(wave[max(0, c - half):c + half] ** 2)) if c < len(wave) else 0.0
                    for c in centres])
    top = np.percentile(rms[rms > 0], 95) if np.any(rms > 0) else 1.0
    return np.clip(rms / top, 0.0, 1.0).astype(np.float32)
