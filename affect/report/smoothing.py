"""Temporal smoothing of frame predictions, its window chosen on labelled (validation) clips.

A centred window of ``window_s`` seconds (odd number of frames at each clip's fps; 0 or
one frame = no smoothing), mean or median, shrinking at a clip's ends. Valence and
arousal get their own window. ``choose`` sees only the predictions and labels it is
given: the stage passes the validation split's, never the test split's.
"""
from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from affect.metrics.ccc import DIMS, UndefinedCCCWarning, ccc

log = logging.getLogger(__name__)

KINDS = ("mean", "median")


def window_frames(window_s: float, fps: float) -> int:
    """The odd number of frames nearest to ``window_s`` seconds at ``fps`` (at least 1)."""
    if window_s < 0:
        raise ValueError(f"smoothing window must be >= 0 seconds, got {window_s}")
    n = int(round(window_s * fps))
    return max(1, n if n % 2 else n + 1) if n > 1 else 1


def smooth_series(values: np.ndarray, window: int, kind: str = "mean") -> np.ndarray:
    """Centred ``kind`` filter of ``window`` frames along axis 0 of [T] or [T, D]; ends use fewer frames."""
    if kind not in KINDS:
        raise ValueError(f"smoothing kind must be one of {KINDS}, got {kind!r}")
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or v.shape[0] < 2:
        return v.astype(np.float32)
    one_d = v.ndim == 1
    v2 = v[:, None] if one_d else v
    half = window // 2
    if kind == "mean":
        csum = np.concatenate([np.zeros((1, v2.shape[1])), np.cumsum(v2, axis=0)], axis=0)
        idx = np.arange(v2.shape[0])
        lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, v2.shape[0])
        out = (csum[hi] - csum[lo]) / (hi - lo)[:, None]
    else:
        padded = np.pad(v2, ((half, half), (0, 0)), constant_values=np.nan)
        out = np.nanmedian(sliding_window_view(padded, window, axis=0), axis=-1)
    out = out.astype(np.float32)
    return out[:, 0] if one_d else out


@dataclass
class Smoothing:
    """A per-dimension window (seconds) and how it was chosen."""

    kind: str = "mean"
    window_s: dict[str, float] = field(default_factory=lambda: {d: 0.0 for d in DIMS})
    chosen_on: str = ""  # what the window was chosen on (split and clip count), "" = not chosen
    scores: list[dict[str, float]] = field(default_factory=list)  # CCC of every candidate window

    def apply(self, values: np.ndarray, fps: float) -> np.ndarray:
        """Smoothed copy of [T, 2] frame predictions (each dimension with its own window)."""
        v = np.asarray(values, dtype=np.float32)
        out = np.empty_like(v)
        for d, dim in enumerate(DIMS):
            out[:, d] = smooth_series(v[:, d], window_frames(self.window_s[dim], fps), self.kind)
        return np.clip(out, -1.0, 1.0)

    def save(self, path: Path) -> None:
        from affect.cache import atomic

        atomic.write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> Smoothing:
        return cls(**json.loads(Path(path).read_text()))


def choose(
    predictions: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    fps: Mapping[str, float],
    candidates_s: Sequence[float],
    kind: str = "mean",
    what: str = "validation",
    quiet: bool = False,
) -> Smoothing:
    """The window per dimension maximising the global CCC over the given labelled clips.

    The CCC is the challenge's: over all valid frames of the clips concatenated. Ties go to
    the shorter window; 0 s (no smoothing) is always a candidate. Clips without
    predictions are ignored (the caller reports them).
    """
    clips = [c for c in labels if c in predictions]
    if not clips:
        log.warning("smoothing: no labelled %s clip with predictions; no smoothing", what)
        return Smoothing(kind=kind, chosen_on=f"nothing (no labelled {what} clips)")
    candidates = sorted({0.0, *map(float, candidates_s)})
    label = np.concatenate([labels[c] for c in clips]).astype(np.float64)
    scores: list[dict[str, float]] = []
    for w in candidates:
        pred = np.concatenate([
            Smoothing(kind, {d: w for d in DIMS}).apply(predictions[c], fps[c]) for c in clips
        ])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedCCCWarning)
            scores.append({"window_s": w, **{f"ccc_{d}": ccc(pred[:, i], label[:, i]) for i, d in enumerate(DIMS)}})
    chosen = {}
    for dim in DIMS:
        values = np.array([s[f"ccc_{dim}"] for s in scores])
        chosen[dim] = candidates[int(np.nanargmax(values))] if np.isfinite(values).any() else 0.0
    result = Smoothing(kind, chosen, f"{what} ({len(clips)} clips)", scores)
    (log.debug if quiet else log.info)("smoothing (%s) chosen on %s: %s", kind, result.chosen_on,
             ", ".join(f"{d} {chosen[d]:g} s" for d in DIMS))
    return result


def held_out(
    predictions: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    fps: Mapping[str, float],
    video_of: Mapping[str, str],
    candidates_s: Sequence[float],
    kind: str = "mean",
) -> dict[str, np.ndarray]:
    """The labelled clips, each smoothed with the windows chosen on the *other videos'* clips.

    Scoring ``choose``'s own clips after smoothing them with the window chosen on them is
    optimistic (the window has seen those labels). Leaving one video out at a time (both
    `_left`/`_right` clips of a video together) gives each clip a window chosen without it:
    its score is what the chosen window would do on unseen clips. A video with no other
    labelled video to choose on is left unsmoothed.
    """
    clips = [c for c in labels if c in predictions]
    out: dict[str, np.ndarray] = {}
    for video in sorted({video_of[c] for c in clips}):
        others = {c: labels[c] for c in clips if video_of[c] != video}
        smoothing = (choose(predictions, others, fps, candidates_s, kind, what="other videos", quiet=True)
                     if others else Smoothing(kind, chosen_on="nothing (no other labelled video)"))
        for c in clips:
            if video_of[c] == video:
                out[c] = smoothing.apply(predictions[c], fps[c])
    return out
