"""Stage 08's output, per model: how it is written and read back.

``<predict dir>/models.json``: {model: folder relative to the stage folder}; each model folder:
``raw.npz`` and ``final.npz`` (clip -> [frames, 2] float32; final = smoothed when smoothing
is on, else raw), ``frames/<clip>.csv`` (final), ``submission_<split>.csv``,
``smoothing.json``, ``info.json`` (members, clips, failures), and when smoothing is on
``heldout.npz``: the labelled validation clips smoothed with the windows chosen on the other
validation videos (affect.report.smoothing.held_out), what stage 09 scores as "smoothed" there.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affect.cache import atomic
from affect.report.smoothing import Smoothing

MODELS = "models.json"
HELD_OUT = "heldout.npz"


def folder_name(model: str) -> str:
    """A model name as one folder name ("unimodal/egemaps" -> "unimodal__egemaps")."""
    return model.replace("/", "__")


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with atomic.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{clip: np.asarray(v, dtype=np.float32) for clip, v in arrays.items()})


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {clip: data[clip] for clip in data.files}


@dataclass
class ModelOutput:
    """One model's predictions as stage 08 left them."""

    model: str
    folder: Path
    raw: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    smoothing: Smoothing
    info: dict
    held_out: dict[str, np.ndarray]  # validation clips, smoothed without seeing their own labels ({} if none)

    @property
    def smoothed(self) -> bool:
        return any(w > 0 for w in self.smoothing.window_s.values())


def load_model(model: str, folder: Path) -> ModelOutput:
    info = json.loads((folder / "info.json").read_text())
    held_out = load_arrays(folder / HELD_OUT) if (folder / HELD_OUT).is_file() else {}
    return ModelOutput(model, folder, load_arrays(folder / "raw.npz"), load_arrays(folder / "final.npz"),
                       Smoothing.load(folder / "smoothing.json"), info, held_out)


def read_models(predict_dir: Path) -> dict[str, Path]:
    """Model name -> its folder, from a finished stage 08 folder."""
    path = predict_dir / MODELS
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model index; is {predict_dir} a finished predict stage folder?")
    return {model: predict_dir / rel for model, rel in json.loads(path.read_text()).items()}
