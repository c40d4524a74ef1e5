"""The manifest of clips written by stage 00 and read by every later stage, and the clips it rejected.

`manifest.csv`: one row per usable clip. `rejected.csv`: one row per clip stage 00 left out
(REJECTED_COLUMNS: the clip, its split, the file at fault, the reason, and the frame count of
its video when the video could be read, else empty; `position`: how many of its split's manifest
clips came before it in stage 00's list, e.g. the test list), so that no later stage loses it.
`frame_times/<clip>.npy`: every frame's presentation time (s from the first frame) of a clip
whose video has a variable frame rate (`frame_clock` = "variable"); absent for the others.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

MANIFEST = "manifest.csv"
COLUMNS = [
    "clip", "video", "side", "split", "fold", "video_path", "label_path", "crops_dir",
    "fps", "video_frames", "label_frames", "frames", "duration", "has_audio", "audio_rate",
    "width", "height", "invalid_frames", "count_diff", "reconcile",
    "header_frames", "video_start", "audio_start", "frame_clock", "clock_offset_ms",
]
REJECTED = "rejected.csv"
REJECTED_COLUMNS = ["clip", "split", "video", "file", "reason", "video_frames", "position"]


def read_manifest(stage_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(stage_dir / MANIFEST, keep_default_na=False, na_values={"label_frames": [""], "count_diff": [""], "fold": [""]})
    for col in ("side", "label_path", "crops_dir"):
        table[col] = table[col].replace("", None)
    return table


def read_rejected(stage_dir: Path) -> pd.DataFrame:
    """The clips stage 00 left out (empty table when it left none out, or predates the file)."""
    path = stage_dir / REJECTED
    if not path.is_file():
        return pd.DataFrame(columns=REJECTED_COLUMNS)
    table = pd.read_csv(path, dtype={"clip": str, "split": str, "video": str, "file": str, "reason": str},
                        keep_default_na=False, na_values={"video_frames": [""], "position": [""]})
    for col in ("video_frames", "position"):
        table[col] = (table[col] if col in table else pd.Series(pd.NA, index=table.index)).astype("Int64")
    return table


def frame_times_path(stage_dir: Path, clip: str) -> Path:
    return stage_dir / "frame_times" / f"{clip}.npy"


def load_frame_centres(stage_dir: Path, clip: str, frames: int, fps: float) -> np.ndarray | None:
    """Real frame centres (s from the first frame) of a clip whose frame rate varies, from stage 00's
    `frame_times/<clip>.npy`; None for a constant rate, whose centres are (i + 0.5) / fps."""
    from affect.timegrid import frame_centres

    path = frame_times_path(stage_dir, clip)
    return frame_centres(np.load(path), fps, frames) if path.is_file() else None


def labels_path(stage_dir: Path, clip: str) -> Path:
    return stage_dir / "labels" / f"{clip}.npy"


def load_labels(stage_dir: Path, clip: str) -> np.ndarray:
    """[frames, 2] float32, NaN where invalid or where the label file had no line."""
    return np.load(labels_path(stage_dir, clip))


def resolve(root: str | Path, relative_path: str) -> Path:
    """A manifest path (relative to the corpus root, or absolute) as a usable path."""
    path = Path(relative_path)
    return path if path.is_absolute() else Path(root) / path
