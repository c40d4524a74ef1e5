"""Concordance correlation coefficient (CCC) and the ABAW valence-arousal score.

CCC = 2 cov(x, y) / (var x + var y + (mean x - mean y)^2), population (ddof=0)
statistics, float64 accumulation, no epsilon. Pairs where either value is NaN are
excluded. Undefined cases (fewer than 2 valid pairs, or a zero denominator, i.e.
both series constant and equal) give NaN and an ``UndefinedCCCWarning``, never an
exception. A constant prediction against varying labels is well defined (CCC 0).

The challenge score (``evaluate``) is computed once over all valid frames of all
clips concatenated; per-clip CCC is reported beside it, never averaged into it.
Columns are (valence, arousal) everywhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

DIMS: tuple[str, str] = ("valence", "arousal")
PER_CLIP_COLUMNS: tuple[str, ...] = (
    "clip", "frames", "valid_frames", "ccc_valence", "ccc_arousal", "p_va",
)


class UndefinedCCCWarning(RuntimeWarning):
    """CCC is undefined (fewer than 2 valid pairs or a zero denominator); NaN returned."""


def ccc(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """CCC of two equally shaped series (flattened); NaN pairs are excluded.

    Returns NaN with an ``UndefinedCCCWarning`` when fewer than 2 valid pairs remain
    or when both series are constant and equal (zero denominator).
    Raises ValueError when the shapes differ.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"ccc: shapes differ, {x.shape} vs {y.shape}")
    x, y = x.ravel(), y.ravel()
    valid = ~(np.isnan(x) | np.isnan(y))
    if not valid.all():
        x, y = x[valid], y[valid]
    if x.size < 2:
        warnings.warn(
            f"CCC undefined: {x.size} valid pair(s), need at least 2",
            UndefinedCCCWarning, stacklevel=2,
        )
        return float("nan")
    mx, my = x.mean(), y.mean()
    # An exactly constant series has variance exactly 0 (mean() may round off).
    dx = np.zeros_like(x) if x.min() == x.max() else x - mx
    dy = np.zeros_like(y) if y.min() == y.max() else y - my
    n = x.size
    cov = np.dot(dx, dy) / n
    var_x = np.dot(dx, dx) / n
    var_y = np.dot(dy, dy) / n
    denominator = var_x + var_y + (mx - my) ** 2
    if denominator == 0.0:
        warnings.warn(
            "CCC undefined: both series constant and equal (zero denominator)",
            UndefinedCCCWarning, stacklevel=2,
        )
        return float("nan")
    return float(2.0 * cov / denominator)


def p_va(ccc_valence: float, ccc_arousal: float) -> float:
    """The challenge score: mean of valence and arousal CCC (NaN if either is NaN)."""
    return float((ccc_valence + ccc_arousal) / 2.0)


@dataclass(frozen=True)
class Report:
    """Global CCC over all valid frames of all clips, plus a per-clip table.

    ``frames`` counts all label frames; ``valid_frames`` counts frames whose
    valence and arousal labels are both valid (each dimension's CCC uses the
    frames valid in that dimension).
    """

    ccc_valence: float
    ccc_arousal: float
    p_va: float
    clips: int
    frames: int
    valid_frames: int
    per_clip: pd.DataFrame = field(repr=False, compare=False)

    def as_dict(self) -> dict[str, float | int]:
        """The global figures as a flat JSON-friendly dict (no per-clip table)."""
        return {
            "ccc_valence": self.ccc_valence,
            "ccc_arousal": self.ccc_arousal,
            "p_va": self.p_va,
            "clips": self.clips,
            "frames": self.frames,
            "valid_frames": self.valid_frames,
        }


def _check_clip(clip: str, pred: npt.ArrayLike, label: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    label = np.asarray(label, dtype=np.float64)
    if label.ndim != 2 or label.shape[1] != 2:
        raise ValueError(f"clip {clip!r}: labels must be [T, 2] (valence, arousal), got {label.shape}")
    if pred.shape != label.shape:
        raise ValueError(
            f"clip {clip!r}: predictions {pred.shape} and labels {label.shape} differ in shape"
        )
    finite_label = label[~np.isnan(label)]
    if finite_label.size and np.abs(finite_label).max() > 1.0 + 1e-6:
        raise ValueError(
            f"clip {clip!r}: labels outside [-1, 1] (unconverted -5 invalid markers? "
            "invalid labels must be NaN)"
        )
    if np.isnan(pred[~np.isnan(label)]).any():
        raise ValueError(f"clip {clip!r}: predictions are NaN on frames with valid labels")
    return pred, label


def evaluate(
    predictions: Mapping[str, npt.ArrayLike],
    labels: Mapping[str, npt.ArrayLike],
) -> Report:
    """Score ``predictions`` against ``labels`` as the ABAW VA challenge does.

    Both map clip id -> [T, 2] (valence, arousal); invalid labels are NaN. The global
    CCC per dimension is computed once over all valid frames of every clip in
    ``labels`` concatenated; P_VA is their mean. Clips only in ``predictions`` are
    ignored. Raises ValueError naming the clips that are missing from
    ``predictions``, or a clip whose shapes differ, whose labels leave [-1, 1], or
    whose predictions are NaN where a label is valid. Undefined per-clip CCCs are
    NaN with a single ``UndefinedCCCWarning`` listing the clips.
    """
    missing = [clip for clip in labels if clip not in predictions]
    if missing:
        shown = ", ".join(map(repr, missing[:20])) + (" ..." if len(missing) > 20 else "")
        raise ValueError(f"{len(missing)} labelled clip(s) missing from predictions: {shown}")
    if not labels:
        raise ValueError("evaluate: no labelled clips")

    rows, all_pred, all_label = [], [], []
    undefined: list[str] = []
    for clip, label in labels.items():
        pred, label = _check_clip(clip, predictions[clip], label)
        all_pred.append(pred)
        all_label.append(label)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UndefinedCCCWarning)
            values = [ccc(pred[:, d], label[:, d]) for d in range(2)]
        if any(issubclass(w.category, UndefinedCCCWarning) for w in caught):
            undefined.append(clip)
        rows.append({
            "clip": clip,
            "frames": int(label.shape[0]),
            "valid_frames": int((~np.isnan(label)).all(axis=1).sum()),
            "ccc_valence": values[0],
            "ccc_arousal": values[1],
            "p_va": p_va(*values),
        })
    if undefined:
        shown = ", ".join(map(repr, undefined[:20])) + (" ..." if len(undefined) > 20 else "")
        warnings.warn(
            f"per-clip CCC undefined (NaN) for {len(undefined)} clip(s): {shown}",
            UndefinedCCCWarning, stacklevel=2,
        )

    pred = np.concatenate(all_pred, axis=0)
    label = np.concatenate(all_label, axis=0)
    cv = ccc(pred[:, 0], label[:, 0])
    ca = ccc(pred[:, 1], label[:, 1])
    per_clip = pd.DataFrame(rows, columns=list(PER_CLIP_COLUMNS))
    return Report(
        ccc_valence=cv,
        ccc_arousal=ca,
        p_va=p_va(cv, ca),
        clips=len(rows),
        frames=int(label.shape[0]),
        valid_frames=int((~np.isnan(label)).all(axis=1).sum()),
        per_clip=per_clip,
    )
