"""The manifest of clips written by stage 00 and read by every later stage."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

MANIFEST = "manifest.csv"
COLUMNS = [
    "clip", "video", "side", "split", "fold", "video_path", "label_path", "crops_dir",
    "fps", "video_frames", "label_frames", "frames", "duration", "has_audio", "audio_rate",
    "width", "height", "invalid_frames", "count_diff", "reconcile",
]


def read_manifest(stage_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(stage_dir / MANIFEST, keep_default_na=False, na_values={"label_frames": [""], "count_diff": [""], "fold": [""]})
    for col in ("side", "label_path", "crops_dir"):
        table[col] = table[col].replace("", None)
    return table


def labels_path(stage_dir: Path, clip: str) -> Path:
    return stage_dir / "labels" / f"{clip}.npy"


def load_labels(stage_dir: Path, clip: str) -> np.ndarray:
    """[frames, 2] float32, NaN where invalid or where the label file had no line."""
    return np.load(labels_path(stage_dir, clip))


def resolve(root: str | Path, relative_path: str) -> Path:
    """A manifest path (relative to the corpus root, or absolute) as a usable path."""
    path = Path(relative_path)
    return path if path.is_absolute() else Path(root) / path
