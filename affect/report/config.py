"""`PredictConfig` and `EvaluateConfig`: the typed configs of stages 08 and 09."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PredictConfig:
    """Stage 08 `predict`: per-frame valence/arousal for every frame of every clip, and the submission file."""

    smooth: bool = True  # choose a temporal smoothing window on the validation split and apply it


@dataclass
class EvaluateConfig:
    """Stage 09 `evaluate`: the challenge's CCC, per-clip tables, plots and report.md."""

    plot_clips: int = 4  # how many clips get a time-series plot
