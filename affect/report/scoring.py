"""The challenge's score for one set of predictions, listing every clip it could not score.

``affect.metrics.evaluate`` refuses inconsistent input outright; here each bad clip is
set aside with the reason (no prediction, no labels, frame count differs, NaN on labelled
frames, labels out of range) and the rest is scored: nothing is dropped silently.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from affect.metrics import Report, UndefinedCCCWarning, evaluate

UNSCORED_COLUMNS = ("clip", "reason")


@dataclass
class Scored:
    """The metric report over the clips that could be scored (None when none could), and the rest."""

    report: Report | None
    unscored: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(UNSCORED_COLUMNS)))

    def row(self) -> dict[str, float | int]:
        """Flat figures for a results table (NaN when nothing could be scored)."""
        base = self.report.as_dict() if self.report else {
            "ccc_valence": np.nan, "ccc_arousal": np.nan, "p_va": np.nan, "clips": 0, "frames": 0, "valid_frames": 0}
        return {**base, "unscored": len(self.unscored)}


def problem(clip: str, pred: np.ndarray, label: np.ndarray) -> str | None:
    """Why ``pred`` cannot be scored against ``label``, or None."""
    if pred.ndim != 2 or pred.shape[1] != 2:
        return f"predictions have shape {pred.shape}, expected [frames, 2]"
    if pred.shape[0] != label.shape[0]:
        return f"{pred.shape[0]} predicted frames but {label.shape[0]} label frames"
    finite = label[np.isfinite(label)]
    if finite.size and np.abs(finite).max() > 1.0 + 1e-6:
        return "labels outside [-1, 1] (an unconverted -5 invalid marker?)"
    bad = np.isnan(pred) & ~np.isnan(label)
    if bad.any():
        return f"NaN predictions on {int(bad.any(axis=1).sum())} labelled frames"
    return None


def score(predictions: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray]) -> Scored:
    """Global CCC / P_VA over the scorable clips of ``labels``; the others listed with a reason.

    Clips predicted but absent from ``labels`` are listed as well ("no labels").
    """
    ok_pred: dict[str, np.ndarray] = {}
    ok_label: dict[str, np.ndarray] = {}
    unscored: list[dict[str, str]] = []
    for clip, label in labels.items():
        label = np.asarray(label, dtype=np.float32)
        if clip not in predictions:
            unscored.append({"clip": clip, "reason": "no predictions for this labelled clip"})
            continue
        pred = np.asarray(predictions[clip], dtype=np.float32)
        why = problem(clip, pred, label)
        if why:
            unscored.append({"clip": clip, "reason": why})
            continue
        ok_pred[clip], ok_label[clip] = pred, label
    for clip in predictions:
        if clip not in labels:
            unscored.append({"clip": clip, "reason": "predicted but no labels"})
    table = pd.DataFrame(unscored, columns=list(UNSCORED_COLUMNS))
    if not ok_label:
        return Scored(None, table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedCCCWarning)  # undefined per-clip CCC shows as NaN in the table
        return Scored(evaluate(ok_pred, ok_label), table)
