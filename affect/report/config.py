"""`PredictConfig` and `EvaluateConfig`: the typed configs of stages 08 and 09."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PredictConfig:
    """Stage 08 `predict`: per-frame valence/arousal for every frame of every clip, and the submission file."""

    splits: list[str] = field(default_factory=lambda: ["validation", "test"])  # splits whose clips get predictions (and a submission file each)
    models: list[str] = field(default_factory=list)  # models to predict (e.g. fusion, unimodal/egemaps); empty = every run of stages 06 and 07
    ensemble: bool = True  # average the runs named <model>@<member> (seeds, folds) into one model
    smooth: bool = True  # choose a temporal smoothing window on the validation split and apply it
    smooth_kind: str = "mean"  # mean | median: the centred filter
    smooth_windows: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 2.0, 4.0])  # candidate windows in seconds (0 = none is always tried)
    missing: str = "fail"  # fail | zeros | mean: a test clip without predictions (rejected at stage 00, failed) stops stage 08, or is filled with 0 or the mean training label


@dataclass
class EvaluateConfig:
    """Stage 09 `evaluate`: the challenge's CCC, per-clip tables, plots and report.md."""

    splits: list[str] = field(default_factory=lambda: ["validation"])  # labelled splits to score
    plot_clips: int = 4  # how many clips get a time-series plot (per model)
