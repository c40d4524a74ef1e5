"""k-fold assignment by video: every clip of a video (its `_left` and `_right` too) in one fold."""
from __future__ import annotations

import numpy as np
import pandas as pd


def assign_folds(videos: pd.Series, frames: pd.Series, k: int, seed: int) -> pd.Series:
    """Fold index per row, balanced by frame count, deterministic for a seed.

    Videos are taken in a seeded random order, each going to the fold with the fewest
    frames so far (ties: lowest index). Rows with the same video always share a fold.
    """
    if k < 2:
        raise ValueError(f"folds must be >= 2, got {k}")
    per_video = frames.groupby(videos).sum().sort_index()
    order = np.random.default_rng(seed).permutation(len(per_video))
    load = np.zeros(k, dtype=np.int64)
    fold_of: dict[str, int] = {}
    for i in order:
        fold = int(np.argmin(load))
        fold_of[per_video.index[i]] = fold
        load[fold] += int(per_video.iloc[i])
    return videos.map(fold_of).astype("int64")
