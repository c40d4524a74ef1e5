"""What stage 08 needs from training (stages 05-07), behind one small interface.

``TrainBackend`` forwards to ``affect.train.runs`` (``list_runs``, ``predict_grid``, ``read_run``) and
``affect.train.aligned`` (``load_clip``), imported only when used; tests give the stage
another backend with the same methods (``train_clips`` and ``dev_clips`` read each run's run.json).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from affect.timegrid import Grid


class RunsBackend(Protocol):
    def list_runs(self, stage_dir: Path) -> dict[str, Path]:
        """Model name -> run folder, for a finished stage 06 or 07 folder."""

    def predict_grid(self, run_dir: Path, align_dir: Path, clips: Sequence[str], device: str) -> dict[str, np.ndarray]:
        """Clip -> [steps, 2] predictions on the clip's aligned grid."""

    def grid(self, align_dir: Path, clip: str) -> tuple[Grid, int]:
        """The clip's grid and its number of steps, as stage 05 stored them."""

    def train_clips(self, run_dir: Path) -> set[str]:
        """The clips whose labels the run used: fitted on, and its inner development set (empty when the run
        does not say)."""

    def dev_clips(self, run_dir: Path) -> set[str]:
        """The run's inner development set (empty when it selected on validation or does not say)."""


class TrainBackend:
    """The real thing: affect.train.runs and affect.train.aligned."""

    def list_runs(self, stage_dir: Path) -> dict[str, Path]:
        from affect.train.runs import list_runs

        return {name: Path(path) for name, path in list_runs(stage_dir).items()}

    def predict_grid(self, run_dir: Path, align_dir: Path, clips: Sequence[str], device: str) -> dict[str, np.ndarray]:
        from affect.train.runs import predict_grid

        return predict_grid(run_dir, align_dir, list(clips), device=device)

    def grid(self, align_dir: Path, clip: str) -> tuple[Grid, int]:
        from affect.train.aligned import load_clip

        aligned = load_clip(align_dir, clip)  # memory-mapped: only grid.json and the small masks are read
        return Grid(float(aligned.hop)), int(aligned.steps)

    def train_clips(self, run_dir: Path) -> set[str]:
        from affect.train.runs import read_run

        try:
            run = read_run(run_dir)
        except FileNotFoundError:  # not a finished run: predict_run reports it
            return set()
        return set(run.get("train_clips", [])) | set(run.get("dev_clips", []))

    def dev_clips(self, run_dir: Path) -> set[str]:
        from affect.train.runs import read_run

        try:
            return set(read_run(run_dir).get("dev_clips", []))
        except FileNotFoundError:
            return set()
