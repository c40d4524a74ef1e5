"""The subject's mouth over time, and the subject's own speech activity.

`mouth_opening` reads stage 01's aligned crops of a clip and measures, per video frame, the
inner-lip gap in inter-ocular distances (dlib's 68 points: `affect.backbones.landmarks`,
column `mouth_open`); NaN where the frame has no crop or dlib's fit fails.

`mouth_movement`: the standard deviation of that opening over a centred window of `window_s`
seconds: a talking mouth opens and closes at the syllable rate (3-7 Hz), a still or smiling
mouth hardly changes. NaN where fewer than half the window's frames have an opening.

`subject_activity`: a 32 ms audio window counts as the subject speaking when the voice
activity says speech AND the mouth moves (movement above `threshold`) at that time. Where the
mouth cannot be seen (no face, failed fit) the voice alone decides: nothing says that someone
else talks, and dropping every faceless step would drop the speech of a subject who turns away.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BATCH = 64


def mouth_opening(crop_dir: str | Path, frames: int, landmarks=None) -> np.ndarray:
    """float32 [frames]: the inner-lip gap (inter-ocular distances) per video frame; NaN where unknown.
    `landmarks`: a `landmarks68` backbone (made here when None; dlib's model ships in a package)."""
    from affect.face.crops import CropReader

    landmarks = landmarks or _landmarks()
    reader = CropReader(crop_dir)
    try:
        have = np.flatnonzero(reader.has_crop[:frames])
        out = np.full(frames, np.nan, np.float32)
        for start in range(0, len(have), BATCH):
            idx = have[start:start + BATCH]
            out[idx] = opening_of_crops(reader.read(idx), landmarks)
    finally:
        reader.close()
    return out


def opening_of_crops(crops: np.ndarray, landmarks=None) -> np.ndarray:
    """uint8 [B, H, W, 3] aligned crops -> float32 [B] inner-lip gap (inter-ocular distances; NaN = failed fit)."""
    from affect.backbones.landmarks import GEOMETRY, N_POINTS

    landmarks = landmarks or _landmarks()
    feats = landmarks.forward(landmarks.preprocess(crops))
    return feats[:, 2 * N_POINTS + GEOMETRY.index("mouth_open")].astype(np.float32)


def _landmarks():
    from affect.backbones.registry import create_backbone

    return create_backbone("landmarks68")


def mouth_movement(opening: np.ndarray, fps: float, window_s: float = 0.5) -> np.ndarray:
    """float32 [frames]: std of the opening over a centred window of `window_s` s (NaN where < half known)."""
    x = np.asarray(opening, np.float64)
    n = len(x)
    half = max(1, int(round(window_s * fps / 2)))
    known = ~np.isnan(x)
    v = np.where(known, x, 0.0)
    c = np.concatenate([[0], np.cumsum(known)])
    s1 = np.concatenate([[0.0], np.cumsum(v)])
    s2 = np.concatenate([[0.0], np.cumsum(v * v)])
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    count = c[hi] - c[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (s1[hi] - s1[lo]) / count
        var = np.maximum((s2[hi] - s2[lo]) / count - mean ** 2, 0.0)
    out = np.sqrt(var)
    out[count < (hi - lo) / 2] = np.nan
    return out.astype(np.float32)


def subject_activity(voice: np.ndarray, times: np.ndarray, movement: np.ndarray, fps: float,
                     threshold: float = 0.02) -> np.ndarray:
    """Voice activity (0/1 per window at `times` s) AND the mouth moving then -> float32 0/1 per window.
    Windows whose time has no mouth measure keep the voice's value."""
    voice = np.asarray(voice, np.float32)
    frame = np.clip(np.floor(np.asarray(times) * fps).astype(np.int64), 0, max(len(movement) - 1, 0))
    if len(movement) == 0:
        return voice.copy()
    move = movement[frame]
    moving = np.where(np.isnan(move), True, move > threshold)
    return (voice * moving).astype(np.float32)
