"""What `affect infer` writes per video: the frame table, a plot of the VA trace, and the summary table.

`<name>.csv`: ``frame,time_s,valence,arousal,face`` (one row per decoded frame, frame 1-based,
time_s the frame's centre, in real time where the frame rate varies, face 1 where stage 01 found
the person's face, else 0: a frame without a face still gets a prediction, from the voice and the
context of the window).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affect.cache import atomic
from affect.report.frames import frame_table
from affect.report.submission import FLOAT_FORMAT

SUMMARY = "summary.csv"
SUMMARY_COLUMNS = ("video", "name", "side", "status", "frames", "fps", "duration_s", "face_frames", "audio",
                   "valence_mean", "arousal_mean", "seconds", "note")


def video_table(values: np.ndarray, fps: float, face: np.ndarray, centres: np.ndarray | None = None) -> pd.DataFrame:
    table = frame_table(values, fps, centres=centres)
    table["face"] = np.asarray(face, dtype=bool).astype(np.int8)
    return table


def write_video_csv(path: Path, table: pd.DataFrame) -> None:
    with atomic.atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format=FLOAT_FORMAT)


def plot_trace(path: Path, table: pd.DataFrame, title: str) -> Path:
    """Valence and arousal over time, frames without a face shaded."""
    from affect.report.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.2))
    t = table["time_s"].to_numpy()
    ax.plot(t, table["valence"], color="tab:blue", lw=1.2, label="valence")
    ax.plot(t, table["arousal"], color="tab:red", lw=1.2, label="arousal")
    no_face = table["face"].to_numpy() == 0
    if no_face.any():
        ax.fill_between(t, -1.05, 1.05, where=no_face, color="grey", alpha=0.2, lw=0, label="no face")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right", ncol=3)
    fig.tight_layout()
    return _save(fig, path)


def write_summary(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    extra = [k for r in rows for k in r if k not in SUMMARY_COLUMNS]  # seconds per stage...
    table = pd.DataFrame(list(rows), columns=list(dict.fromkeys([*SUMMARY_COLUMNS, *extra])))
    with atomic.atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Each video's file name without its extension; a name seen before gets `-2`, `-3`..."""
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        stem = p.stem
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out
