"""Prediction files: one CSV per clip, and the ABAW submission file.

Submission: header ``image_location,valence,arousal``, one row per frame,
``<clip>/<%05d>.jpg`` with 1-based frame numbers, clips in the order given (the test
list's order for the test split).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from affect.cache import atomic
from affect.report.frames import frame_table

SUBMISSION_COLUMNS = ("image_location", "valence", "arousal")
FLOAT_FORMAT = "%.6f"


def write_clip_csv(path: Path, values: np.ndarray, fps: float, presence: dict[str, np.ndarray] | None = None,
                   centres: np.ndarray | None = None) -> None:
    """``frame,time_s,valence,arousal[,face,speech]``, one row per frame (see `frame_table`)."""
    with atomic.atomic_path(path) as tmp:
        frame_table(values, fps, presence, centres).to_csv(tmp, index=False, float_format=FLOAT_FORMAT)


def read_clip_csv(path: Path) -> np.ndarray:
    """[frames, 2] float32 from a per-clip CSV."""
    table = pd.read_csv(path)
    return table[["valence", "arousal"]].to_numpy(np.float32)


def submission_table(clips: Sequence[str], predictions: Mapping[str, np.ndarray]) -> tuple[pd.DataFrame, list[str]]:
    """Rows for every clip in ``clips`` that has predictions, in order; and the clips that have none."""
    parts, missing = [], []
    for clip in clips:
        if clip not in predictions:
            missing.append(clip)
            continue
        v = np.asarray(predictions[clip], dtype=np.float32)
        names = [f"{clip}/{i:05d}.jpg" for i in range(1, v.shape[0] + 1)]
        parts.append(pd.DataFrame({"image_location": names, "valence": v[:, 0], "arousal": v[:, 1]}))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(SUBMISSION_COLUMNS))
    return table, missing


def write_submission(path: Path, clips: Sequence[str], predictions: Mapping[str, np.ndarray]) -> list[str]:
    """Write the submission file; returns the clips that could not be included (no predictions)."""
    table, missing = submission_table(clips, predictions)
    with atomic.atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format=FLOAT_FORMAT)
    return missing
