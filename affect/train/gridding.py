"""Labels and feature series onto a clip's time grid (the maths of stage 05, no file handling).

Everything goes through ``affect.timegrid``. Labels are resampled one dimension at a time, so a
frame whose valence is valid and arousal invalid still gives its valence to the grid.
"""
from __future__ import annotations

import numpy as np

from affect.cache.series import Series
from affect.timegrid import Grid, frames_to_grid, to_grid
from affect.train.aligned import AlignedFeature


def clip_grid(hop: float, fps: float, frames: int) -> tuple[Grid, int]:
    """The clip's grid (``hop`` seconds, or the video's frame rate when ``hop`` is 0) and its step count."""
    grid = Grid.for_video(fps) if hop == 0 else Grid(hop)
    return grid, grid.num_steps(frames / fps)


def align_labels(labels: np.ndarray, fps: float, grid: Grid, steps: int) -> np.ndarray:
    """Per-frame labels [frames, 2] (NaN = invalid) -> [steps, 2] float32, NaN where a dimension has no valid frame."""
    out = np.full((steps, labels.shape[1]), np.nan, np.float32)
    for d in range(labels.shape[1]):
        col = labels[:, d]
        values, ok = frames_to_grid(col, fps, grid, steps, mask=~np.isnan(col))
        out[ok, d] = values[ok]
    return out


def substeps_for(rate: float, grid: Grid) -> int:
    """Sub-steps per grid step for a series at ``rate`` Hz: round(rate x hop), 0 if not denser than the grid."""
    k = int(round(rate * grid.hop))
    return k if k >= 2 else 0


def align_series(series: Series, grid: Grid, steps: int, substeps: int = 0,
                 extra_mask: np.ndarray | None = None) -> AlignedFeature:
    """A native-rate series onto the grid (pooled when denser, interpolated when sparser).

    ``extra_mask`` [steps] (e.g. speech activity) is ANDed into the grid mask. With ``substeps``
    k >= 2 the series is also put onto a grid k times finer ([steps * k, D]), whose mask is
    the fine mask AND the coarse one of the step it belongs to.
    """
    values, mask = to_grid(series.values, series.times, series.mask, grid, steps)
    if extra_mask is not None:
        mask = mask & extra_mask
    feature = AlignedFeature(values=values, mask=mask)
    if substeps:
        fine = Grid(grid.hop / substeps)
        sub_values, sub_mask = to_grid(series.values, series.times, series.mask, fine, steps * substeps)
        feature.sub_values, feature.sub_mask = sub_values, sub_mask & np.repeat(mask, substeps)
    return feature


def empty_feature(steps: int, dim: int, substeps: int = 0) -> AlignedFeature:
    """All-masked zeros: a clip without audio for a speech feature set."""
    f = AlignedFeature(values=np.zeros((steps, dim), np.float32), mask=np.zeros(steps, bool))
    if substeps:
        f.sub_values, f.sub_mask = np.zeros((steps * substeps, dim), np.float32), np.zeros(steps * substeps, bool)
    return f


def check_coverage(series: Series, duration: float, clip: str, name: str, tolerance: float = 1.0) -> bool:
    """ValueError when a series' times do not match the clip's duration (wrong clip, wrong length).

    True when the series has rows to align. False when it has none and the clip is shorter than
    the slack allowed at its end (a clip of a few frames, shorter than an encoder's window): the
    set is then all masked for that clip, as for a clip without audio.
    """
    slack = tolerance + 0.05 * duration
    if len(series.times) == 0:
        if duration <= slack + 1.0:
            return False
        raise ValueError(f"clip {clip!r}, feature set {name!r}: no rows for a clip of {duration:.2f} s")
    first, last = float(np.min(series.times)), float(np.max(series.times))
    if first < -slack or last > duration + slack or last < duration - slack - 1.0:
        raise ValueError(f"clip {clip!r}, feature set {name!r}: rows span {first:.2f}-{last:.2f} s but the clip "
                         f"lasts {duration:.2f} s (features of another clip, or a truncated series?)")
    valid = np.asarray(series.mask, bool)
    if not np.isfinite(series.values[valid]).all():
        raise ValueError(f"clip {clip!r}, feature set {name!r}: NaN/inf in valid rows")
    return True
