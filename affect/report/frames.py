"""Grid predictions onto every video frame, and the per-clip frame table.

A clip's frames are the manifest's ``frames`` (label lines for a labelled clip, video
frames for an unlabelled one): every one of them gets exactly one prediction, with or
without a face or speech there, clipped to [-1, 1]. Frame numbers in tables are the
1-based image numbers (``%05d.jpg``, label line i); ``time_s`` is the frame's centre.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from affect.timegrid import Grid, frame_times, grid_to_frames

FRAME_COLUMNS = ("frame", "time_s", "valence", "arousal")


class PredictionError(ValueError):
    """A model's predictions for one clip are unusable (NaN, wrong shape...)."""

    def __init__(self, clip: str, message: str):
        super().__init__(f"clip {clip!r}: {message}")
        self.clip = clip
        self.message = message


def check_grid_predictions(clip: str, values: npt.ArrayLike, steps: int | None = None) -> np.ndarray:
    """``values`` as float32 [steps, 2]; raises PredictionError on a bad shape or non-finite values."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim != 2 or v.shape[1] != 2:
        raise PredictionError(clip, f"predictions must be [steps, 2] (valence, arousal), got shape {v.shape}")
    if steps is not None and v.shape[0] != steps:
        raise PredictionError(clip, f"{v.shape[0]} predicted steps but the aligned grid has {steps}")
    if v.shape[0] == 0:
        raise PredictionError(clip, "no predicted steps")
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise PredictionError(clip, f"NaN/inf predictions on {int(bad.sum())} of {v.shape[0]} grid steps "
                                    f"(first at step {first}); the model or its inputs are broken")
    return v


def to_video_frames(clip: str, values: npt.ArrayLike, grid: Grid, frames: int, fps: float) -> np.ndarray:
    """Grid predictions [steps, 2] -> one row per video frame [frames, 2] float32 in [-1, 1]."""
    v = check_grid_predictions(clip, values)
    if frames <= 0:
        raise PredictionError(clip, f"the manifest gives {frames} frames")
    out = grid_to_frames(v, grid, frames, fps)
    return np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)


PRESENCE_COLUMNS = ("face", "speech")  # 1 = a face crop / detected speech at this frame, 0 = none (still predicted)


def frame_table(values: npt.ArrayLike, fps: float, presence: dict[str, np.ndarray] | None = None,
                centres: npt.ArrayLike | None = None) -> pd.DataFrame:
    """``frame,time_s,valence,arousal[,face,speech]``: one row per frame, frame = 1-based image number,
    time_s = the frame's centre, ``(frame - 0.5) / fps``, or ``centres`` (real times, s from the first
    frame) for a video whose frame rate varies; `presence` adds 0/1 columns (``face``, ``speech``)."""
    v = np.asarray(values, dtype=np.float32)
    n = v.shape[0]
    t = frame_times(n, fps) if centres is None else np.asarray(centres, np.float64)
    if t.shape != (n,):
        raise ValueError(f"frame centres: {t.shape[0]} times for {n} frames")
    table = pd.DataFrame({
        "frame": np.arange(1, n + 1),
        "time_s": np.round(t, 6),
        "valence": v[:, 0],
        "arousal": v[:, 1],
    }, columns=list(FRAME_COLUMNS))
    for name in PRESENCE_COLUMNS:
        if presence is not None and name in presence:
            flags = np.asarray(presence[name]).astype(bool)
            if flags.shape != (n,):
                raise ValueError(f"{name} presence: {flags.shape[0]} values for {n} frames")
            table[name] = flags.astype(np.uint8)
    return table


def speech_at_frames(activity: np.ndarray, times: np.ndarray, valid: np.ndarray, frames: int, fps: float,
                     centres: np.ndarray | None = None) -> np.ndarray:
    """Speech activity (a 0/1 series at `times`, window centres) at each video frame's centre (``centres``,
    real times, where the frame rate varies): the nearest window's value, 0 where that window has no real
    audio or the frame lies beyond the series."""
    centres = frame_times(frames, fps) if centres is None else np.asarray(centres, np.float64)
    if len(times) == 0:
        return np.zeros(frames, bool)
    step = float(times[1] - times[0]) if len(times) > 1 else 1.0
    k = np.rint((centres - times[0]) / step).astype(int)
    inside = (k >= 0) & (k < len(times))
    k = np.clip(k, 0, len(times) - 1)
    return inside & (np.asarray(activity).reshape(-1)[k] > 0.5) & np.asarray(valid, bool)[k]
