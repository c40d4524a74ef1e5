"""The one module that owns time: the grid, and series moved onto and off it.

Convention (all times in seconds, from the start of the video):

* A grid of hop ``h``: step ``k`` covers ``[k h, (k+1) h)`` and sits at its centre
  ``(k + 0.5) h``. A duration ``d`` has ``ceil(d / h)`` steps (snapped to the nearest
  integer when within 1e-9 relative, so 10.0 s at 0.25 s is 40 steps, 1.1 s at 0.1 s
  is 11, not 12).
* Video frame ``i`` (0-based; image ``%05d.jpg`` of number ``i + 1``) of a video at
  ``fps`` covers ``[i / fps, (i + 1) / fps)`` and sits at ``(i + 0.5) / fps``. A grid
  with ``h = 1 / fps`` therefore maps step ``k`` to frame ``k`` exactly.
* Any native-rate series (speech-encoder frames, labels, features) is given as
  ``values [N, D]`` with ``times [N]`` = the centre of the interval each sample covers,
  and an optional ``mask [N]`` (True = valid). A sample is also invalid when its time
  or any of its values is not finite (validity is per sample, not per value).
* Variable frame rate: the clock above is the frames' *index* clock, ``i / fps``. Where
  presentation times differ from it (``frame_clock`` "variable" in the manifest), series on
  real time (audio, speech features: seconds from the first frame) are moved onto the index
  clock with ``to_frame_clock``, so that a sound lands on the frame shown with it.
* Resampled values are float32 with a bool mask per step. Steps with mask False are
  never NaN: they hold the linear interpolation between the nearest valid steps
  (the nearest valid value beyond the first/last one), or 0 when there is none.
  Times are float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_REL_TOL = 1e-9


def _snap(ratio: npt.ArrayLike) -> np.ndarray:
    """Round ratios within ``_REL_TOL`` (relative) of an integer to that integer."""
    r = np.asarray(ratio, dtype=np.float64)
    k = np.rint(r)
    return np.where(np.abs(r - k) <= _REL_TOL * np.maximum(1.0, np.abs(r)), k, r)


def _robust_ceil(ratio: float) -> int:
    return int(np.ceil(_snap(ratio)))


@dataclass(frozen=True)
class Grid:
    """A time grid of ``hop`` seconds; step k covers [k hop, (k+1) hop)."""

    hop: float

    def __post_init__(self) -> None:
        hop = float(self.hop)
        if not math.isfinite(hop) or hop <= 0:
            raise ValueError(f"Grid: hop must be a positive number of seconds, got {self.hop!r}")
        object.__setattr__(self, "hop", hop)

    @classmethod
    def for_video(cls, fps: float) -> Grid:
        """The grid whose steps are the frames of a video at ``fps``."""
        _check_fps(fps)
        return cls(1.0 / fps)

    @property
    def rate(self) -> float:
        """Steps per second."""
        return 1.0 / self.hop

    def num_steps(self, duration: float) -> int:
        """Steps needed to cover ``duration`` seconds: ceil(duration / hop)."""
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"num_steps: duration must be >= 0 seconds, got {duration!r}")
        return _robust_ceil(duration / self.hop)

    def times(self, n: int) -> np.ndarray:
        """Centres (k + 0.5) hop of the first ``n`` steps, float64 [n]."""
        return (np.arange(n, dtype=np.float64) + 0.5) * self.hop

    def index(self, times: npt.ArrayLike) -> np.ndarray:
        """Step holding each time, floor(t / hop), int64; boundaries belong to the later step."""
        return np.floor(_snap(np.asarray(times, dtype=np.float64) / self.hop)).astype(np.int64)

    def matches_fps(self, fps: float) -> bool:
        """True when this grid's steps are the frames of a video at ``fps``."""
        return abs(self.hop * fps - 1.0) <= _REL_TOL


def _check_fps(fps: float) -> None:
    if not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")


def frame_times(n_frames: int, fps: float) -> np.ndarray:
    """Centres (i + 0.5) / fps of video frames 0..n_frames-1, float64 [n_frames]."""
    _check_fps(fps)
    return (np.arange(n_frames, dtype=np.float64) + 0.5) / fps


def frame_centres(frame_starts: npt.ArrayLike, fps: float, n_frames: int) -> np.ndarray:
    """Real centres of frames 0..n_frames-1 whose presentation times are ``frame_starts`` (s from the
    first frame, sorted), float64 [n_frames]: each frame lasts until the next one starts, the last
    one ``1 / fps``; frames past the last start (a label file longer than the video) follow it at
    ``1 / fps`` each. For a constant-rate video it equals `frame_times`."""
    _check_fps(fps)
    starts = np.asarray(frame_starts, dtype=np.float64)
    if starts.size < n_frames:
        last = starts[-1] if starts.size else -1.0 / fps
        starts = np.append(starts, last + np.arange(1, n_frames - starts.size + 1) / fps)
    ends = np.append(starts[1:], starts[-1] + 1.0 / fps) if starts.size else starts
    return ((starts + ends) / 2.0)[:n_frames]


def to_frame_clock(times: npt.ArrayLike, frame_starts: npt.ArrayLike, fps: float) -> np.ndarray:
    """Real times (s from the first frame) on the frames' index clock, float64.

    ``frame_starts`` [n]: presentation time of frame i (s from the first frame, sorted; frames
    that share a time, as some encoders leave them, share it on the index clock too).
    A time inside frame i, ``frame_starts[i] + u`` with ``u`` in [0, frame_starts[i+1] -
    frame_starts[i]), maps to ``(i + u / that span) / fps``; before the first frame and after the
    last frame's start, time runs at the index clock's own rate (``1 / fps`` per frame). For a
    constant-rate video (``frame_starts[i] == i / fps``) it is the identity.
    """
    _check_fps(fps)
    t = np.asarray(times, dtype=np.float64)
    starts = np.asarray(frame_starts, dtype=np.float64)
    if starts.ndim != 1 or starts.size == 0:
        raise ValueError(f"to_frame_clock: frame_starts must be [n >= 1], got shape {starts.shape}")
    if starts.size > 1 and np.any(np.diff(starts) < 0):
        raise ValueError("to_frame_clock: frame_starts must not decrease")
    index = np.arange(starts.size, dtype=np.float64) / fps
    out = np.interp(t, starts, index)
    before, after = t < starts[0], t > starts[-1]
    out[before] = index[0] + (t[before] - starts[0])
    out[after] = index[-1] + (t[after] - starts[-1])
    return out


def num_frames(duration: float, fps: float) -> int:
    """Frames needed to cover ``duration`` seconds at ``fps``: ceil(duration * fps)."""
    _check_fps(fps)
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"num_frames: duration must be >= 0 seconds, got {duration!r}")
    return _robust_ceil(duration * fps)


# --------------------------------------------------------------------------- helpers


def _prepare(
    values: npt.ArrayLike, times: npt.ArrayLike, mask: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(values [N, D], times float64 [N], valid bool [N], input was 1-D)."""
    v = np.asarray(values)
    one_d = v.ndim == 1
    if one_d:
        v = v[:, None]
    if v.ndim != 2:
        raise ValueError(f"values must be [N] or [N, D], got shape {v.shape}")
    if not np.issubdtype(v.dtype, np.floating):
        v = v.astype(np.float64)
    t = np.asarray(times, dtype=np.float64)
    if t.shape != (v.shape[0],):
        raise ValueError(f"times must be [N] = [{v.shape[0]}], got shape {t.shape}")
    valid = np.isfinite(t) & np.isfinite(v).all(axis=1)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != t.shape:
            raise ValueError(f"mask must be [N] = [{t.shape[0]}], got shape {m.shape}")
        valid &= m
    return v, t, valid, one_d


def _work_dtype(v: np.ndarray) -> type:
    return np.float64 if v.dtype == np.float64 else np.float32


def _lerp(src_t: np.ndarray, src_v: np.ndarray, dst_t: np.ndarray) -> np.ndarray:
    """Linear interpolation of rows ``src_v`` (at sorted ``src_t``) at ``dst_t``; edge hold."""
    m = src_t.shape[0]
    right = np.searchsorted(src_t, dst_t, side="right")  # first source strictly after
    left = np.clip(right - 1, 0, m - 1)
    right = np.clip(right, 0, m - 1)
    span = src_t[right] - src_t[left]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(span > 0, (dst_t - src_t[left]) / span, 0.0)
    w = np.clip(w, 0.0, 1.0).astype(src_v.dtype)[:, None]
    a, b = src_v[left], src_v[right]
    return a + (b - a) * w


def _fill_invalid(out: np.ndarray, ok: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Fill rows where ``ok`` is False by interpolating the valid rows (0 if none)."""
    if ok.all():
        return out
    if not ok.any():
        out[:] = 0.0
        return out
    out[~ok] = _lerp(centres[ok], out[ok], centres[~ok])
    return out


def _source_period(times: np.ndarray) -> float | None:
    """Median spacing of the finite sample times, None if it cannot be told."""
    t = np.sort(times[np.isfinite(times)])
    d = np.diff(t)
    d = d[d > 0]
    return float(np.median(d)) if d.size else None


def _finish(out: np.ndarray, one_d: bool) -> np.ndarray:
    out = out.astype(np.float32, copy=False)
    return out[:, 0] if one_d else out


# --------------------------------------------------------------------------- resampling


def pool(
    values: npt.ArrayLike,
    times: npt.ArrayLike,
    mask: npt.ArrayLike | None,
    grid: Grid,
    n_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the valid samples whose time falls in each step's interval.

    For a series denser than the grid (e.g. 50 Hz speech frames onto 0.25 s).
    Returns ``(out [n_steps, D] float32, out_mask [n_steps])``; out_mask is True
    where at least one valid sample fell in the step. Samples outside
    ``[0, n_steps hop)`` are ignored. Sums are accumulated in float64.
    """
    v, t, valid, one_d = _prepare(values, times, mask)
    k = np.where(valid, grid.index(np.where(valid, t, 0.0)), -1)
    keep = (k >= 0) & (k < n_steps)
    k, v = k[keep], v[keep]
    out = np.zeros((n_steps, v.shape[1]), dtype=np.float64)
    ok = np.zeros(n_steps, dtype=bool)
    if k.size:
        if np.any(np.diff(k) < 0):
            order = np.argsort(k, kind="stable")
            k, v = k[order], v[order]
        steps, starts, counts = np.unique(k, return_index=True, return_counts=True)
        sums = np.add.reduceat(v, starts, axis=0, dtype=np.float64)
        out[steps] = sums / counts[:, None]
        ok[steps] = True
    out = _fill_invalid(out, ok, grid.times(n_steps))
    return _finish(out, one_d), ok


def interpolate(
    values: npt.ArrayLike,
    times: npt.ArrayLike,
    mask: npt.ArrayLike | None,
    grid: Grid,
    n_steps: int,
    reach: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of the valid samples at the step centres, edge values held.

    For a series sparser than the grid (e.g. 4 Hz features onto a 30 fps grid).
    A step is valid (out_mask True) when its centre lies within ``reach`` seconds of
    a valid sample; the default, half the source period (median sample spacing, or
    half a hop when that cannot be told), means "inside the interval a valid sample
    covers". Returns ``(out [n_steps, D] float32, out_mask [n_steps])``.
    """
    v, t, valid, one_d = _prepare(values, times, mask)
    centres = grid.times(n_steps)
    if not valid.any():
        return _finish(np.zeros((n_steps, v.shape[1])), one_d), np.zeros(n_steps, dtype=bool)
    if reach is None:
        period = _source_period(t)
        reach = (period if period is not None else grid.hop) / 2.0
    src_t, src_v = t[valid], v[valid].astype(_work_dtype(v), copy=False)
    if np.any(np.diff(src_t) < 0):
        order = np.argsort(src_t, kind="stable")
        src_t, src_v = src_t[order], src_v[order]
    out = _lerp(src_t, src_v, centres)
    after = np.searchsorted(src_t, centres)
    dist = np.minimum(
        np.abs(centres - src_t[np.clip(after - 1, 0, src_t.size - 1)]),
        np.abs(src_t[np.clip(after, 0, src_t.size - 1)] - centres),
    )
    ok = dist <= reach * (1.0 + _REL_TOL) + 1e-12
    return _finish(out, one_d), ok


def to_grid(
    values: npt.ArrayLike,
    times: npt.ArrayLike,
    mask: npt.ArrayLike | None,
    grid: Grid,
    n_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``pool`` when the source is at least as dense as the grid, ``interpolate`` otherwise.

    Density is judged from the median sample spacing; a single sample is pooled.
    """
    period = _source_period(np.asarray(times, dtype=np.float64))
    if period is None or period <= grid.hop * (1.0 + _REL_TOL):
        return pool(values, times, mask, grid, n_steps)
    return interpolate(values, times, mask, grid, n_steps)


def grid_to_frames(
    values: npt.ArrayLike,
    grid: Grid,
    n_frames: int,
    fps: float,
    mask: npt.ArrayLike | None = None,
) -> np.ndarray:
    """One value per video frame, float32 [n_frames, D]: every frame gets exactly one.

    Linear interpolation of the valid grid steps at the frame centres, edge values
    held (also past the grid's end). When ``grid`` is ``Grid.for_video(fps)`` step k
    is copied to frame k unchanged. With no valid step the result is 0.
    """
    v = np.asarray(values)
    _check_fps(fps)
    centres = grid.times(v.shape[0] if v.ndim else 0)
    v, t, valid, one_d = _prepare(v, centres, mask)
    if not valid.any():
        return _finish(np.zeros((n_frames, v.shape[1])), one_d)
    if grid.matches_fps(fps):
        filled = _fill_invalid(v.astype(_work_dtype(v), copy=True), valid, t)
        idx = np.minimum(np.arange(n_frames), filled.shape[0] - 1)
        return _finish(filled[idx], one_d)
    src_v = v[valid].astype(_work_dtype(v), copy=False)
    return _finish(_lerp(t[valid], src_v, frame_times(n_frames, fps)), one_d)


def frames_to_grid(
    values: npt.ArrayLike,
    fps: float,
    grid: Grid,
    n_steps: int,
    mask: npt.ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame values [n_frames, D] onto ``grid``: ``to_grid`` at the frame centres.

    Pools (masked mean over each step) whenever the frames are at least as dense as
    the grid, the usual case; with ``Grid.for_video(fps)`` it is the identity.
    """
    v = np.asarray(values)
    return to_grid(v, frame_times(v.shape[0] if v.ndim else 0, fps), mask, grid, n_steps)
