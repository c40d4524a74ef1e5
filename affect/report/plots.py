"""PNG figures: predicted vs true valence/arousal over time, and 2-D VA densities.

matplotlib (Agg backend) is imported inside the functions: importing this module is free.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affect.metrics.ccc import DIMS
from affect.timegrid import frame_times


@dataclass
class ClipCurves:
    """One clip's frame predictions (raw and smoothed) and labels (NaN = invalid)."""

    clip: str
    fps: float
    label: np.ndarray
    raw: np.ndarray
    smoothed: np.ndarray | None = None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from affect.cache import atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    _pyplot().close(fig)
    return path


def plot_series(path: Path, curves: Sequence[ClipCurves], title: str) -> Path:
    """A grid of panels: one row per clip, valence and arousal columns, label vs predictions over time."""
    if not curves:
        raise ValueError("plot_series: no clips to plot")
    plt = _pyplot()
    fig, axes = plt.subplots(len(curves), 2, figsize=(11, 2.3 * len(curves)), squeeze=False, sharey=True)
    for row, c in zip(axes, curves):
        t = frame_times(c.label.shape[0], c.fps)
        for d, (ax, dim) in enumerate(zip(row, DIMS)):
            ax.plot(t, c.label[:, d], color="black", lw=1.2, label="label")
            if c.smoothed is not None:  # wide and pale under the raw line, so that both show
                ax.plot(t, c.smoothed[:, d], color="tab:orange", lw=2.4, alpha=0.55, label="smoothed")
            ax.plot(t, c.raw[:, d], color="tab:blue", lw=0.8, label="raw prediction")
            ax.set_ylim(-1.05, 1.05)
            ax.set_title(panel_title(c, d, dim), fontsize=9)
            ax.grid(alpha=0.3)
        row[0].set_ylabel("value")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def panel_title(c: ClipCurves, d: int, dim: str) -> str:
    """`clip: dimension, CCC raw x (smoothed y)` on the clip's valid frames (ABAW's CCC on this clip alone)."""
    from affect.metrics.ccc import ccc

    def score(pred: np.ndarray) -> str:
        ok = np.isfinite(c.label[:, d]) & np.isfinite(pred[:, d])
        if ok.sum() < 2:
            return "-"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant stretch: undefined, shown as nan
            return f"{float(ccc(pred[ok, d], c.label[ok, d])):.2f}"

    smoothed = f" (smoothed {score(c.smoothed)})" if c.smoothed is not None else ""
    return f"{c.clip}: {dim}, CCC {score(c.raw)}{smoothed}"


def plot_density(path: Path, pred: np.ndarray, label: np.ndarray, title: str, bins: int = 40) -> Path:
    """Side-by-side 2-D histograms (valence x, arousal y) of predictions and labels on their valid frames."""
    plt = _pyplot()
    ok = np.isfinite(label).all(axis=1) & np.isfinite(pred).all(axis=1)
    edges = np.linspace(-1, 1, bins + 1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), sharey=True, layout="constrained")
    for ax, (name, values) in zip(axes, (("predictions", pred[ok]), ("labels", label[ok]))):
        hist, _, _ = np.histogram2d(values[:, 0], values[:, 1], bins=[edges, edges])
        image = ax.imshow(np.log1p(hist.T), origin="lower", extent=(-1, 1, -1, 1), cmap="magma", aspect="equal")
        fig.colorbar(image, ax=ax, shrink=0.8, label="log(1 + frames per bin)")
        ax.axhline(0, color="white", lw=0.5)
        ax.axvline(0, color="white", lw=0.5)
        ax.set_title(f"{name} ({int(ok.sum())} frames)", fontsize=9)
        ax.set_xlabel("valence")
    axes[0].set_ylabel("arousal")
    fig.suptitle(f"{title} (log density)", fontsize=10)
    return _save(fig, path)
